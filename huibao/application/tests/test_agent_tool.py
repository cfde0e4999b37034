"""The agent's tool as an agent meets it (issue 9, polish): landing on it after logging in, the
back office linking to it, quotes picked from a list or typed as the short number customers see,
and the invitation's messages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pyotp
import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

from huibao.account.demo import totp_secret_base32
from huibao.account.services import create_staff_user, enrol_totp, sync_roles
from huibao.application.models import Application
from huibao.application.tests import factories as f
from huibao.application.tests.test_web import data_post, text_of
from huibao.application.web.flow import progress
from huibao.distribution.demo import DEMO_AGENT_USERNAME

pytestmark = pytest.mark.django_db
PASSWORD = "Sturdy-pass-2026"


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def staff_login(username: str, roles: list[str]) -> tuple[Client, Any, Any]:
    sync_roles()
    user = create_staff_user(username, PASSWORD, roles)
    device = enrol_totp(user)
    client = Client()
    token = pyotp.TOTP(totp_secret_base32(device)).now()
    response = client.post(
        reverse("account:staff_login"), {"username": username, "password": PASSWORD, "otp_token": token}
    )
    return client, user, response


def test_an_agent_lands_on_the_agent_tool_and_the_back_office_links_to_it() -> None:
    # when: an agent logs in
    agent, _user, response = staff_login("agent_wu", ["agent"])
    # then: straight to the agent tool, not to the admin
    assert response.status_code == 302 and response["Location"] == reverse("application:agent_home")
    agent_tool = reverse("application:agent_home")
    # and the back office's home and the admin both link to it, in Chinese
    home = text_of(agent.get(reverse("report:home")))
    assert f'href="{agent_tool}"' in home and "代理人投保" in home
    admin = text_of(agent.get(reverse("admin:index")))
    assert f'href="{agent_tool}"' in admin and "代理人投保" in admin
    # and the agent tool links back to the back office
    assert f'href="{reverse("report:home")}"' in text_of(agent.get(agent_tool))


def test_staff_without_the_agent_role_still_land_on_the_admin() -> None:
    _client, _user, response = staff_login("uw_zhou", ["underwriter"])
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")


def test_the_readme_tour_says_where_agents_and_other_staff_land_after_log_in() -> None:
    # given: the README tour's row of the staff log-in (where the demo log-ins are listed)
    readme = (Path(settings.BASE_DIR) / "README.md").read_text(encoding="utf-8")
    [row] = [line for line in readme.splitlines() if line.startswith("| `/account/staff/login/`")]
    said = re.search(
        r"agents \(demo log-in `(\w+)`\) land on the agent tool `([^`]+)`, other staff on `([^`]+)`", row
    )
    assert said is not None, row
    demo_login, agent_landing, staff_landing = said.groups()
    # then: it names the demo agent's log-in and the pages they really land on
    assert demo_login == DEMO_AGENT_USERNAME
    _c, _u, agent = staff_login("agent_tour", ["agent"])
    _c, _u, other = staff_login("uw_tour", ["underwriter"])
    assert agent["Location"] == agent_landing == reverse("application:agent_home")
    assert other["Location"] == staff_landing == reverse("admin:index")


def test_the_agent_picks_a_quote_from_their_list_by_its_short_number() -> None:
    # given: an agent who quoted twice, and a customer's quote they were told the number of
    agent, user, _ = staff_login("agent_wu", ["agent"])
    product = f.simple_product()
    mine = f.quote(product, user=user)
    other = f.quote(f.simple_product(code="other-accident"), user=user)
    customers = f.quote(product)
    # when: the agent opens the tool
    html = text_of(agent.get(reverse("application:agent_home")))
    # then: their quotes are listed by short number (no UUID to copy), newest first
    numbers = re.findall(r'data-testid="quote-option-number">([^<]+)<', html)
    assert numbers == [other.number, mine.number]
    assert str(mine.pk) not in re.sub(r'value="[^"]+"', "", html)
    # and the search narrows the list (by number here; product names also match)
    found = text_of(agent.get(reverse("application:agent_home"), {"q": (mine.number or "")[-6:].lower()}))
    assert re.findall(r'data-testid="quote-option-number">([^<]+)<', found) == [mine.number]
    # when: the agent ticks one of theirs and types the customer's number (lower case)
    response = agent.post(
        reverse("application:agent_home"), {"quote_id": [str(mine.pk), customers.number.lower()]}
    )
    # then: both are read (the same product twice is refused with its own message)
    assert response.status_code == 422 and "同一产品只需选择一次" in text_of(response)
    # when: the customer's number alone
    response = agent.post(reverse("application:agent_home"), {"quote_id": customers.number})
    app = Application.objects.get()
    assert response["Location"] == reverse("application:agent_edit", args=[app.public_id])
    assert [i.quote_id for i in app.items.all()] == [customers.pk]


def test_an_unknown_quote_number_is_refused_naming_it_and_nothing_starts() -> None:
    agent, _user, _ = staff_login("agent_wu", ["agent"])
    response = agent.post(reverse("application:agent_home"), {"quote_id": "Q20261203ZZZZZZ"})
    html = text_of(response)
    assert response.status_code == 422 and "报价编号“Q20261203ZZZZZZ”不存在" in html
    assert 'value="Q20261203ZZZZZZ"' in html and not Application.objects.exists()


def test_the_first_link_does_not_say_an_earlier_one_stopped_working() -> None:
    # given: an application the agent filled in
    agent, user, _ = staff_login("agent_wu", ["agent"])
    quote = f.quote(f.simple_product(), user=user)
    agent.post(reverse("application:agent_home"), {"quote_id": str(quote.pk)})
    app = Application.objects.get()
    edit = reverse("application:agent_edit", args=[app.public_id])
    agent.post(edit, data_post(applicant_id=f.resident_id(f.years_ago(40))))
    invite = reverse("application:agent_invite", args=[app.public_id])
    # when: the first link
    first = text_of(agent.post(invite, follow=True))
    # then: no word of an earlier link; a copy button for the link
    assert "邀请链接已生成" in first and "之前的链接已失效" not in first
    assert "data-copy-button" in first and "复制链接" in first and 'data-testid="invite-link"' in first
    # when: a second one
    second = text_of(agent.post(invite, follow=True))
    assert "之前的链接已失效" in second


def test_the_agent_tool_has_the_back_office_frame_not_the_customers() -> None:
    # given: an agent with an application started
    agent, user, _ = staff_login("agent_wu", ["agent"])
    quote = f.quote(f.simple_product(), user=user)
    agent.post(reverse("application:agent_home"), {"quote_id": str(quote.pk)})
    app = Application.objects.get()
    for url in (reverse("application:agent_home"), reverse("application:agent_edit", args=[app.public_id])):
        # when: a page of the tool
        html = text_of(agent.get(url))
        # then: the staff frame (汇保工作台, the sections the agent may open, 代理人投保 among them)
        assert 'data-testid="staff-nav"' in html and "汇保工作台" in html, url
        nav = html[
            html.index('data-testid="staff-nav"') : html.index(
                "</nav>", html.index('data-testid="staff-nav"')
            )
        ]
        assert (
            f'href="{reverse("application:agent_home")}"' in nav and f'href="{reverse("report:home")}"' in nav
        )
        # and none of the customer's: no tab bar, compare tray or marketplace footer
        assert 'class="tabbar"' not in html and 'id="compare-tray"' not in html, url
        assert 'data-testid="tab-me"' not in html and "site-footer" not in html, url
        # and still the application's styles
        assert "application/apply.css" in html and 'class="apply"' in html, url


def test_the_progress_bar_speaks_the_page_s_language() -> None:
    app = Application(status="draft")
    with translation.override("en"):
        labels = [str(s.label) for s in progress("data", app)]
    assert labels == [
        "Your details",
        "Real-name verification",
        "Review",
        "Read the terms",
        "Signature",
        "Pay",
    ]
    with translation.override("zh-hans"):
        assert str(progress("data", app)[0].label) == "填写信息"
