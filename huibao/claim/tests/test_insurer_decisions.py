"""The insurer's decision and payment, as signed notices: applied once with decide(); a payment
before the decision waits for it; "insurer paid" ends the claim paid with the insurer's payment
reference and no payout of Huibao's; Huibao pays for an insurer that asked it to; a denial with
its reason and clause; the customer's one timeline."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.utils import timezone

from huibao.claim import insurer
from huibao.claim.insurer_models import InsurerClaimDelivery, InsurerClaimNotice
from huibao.claim.insurer_states import ClaimDeliveryStatus as D
from huibao.claim.models import ClaimStatusChange
from huibao.claim.states import ClaimStatus
from huibao.claim.tests.factories import in_force, medical_policy
from huibao.claim.tests.insurer_factories import at, complete_claim, connector_mode, notice_of, signed_post
from huibao.payment.models import Payout
from huibao.policy.tests.factories import customer
from huibao.sandbox import insurer_claims

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.HUIBAO_INSURER_CLAIM_SANDBOX_DELAY = 60
    insurer_claims.CLAIM_FAULTS.force(0)


@pytest.fixture
def owner():
    return customer()


@pytest.fixture
def policy(owner):
    return in_force(medical_policy(owner))


def _sent(owner, policy, *, payer: str = "insurer", outcome: str = "approve", settings=None):
    settings.HUIBAO_INSURER_CLAIM_SANDBOX_OUTCOME = outcome
    connector_mode(policy, payer=payer)
    with at(policy, 130):
        claim = complete_claim(owner, policy)
    with at(policy, 130, 1):
        insurer.deliver_claim(InsurerClaimDelivery.objects.get(claim=claim).pk)
        insurer_claims.deliver_notice(notice_of(claim.number, "received").notify_id)
    claim.refresh_from_db()
    return claim


def _lines(claim) -> list[str]:
    return list(
        ClaimStatusChange.objects.filter(claim=claim).order_by("at", "id").values_list("line", flat=True)
    )


def test_an_approval_then_the_insurers_payment_end_the_claim_paid(settings, owner, policy) -> None:
    # given: sent and received; the insurer pays the customer itself
    claim = _sent(owner, policy, settings=settings)
    # when: the decision comes, then the payment
    with at(policy, 131):
        assert insurer_claims.deliver_notice(notice_of(claim.number, "decision").notify_id)
        claim.refresh_from_db()
        assert claim.status == ClaimStatus.APPROVED and claim.decision_kind == "approve"
        assert claim.approved_amount == Decimal("8600.00")
        assert insurer_claims.deliver_notice(notice_of(claim.number, "paid").notify_id)
    # then: paid with the insurer's reference, no payout by Huibao, one timeline
    claim.refresh_from_db()
    delivery = InsurerClaimDelivery.objects.get(claim=claim)
    assert claim.status == ClaimStatus.PAID and delivery.status == D.PAID
    assert delivery.payment_ref.startswith("SBP") and delivery.paid_amount == Decimal("8600.00")
    assert not Payout.objects.filter(reference__startswith=claim.number).exists()
    assert _lines(claim) == [
        "报案成功，请上传理赔材料",
        "材料已齐全，等待审核",
        "已转保险公司审核",
        "审核通过，即将赔付",
        "保险公司赔付中",
        "保险公司已赔付",
    ]
    paid = ClaimStatusChange.objects.filter(claim=claim, to_status="paid").get()
    assert delivery.payment_ref in paid.note


def test_a_decision_is_applied_once_whatever_comes_again(client, settings, owner, policy) -> None:
    # given: the decision taken
    claim = _sent(owner, policy, settings=settings)
    decision = notice_of(claim.number, "decision")
    with at(policy, 131):
        insurer_claims.deliver_notice(decision.notify_id)
        changes = ClaimStatusChange.objects.filter(claim=claim).count()
        # when: the same notice again, and another (signed) decision with a new id
        same = signed_post(client, json.loads(decision.notify_body), now=timezone.now())
        other = {**json.loads(decision.notify_body), "notify_id": "Canother", "decision": "deny"}
        second = signed_post(client, other, now=timezone.now())
    # then: both acknowledged, nothing changed twice
    assert same.status_code == 200 and second.status_code == 200
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.APPROVED and claim.decision_kind == "approve"
    assert ClaimStatusChange.objects.filter(claim=claim).count() == changes
    assert InsurerClaimNotice.objects.get(notify_id="Canother").outcome == "stale"


def test_a_payment_before_its_decision_waits_for_it(settings, owner, policy) -> None:
    # given
    claim = _sent(owner, policy, settings=settings)
    with at(policy, 131):
        # when: the payment arrives first (out of order)
        assert insurer_claims.deliver_notice(notice_of(claim.number, "paid").notify_id)
        claim.refresh_from_db()
        # then: kept, nothing moved
        assert claim.status == ClaimStatus.UNDER_REVIEW
        assert InsurerClaimNotice.objects.get(kind="paid").outcome == "deferred"
        # when: the decision arrives
        assert insurer_claims.deliver_notice(notice_of(claim.number, "decision").notify_id)
    # then: decided, then paid from the kept notice
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PAID
    assert InsurerClaimNotice.objects.get(kind="paid").outcome == "applied"


def test_huibao_pays_for_an_insurer_that_asked_it_to(settings, owner, policy) -> None:
    # given: payer = platform (the insurer sends no payment notice)
    claim = _sent(owner, policy, payer="platform", settings=settings)
    assert [n.kind for n in insurer_claims.owed_notices(claim.number)] == ["received", "decision"]
    assert "account" not in insurer_claims.received_claim(claim.number)["payee"]
    # when
    with at(policy, 131):
        insurer_claims.deliver_notice(notice_of(claim.number, "decision").notify_id)
    # then: approved and paying through Huibao's payout
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PAYING
    assert Payout.objects.filter(reference=claim.number, amount=Decimal("8600.00")).exists()


def test_a_partial_payment_and_a_denial_carry_the_reason_and_clause(settings, owner, policy) -> None:
    # given: the insurer pays 60 %
    claim = _sent(owner, policy, outcome="partial", settings=settings)
    # when
    with at(policy, 131):
        insurer_claims.deliver_notice(notice_of(claim.number, "decision").notify_id)
    # then
    claim.refresh_from_db()
    assert claim.decision_kind == "partial" and claim.approved_amount == Decimal("5160.00")
    assert claim.reason_code == "uncovered_expenses" and claim.clause == "第四条"


def test_a_denial_from_the_insurer(settings, owner, policy) -> None:
    # given
    claim = _sent(owner, policy, outcome="deny", settings=settings)
    assert [n.kind for n in insurer_claims.owed_notices(claim.number)] == ["received", "decision"]
    # when
    with at(policy, 131):
        insurer_claims.deliver_notice(notice_of(claim.number, "decision").notify_id)
    # then
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.DENIED and claim.reason_code == "not_covered"
    assert claim.clause == "第五条第（二）款"
    assert InsurerClaimDelivery.objects.get(claim=claim).status == D.DECIDED


def test_a_slow_insurer_decides_after_40_days(settings, owner, policy) -> None:
    # given
    claim = _sent(owner, policy, outcome="slow", settings=settings)
    decision = notice_of(claim.number, "decision")
    # then: not due before 40 days
    assert (decision.next_attempt_at - claim.materials_complete_at).days >= 39


def test_a_decision_decide_refuses_is_not_taken_and_staff_see_why(client, settings, owner, policy) -> None:
    # given: received
    claim = _sent(owner, policy, settings=settings)
    delivery = InsurerClaimDelivery.objects.get(claim=claim)
    body = {
        "notify_id": "Ctoomuch",
        "kind": "decision",
        "claim_number": claim.number,
        "ref": delivery.insurer_ref,
        "decision": "partial",
        "amount": "99999.00",
        "reason_code": "other",
    }
    # when: a partial payment above the benefit
    with at(policy, 131):
        response = signed_post(client, body, now=timezone.now())
    # then: 422 in the error shape, nothing decided, the reason on the delivery
    assert response.status_code == 422 and response.json()["code"] == "amount_above_benefit"
    claim.refresh_from_db()
    delivery.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_REVIEW and claim.decision_kind == ""
    assert "amount_above_benefit" in delivery.last_error
    assert not InsurerClaimNotice.objects.filter(notify_id="Ctoomuch").exists()


def test_notices_count_when_our_send_seemed_to_fail(settings, owner, policy) -> None:
    # given: the insurer has the claim, but our side recorded the send as failed (a lost answer)
    claim = _sent(owner, policy, settings=settings)
    InsurerClaimDelivery.objects.filter(claim=claim).update(status=D.FAILED)
    # when
    with at(policy, 131):
        assert insurer_claims.deliver_notice(notice_of(claim.number, "decision").notify_id)
    # then
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.APPROVED
    assert InsurerClaimDelivery.objects.get(claim=claim).status == D.DECIDED
