"""The claim decision: approve, partial, deny, four eyes (never the same adjuster), the payout
and its hooks (paid, given up → benefit released, retry), bad input changing nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction

from huibao.claim import limits
from huibao.claim.decisions import (
    Decision,
    confirm_approval,
    decide,
    pending_approval,
    reject_approval,
    retry_payment,
)
from huibao.claim.lifecycle import lock_claim, transition
from huibao.claim.models import ApprovalStatus, BenefitEntry, Claim, ClaimStatusChange, InsurerClaimSettings
from huibao.claim.states import ClaimStatus, DecisionKind
from huibao.claim.tests.adjud_factories import adjuster, bank_result, complete_claim, payout_of, under_review
from huibao.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from huibao.core.models import AuditEntry
from huibao.notification.models import OutboxMessage
from huibao.payment.states import PayoutStatus
from huibao.payment.tests.payout_factories import GOOD_ACCOUNT, NOT_FOUND_ACCOUNT

pytestmark = pytest.mark.django_db

APPROVE = Decision(DecisionKind.APPROVE)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def claim() -> Claim:
    return under_review(complete_claim())


@pytest.fixture
def alice():
    return adjuster("alice")


@pytest.fixture
def bob():
    return adjuster("bob")


def _steps(claim: Claim) -> list[str]:
    return list(
        ClaimStatusChange.objects.filter(claim=claim).order_by("id").values_list("to_status", flat=True)
    )


def _paid_in_year(claim: Claim) -> Decimal:
    return limits.usage_for(claim.policy, "general_medical", claim.incident_date).paid


def test_approve_records_the_benefit_explains_it_and_requests_the_payout(claim, alice):
    # when
    decided = decide(claim, APPROVE, actor=alice)
    # then
    assert decided.status == ClaimStatus.PAYING
    assert decided.decision_kind == DecisionKind.APPROVE and decided.approved_amount == Decimal("8600.00")
    assert decided.decided_by == alice and decided.decided_at is not None and not decided.auto_decided
    lines = decided.benefit["coverages"][0]["lines"]
    assert lines[0]["label"] == "费用合计" and lines[-1] == {
        "label": "应赔付金额",
        "amount": "8600.00",
        "note": "",
    }
    assert _paid_in_year(claim) == Decimal("8600.00")
    payout = payout_of(claim)
    assert (payout.reference, payout.amount, payout.account_last4) == (
        claim.number,
        Decimal("8600.00"),
        "5679",
    )
    assert _steps(claim)[-2:] == ["approved", "paying"]
    assert AuditEntry.objects.filter(object_id=claim.number, action="claim.approved").exists()
    assert OutboxMessage.objects.filter(reference=claim.number).count() >= 4


def test_the_bank_result_moves_the_claim_to_paid(claim, alice):
    # given
    decide(claim, APPROVE, actor=alice)
    # when
    payout = bank_result(claim)
    # then
    claim.refresh_from_db()
    assert payout.status == PayoutStatus.SUCCEEDED
    assert claim.status == ClaimStatus.PAID and claim.paid_at is not None
    assert _steps(claim)[-1] == "paid"


def test_partial_approval_pays_the_amount_with_the_reason_and_caps_the_ledger(claim, alice):
    # when
    decision = Decision(
        DecisionKind.PARTIAL,
        reason_code="uncovered_expenses",
        clause="第五条",
        note="自费药品不予赔付",
        amount=Decimal("6000.00"),
    )
    decided = decide(claim, decision, actor=alice)
    # then
    assert decided.status == ClaimStatus.PAYING and decided.approved_amount == Decimal("6000.00")
    assert decided.reason_code == "uncovered_expenses" and decided.clause == "第五条"
    lines = decided.benefit["coverages"][0]["lines"]
    assert [x["label"] for x in lines[-2:]] == ["理赔核定金额", "应赔付金额"] and lines[-1][
        "amount"
    ] == "6000.00"
    assert _paid_in_year(claim) == Decimal("6000.00")
    assert payout_of(claim).amount == Decimal("6000.00")
    approved = ClaimStatusChange.objects.get(claim=claim, to_status="approved")
    assert (
        "部分费用不属于保障范围" in approved.note
        and "第五条" in approved.note
        and "自费药品" in approved.note
    )


def test_deny_records_the_reason_and_clause_for_the_customer_and_pays_nothing(claim, alice):
    # when
    decision = Decision(DecisionKind.DENY, reason_code="non_disclosure", clause="第十条", note="投保前已确诊")
    decided = decide(claim, decision, actor=alice)
    # then
    assert decided.status == ClaimStatus.DENIED and decided.approved_amount is None
    denied = ClaimStatusChange.objects.get(claim=claim, to_status="denied")
    assert denied.note == "投保时未如实告知，依据第十条。投保前已确诊"
    assert payout_of(claim) is None and _paid_in_year(claim) == Decimal("0")
    assert decided.benefit["payable"] == "8600.00"  # the explanation of what was refused


@pytest.mark.parametrize(
    ("decision", "field", "code"),
    [
        (Decision(DecisionKind.DENY), "reason_code", "reason_required"),
        (Decision(DecisionKind.PARTIAL, amount=Decimal("100")), "reason_code", "reason_required"),
        (
            Decision(DecisionKind.PARTIAL, reason_code="other", amount=Decimal("0")),
            "amount",
            "amount_invalid",
        ),
        (
            Decision(DecisionKind.PARTIAL, reason_code="other", amount=Decimal("-1")),
            "amount",
            "amount_invalid",
        ),
        (
            Decision(DecisionKind.PARTIAL, reason_code="other", amount=Decimal("1.234")),
            "amount",
            "amount_invalid",
        ),
        (Decision(DecisionKind.PARTIAL, reason_code="other"), "amount", "amount_invalid"),
        (
            Decision(DecisionKind.PARTIAL, reason_code="other", amount=Decimal("8600.01")),
            "amount",
            "amount_above_benefit",
        ),
        (Decision(DecisionKind.DENY, reason_code="nonsense"), "reason_code", "reason_invalid"),
        (Decision(DecisionKind.APPROVE, amount=Decimal("5")), "amount", "amount_not_allowed"),
        (Decision("maybe"), "kind", "kind_invalid"),  # type: ignore[arg-type]
    ],
)
def test_bad_decisions_name_the_field_and_change_nothing(claim, alice, decision, field, code):
    # given
    before = (_steps(claim), AuditEntry.objects.count())
    # when
    with pytest.raises(ValidationFailed) as exc:
        decide(claim, decision, actor=alice)
    # then
    assert {e.field: e.code for e in exc.value.errors} == {field: code}
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_REVIEW and claim.decision_kind == "" and claim.benefit == {}
    assert (_steps(claim), AuditEntry.objects.count()) == before
    assert not BenefitEntry.objects.filter(reference=claim.number).exists() and payout_of(claim) is None


def test_a_decided_claim_cannot_be_decided_again(claim, alice):
    # given
    decide(claim, APPROVE, actor=alice)
    # when / then
    with pytest.raises(Conflict):
        decide(claim, Decision(DecisionKind.DENY, reason_code="other"), actor=alice)
    assert _paid_in_year(claim) == Decimal("8600.00")


def test_four_eyes_above_the_insurer_amount_waits_then_another_adjuster_confirms(claim, alice, bob):
    # given
    InsurerClaimSettings.objects.create(insurer=claim.insurer, four_eyes_amount=Decimal("5000"))
    # when
    decided = decide(claim, APPROVE, actor=alice)
    # then: nothing paid, the limit reserved, the claim still under review
    assert decided.status == ClaimStatus.UNDER_REVIEW and decided.approved_amount is None
    assert payout_of(claim) is None and _paid_in_year(claim) == Decimal("8600.00")
    approval = pending_approval(decided)
    assert approval is not None and approval.amount == Decimal("8600.00") and approval.proposed_by == alice
    # the same adjuster cannot confirm their own approval
    with pytest.raises(PermissionDenied) as exc:
        confirm_approval(claim, actor=alice)
    assert exc.value.code == "same_adjuster"
    # nor can anyone decide again while it waits
    with pytest.raises(Conflict):
        decide(claim, APPROVE, actor=bob)
    # when: another adjuster confirms
    confirmed = confirm_approval(claim, actor=bob, note="复核无误")
    # then
    assert confirmed.status == ClaimStatus.PAYING and confirmed.approved_amount == Decimal("8600.00")
    assert confirmed.decided_by == alice
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.CONFIRMED and approval.reviewed_by == bob
    assert payout_of(claim).amount == Decimal("8600.00") and _paid_in_year(claim) == Decimal("8600.00")


def test_an_adjusters_own_approval_limit_asks_for_a_second_with_enough_authority(claim, bob):
    # given: a junior adjuster may approve up to 2,000 alone; carol's limit is 5,000
    junior = adjuster("junior", approval_limit=Decimal("2000"))
    carol = adjuster("carol", approval_limit=Decimal("5000"))
    decide(claim, APPROVE, actor=junior)
    # when / then: carol's own limit does not reach 8,600
    with pytest.raises(PermissionDenied) as exc:
        confirm_approval(claim, actor=carol)
    assert exc.value.code == "over_approval_limit"
    assert confirm_approval(claim, actor=bob).status == ClaimStatus.PAYING


def test_four_eyes_rejection_releases_the_benefit_and_allows_a_new_decision(claim, alice, bob):
    # given
    InsurerClaimSettings.objects.create(insurer=claim.insurer, four_eyes_amount=Decimal("5000"))
    decide(claim, APPROVE, actor=alice)
    # when
    with pytest.raises(ValidationFailed):
        reject_approval(claim, actor=bob, note="")
    rejected = reject_approval(claim, actor=bob, note="发票金额与清单不符")
    # then
    assert rejected.status == ClaimStatus.UNDER_REVIEW and pending_approval(rejected) is None
    assert _paid_in_year(claim) == Decimal("0")
    # and a new, smaller decision goes through alone
    again = decide(
        claim, Decision(DecisionKind.PARTIAL, reason_code="other", amount=Decimal("4000")), actor=alice
    )
    assert again.status == ClaimStatus.PAYING and _paid_in_year(claim) == Decimal("4000.00")


def test_the_versions_four_eyes_amount_applies_too(alice):
    # given
    from huibao.claim.tests.factories import CLAIMS_DOC, in_force, medical_policy
    from huibao.policy.tests.factories import customer

    policy = in_force(medical_policy(customer(), claims={**CLAIMS_DOC, "four_eyes_amount": "1000"}))
    claim = under_review(complete_claim(policy))
    # when
    decided = decide(claim, APPROVE, actor=alice)
    # then
    assert decided.status == ClaimStatus.UNDER_REVIEW and pending_approval(decided) is not None


def test_a_payout_given_up_releases_the_benefit_and_a_retry_pays_again(alice):
    # given: the bank does not know the account
    claim = under_review(complete_claim(payee_account=NOT_FOUND_ACCOUNT))
    decide(claim, APPROVE, actor=alice)
    # when
    payout = bank_result(claim)
    # then
    claim.refresh_from_db()
    assert payout.status == PayoutStatus.GIVEN_UP
    assert claim.status == ClaimStatus.PAYMENT_FAILED and _paid_in_year(claim) == Decimal("0")
    failed = ClaimStatusChange.objects.get(claim=claim, to_status="payment_failed")
    assert "账户不存在" in failed.note
    # a corrected account that is not a card number is refused, nothing changed
    with pytest.raises(ValidationFailed) as exc:
        retry_payment(claim, actor=alice, payee_account="6222020200112345671")
    assert exc.value.errors[0].field == "payee_account"
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PAYMENT_FAILED and _paid_in_year(claim) == Decimal("0")
    # when: the back office pays again, to the corrected account
    retried = retry_payment(claim, actor=alice, payee_account=GOOD_ACCOUNT)
    # then: recorded again, a new payout under a new reference, to the new account
    assert retried.status == ClaimStatus.PAYING and _paid_in_year(claim) == Decimal("8600.00")
    again = payout_of(claim)
    assert again.reference == f"{claim.number}-2" and again.account_last4 == GOOD_ACCOUNT[-4:]
    assert retried.payee_account == GOOD_ACCOUNT
    assert bank_result(claim).status == PayoutStatus.SUCCEEDED
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PAID


def test_system_decisions_from_complete_materials_are_marked_automatic():
    # given / when: a small claim's complete materials are triaged, and the fast track decides
    # it by calling decide(..., actor="system", auto=True)
    decided = complete_claim(amount_claimed=Decimal("800.00"))
    # then
    assert decided.status == ClaimStatus.PAYING and decided.auto_decided and decided.decided_by is None
    with pytest.raises(Conflict):
        decide(decided, APPROVE, actor="system", auto=True)


def test_an_insurers_adjuster_cannot_decide_another_insurers_claim(claim):
    # given
    from huibao.catalog.models import Insurer

    other = Insurer.objects.exclude(pk=claim.insurer_id).first() or Insurer.objects.create(
        code="other-ins", name="另一家保险公司", short_name="另一家", kind="property"
    )
    outsider = adjuster("outsider", insurer=other)
    own = adjuster("own", insurer=claim.insurer)
    # when / then
    with pytest.raises(NotFound):
        decide(claim, APPROVE, actor=outsider)
    assert decide(claim, APPROVE, actor=own).status == ClaimStatus.PAYING


def test_a_user_without_a_desk_cannot_decide(claim):
    # given
    from huibao.policy.tests.factories import customer

    # when / then
    with pytest.raises(PermissionDenied):
        decide(claim, APPROVE, actor=customer())
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_REVIEW


def test_an_insurer_connector_decision_skips_the_platforms_four_eyes(claim):
    # given
    InsurerClaimSettings.objects.create(insurer=claim.insurer, four_eyes_amount=Decimal("5000"))
    # when
    decided = decide(claim, APPROVE, actor="insurer:test")
    # then
    assert decided.status == ClaimStatus.PAYING


def test_decide_inside_a_callers_transaction_rolls_back_only_itself(claim, alice):
    # given
    with transaction.atomic():
        with pytest.raises(ValidationFailed):
            decide(
                claim,
                Decision(DecisionKind.PARTIAL, reason_code="other", amount=Decimal("9999")),
                actor=alice,
            )
        # when: the caller goes on in the same transaction
        locked = lock_claim(claim.public_id)
        transition(locked, ClaimStatus.INFO_REQUESTED, actor=alice, note="请补充费用清单")
    # then
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.INFO_REQUESTED and _paid_in_year(claim) == Decimal("0")
