"""The back-office claim figures: share decided by the system, report → paid and complete →
decided per product and week; the page and the API for claims adjusters and finance only."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from huibao.account.models import User, UserKind
from huibao.claim import figures
from huibao.claim.decisions import Decision, decide
from huibao.claim.models import Claim
from huibao.claim.states import DecisionKind
from huibao.claim.tests.adjud_factories import adjuster, at, bank_result, complete_claim
from huibao.claim.tests.factories import in_force, medical_policy, start_of
from huibao.fraud.tests.factories import staff_client
from huibao.policy.tests.factories import customer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def decided() -> tuple[Claim, Claim]:
    """One claim fast-tracked and paid on day 130, one decided by an adjuster two days after."""
    policy = in_force(medical_policy(customer()))
    fast = complete_claim(policy, amount_claimed=Decimal("800.00"))
    with at(policy, 130):
        bank_result(fast)
    slow = complete_claim(amount_claimed=Decimal("8600.00"))
    with at(slow.policy, 132):
        decide(slow, Decision(DecisionKind.APPROVE), actor=adjuster("alice"))
    return fast, slow


def _window(claim: Claim) -> tuple[datetime.date, datetime.date]:
    day = start_of(claim.policy) + datetime.timedelta(days=130)
    return day - datetime.timedelta(days=7), day + datetime.timedelta(days=7)


def test_the_figures_count_the_share_decided_automatically_and_the_times(decided):
    # given
    fast, slow = decided
    since, until = _window(fast)
    # when
    found = figures.claim_figures(since=since, until=until)
    # then
    assert found.total.decided == 2 and found.total.auto_decided == 1 and found.total.auto_share == 0.5
    fast.refresh_from_db()
    assert found.total.report_to_paid.count == 1  # only the fast one is paid
    assert found.total.report_to_paid.p50 == (fast.paid_at - fast.reported_at).total_seconds()
    assert found.total.complete_to_decided.count == 2
    # the adjuster decided two days after the materials were complete; the system at once
    assert found.total.complete_to_decided.p90 > 86400 > found.total.complete_to_decided.p50 / 2
    assert {r.product_code for r in found.products} == {
        fast.policy.product_version.product.code,
        slow.policy.product_version.product.code,
    }
    assert all(r.week is not None and r.week.weekday() == 0 for r in found.rows)
    # a window before the claims holds nothing
    empty = figures.claim_figures(since=since - datetime.timedelta(days=60), until=since)
    assert empty.total.decided == 0 and empty.total.auto_share is None and not empty.rows


def test_the_api_answers_claims_adjusters_and_finance_only(client, decided):
    # given
    api = "/api/v1/claim-figures?weeks=53"
    # when / then: a customer and customer service are refused
    buyer = User.objects.create_user(username="13800000009", password="x-unused-123", kind=UserKind.CUSTOMER)
    client.force_login(buyer)
    refused = client.get(api)
    assert refused.status_code == 403 and refused.json()["code"] == "staff_only"
    service = staff_client(client, "customer_service", username="cs")
    assert service.get(api).json()["code"] == "not_allowed"
    assert service.get("/claims/figures/").status_code == 403
    # finance reads the figures
    money = staff_client(client, "finance", username="fin")
    body = money.get(api).json()
    assert set(body) == {"since", "until", "total", "products", "weeks"}
    bad = money.get("/api/v1/claim-figures?weeks=0")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"].endswith("weeks")


def test_the_page_shows_the_figures_to_an_adjuster(client, decided):
    # given
    fast, _slow = decided
    # when: a week after the decisions
    with at(fast.policy, 137):
        adjusting = staff_client(client, "claims_adjuster", username="adj")
        page = adjusting.get("/claims/figures/?weeks=4").content.decode()
    # then
    assert 'data-testid="figures-total"' in page and "理赔时效与自动审核" in page
    assert '<dd data-testid="total-decided">2</dd>' in page
    assert '<dd data-testid="total-auto-share">50.0%</dd>' in page
    assert fast.policy.product_version.product.name in page
