"""The 我的 page: the customer's own policies and applications still to finish, each a link to
its page, nobody else's; the log-in state, messages, settings and log-out."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from huibao.account.me import MeSection, me_sections, sections_for
from huibao.application.services.start import start_application
from huibao.application.tests import factories as af
from huibao.policy.tests import factories as pf

pytestmark = pytest.mark.django_db


def test_the_me_page_lists_my_policies_and_open_applications_and_nobody_elses() -> None:
    # given: a customer with a policy and a draft, and someone else with a policy
    me = pf.customer("13900001234")
    mine = pf.simple_issued(me)
    theirs = pf.simple_issued(pf.customer("13900004321"))
    draft = start_application(quote_ids=[af.quote(af.simple_product(), me).pk], user=me)
    client = Client()
    client.force_login(me)
    # when: they open 我的
    html = client.get(reverse("account:me")).content.decode()
    # then: their policy and draft, each one tap from here; the rest of the page
    assert reverse("policy:detail", args=[mine.public_id]) in html and mine.number in html
    assert theirs.number not in html and str(theirs.public_id) not in html
    assert reverse("application:detail", args=[draft.public_id]) in html and draft.number in html
    assert "已登录：139****1234" in html
    for part in ("我的保单", "我的投保单", "我的消息", "消息设置", "适老模式", "退出登录"):
        assert part in html, part
    assert reverse("policy:mine") in html and reverse("application:mine") in html


def test_the_sections_come_from_the_domains_in_their_order() -> None:
    # given: the domains' listeners (registered in their AppConfig.ready())
    me = pf.customer()
    # when / then: policies first, then applications
    assert [s.key for s in sections_for(me)] == ["policies", "applications"]

    # and a listener answering None adds nothing
    def nothing(user: object) -> MeSection | None:
        return None

    me_sections.register(nothing)
    try:
        assert [s.key for s in sections_for(me)] == ["policies", "applications"]
    finally:
        me_sections.unregister(nothing)


def test_every_page_has_the_me_tab_and_the_header_says_whether_one_is_logged_in(client: Client) -> None:
    # given / when: a visitor
    html = client.get("/").content.decode()
    # then: the 我的 tab and the header's 登录
    assert 'data-testid="tab-me"' in html and 'data-testid="login-link"' in html
    # when: logged in, the header says 我的
    client.force_login(pf.customer())
    html = client.get("/products/").content.decode()
    assert 'data-testid="tab-me"' in html and 'data-testid="me-link"' in html
    assert 'data-testid="login-link"' not in html
