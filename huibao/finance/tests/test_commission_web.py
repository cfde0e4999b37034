"""The commission pages and API: finance edits and publishes, operators read, a policy's entries
explained in words, the margin page, the error shape of a refused publication."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from huibao.account.models import User, UserKind
from huibao.catalog.models import LineOfBusiness
from huibao.finance.commission_models import CommissionPlanVersion
from huibao.finance.tests import commission_factories as cf
from huibao.policy.tests import factories as f

pytestmark = pytest.mark.django_db


def staff(username: str, *perms: str) -> User:
    user = User.objects.create_user(
        username=username, password="x-unused-123", kind=UserKind.STAFF, is_staff=True
    )
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="finance", codename__in=[p.split(".")[1] for p in perms]
        )
    )
    return User.objects.get(pk=user.pk)


FINANCE = ("finance.view_commissionplan", "finance.change_commissionplan", "finance.view_commissionentry")
OPERATOR = ("finance.view_commissionplan", "finance.view_commissionentry")


@pytest.fixture
def world():
    h = cf.hierarchy()
    version = f.product_version(name="汇保意外险", line=LineOfBusiness.ACCIDENT)
    cf.plan("in-acc", [{"line": "accident", "rate": "0.30"}], insurer=version.product.insurer)
    cf.plan("out-agent", [{"line": "accident", "rate": "0.15"}], unit=h.agent)
    policy = cf.issued(version, seller=h.agent, premium="1060.00")
    return h, version, policy


def test_a_policys_entries_are_explained_in_words_and_the_holder_masked(world) -> None:
    _, _, policy = world
    client = f.staff_login(Client(), staff("fin", *FINANCE))
    page = client.get(f"/finance/commissions/policy/{policy.number}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "净保费1000.00元" in text and "费率30%" in text
    assert 'data-testid="inbound-total">¥300.00' in text and 'data-testid="margin-total">¥150.00' in text
    assert policy.holder_name not in text


def test_the_margin_page_shows_inbound_outbound_and_margin(world) -> None:
    _, version, _ = world
    client = f.staff_login(Client(), staff("op", *OPERATOR))
    page = client.get("/finance/margins/")
    assert page.status_code == 200
    row = (
        page.content.decode()
        .split(f'data-product="{version.product.code}" data-seller="A0001"')[1]
        .split("</tr>")[0]
    )
    assert "30%" in row and "15%" in row


def test_finance_publishes_through_the_page_operators_only_read(world) -> None:
    h, _, _ = world
    draft = cf.plan("out-team", [], unit=h.team, publish=False)
    operator = f.staff_login(Client(), staff("op", *OPERATOR))
    assert operator.get("/finance/commission-plans/").status_code == 200
    assert operator.post(f"/finance/commission-plans/out-team/v{draft.number}/publish/").status_code == 403
    finance = f.staff_login(Client(), staff("fin", *FINANCE))
    # a rule that breaks the margin: 15% + 20% > 30%
    finance.post(
        "/finance/commission-plans/out-team/v1/rules/",
        {"line": "accident", "rate": "0.20", "year": "1", "basis": "rate"},
    )
    refused = finance.post("/finance/commission-plans/out-team/v1/publish/")
    assert refused.status_code == 422 and "超过应收手续费30%" in refused.content.decode()
    CommissionPlanVersion.objects.get(pk=draft.pk).rules.all().delete()
    finance.post(
        "/finance/commission-plans/out-team/v1/rules/",
        {"line": "accident", "rate": "0.05", "year": "1", "basis": "rate"},
    )
    assert finance.post("/finance/commission-plans/out-team/v1/publish/").status_code == 302
    assert CommissionPlanVersion.objects.get(pk=draft.pk).status == "published"


def test_the_api_answers_the_error_shape_naming_the_field(world) -> None:
    h, _, policy = world
    cf.plan("out-team", [], unit=h.team, publish=False)
    client = f.staff_login(Client(), staff("fin", *FINANCE))
    bad = client.post(
        "/api/v1/commission-plans/out-team/versions/1/rules",
        {"line": "accident", "rate": "1.5"},
        content_type="application/json",
    )
    assert bad.status_code == 422
    body = bad.json()
    assert body["errors"][0]["field"] == "rate" and body["code"] and body["message"]
    ok = client.post(
        "/api/v1/commission-plans/out-team/versions/1/rules",
        {"line": "accident", "rate": "0.20"},
        content_type="application/json",
    )
    assert ok.status_code == 201
    refused = client.post("/api/v1/commission-plans/out-team/versions/1/publish")
    assert refused.status_code == 422 and refused.json()["code"] == "margin"
    assert refused.json()["errors"][0]["field"] == "rules"
    entries = client.get(f"/api/v1/commissions/policy/{policy.number}").json()
    assert {e["amount"] for e in entries} == {"300.00", "150.00"}
    plans = client.get("/api/v1/commission-plans").json()
    assert {p["code"]: p["version_in_force"] for p in plans}["in-acc"] == 1
