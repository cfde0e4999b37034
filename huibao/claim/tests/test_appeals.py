"""Appeals: the customer appeals a denial or a partial payment; a senior adjuster who did not
decide handles it; upheld → the benefit released and decided anew (only the difference paid);
dismissed → closed; all on the timeline."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

from huibao.claim import limits
from huibao.claim.decisions import Decision, decide
from huibao.claim.models import AppealStatus, ClaimStatusChange
from huibao.claim.services import upload_material
from huibao.claim.services.appeals import dismiss_appeal, file_appeal, uphold_appeal
from huibao.claim.states import ClaimStatus, DecisionKind
from huibao.claim.tests.adjud_factories import adjuster, bank_result, complete_claim, payout_of, under_review
from huibao.claim.tests.factories import jpeg
from huibao.core.errors import Conflict, PermissionDenied, ValidationFailed
from huibao.core.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def alice():
    return adjuster("alice", senior=True)


@pytest.fixture
def senior():
    return adjuster("senior", senior=True)


def _paid_in_year(claim) -> Decimal:
    return limits.usage_for(claim.policy, "general_medical", claim.incident_date).paid


def test_a_denial_appealed_goes_to_a_senior_who_did_not_decide_and_is_upheld_then_paid(alice, senior):
    # given: alice (senior) denied the claim
    claim = under_review(complete_claim())
    decide(claim, Decision(DecisionKind.DENY, reason_code="insufficient_evidence"), actor=alice)
    owner = claim.claimant
    # bad input changes nothing
    with pytest.raises(ValidationFailed) as exc:
        file_appeal(owner, claim.public_id, reason=" ")
    assert exc.value.errors[0].field == "reason"
    # when
    appeal = file_appeal(owner, claim.public_id, reason="已补充住院病历")
    upload_material(owner, claim.public_id, kind="discharge_summary", file=io.BytesIO(jpeg("white")))
    # then: it goes to the other senior
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.APPEALED and appeal.assigned_to == senior
    assert appeal.decision["kind"] == "deny" and appeal.decision["decided_by"] == alice.pk
    # the adjuster who decided cannot handle it; a junior neither
    with pytest.raises(PermissionDenied) as same:
        uphold_appeal(claim, actor=alice, note="同意")
    assert same.value.code == "same_adjuster"
    with pytest.raises(PermissionDenied):
        uphold_appeal(claim, actor=adjuster("junior"), note="同意")
    # when
    upheld = uphold_appeal(claim, actor=senior, note="新材料证明住院属实")
    # then
    assert upheld.status == ClaimStatus.UNDER_REVIEW and upheld.assigned_to == senior
    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.UPHELD and appeal.decided_by == senior
    # the re-decision pays
    paid = decide(upheld, Decision(DecisionKind.APPROVE), actor=senior)
    assert paid.status == ClaimStatus.PAYING and paid.approved_amount == Decimal("8600.00")
    lines = list(
        ClaimStatusChange.objects.filter(claim=claim).order_by("id").values_list("to_status", flat=True)
    )
    assert lines[-5:] == ["denied", "appealed", "under_review", "approved", "paying"]
    assert AuditEntry.objects.filter(object_id=claim.number, action="claim.appeal_upheld").exists()


def test_a_partial_payment_appealed_and_upheld_releases_the_benefit_and_pays_the_difference(alice, senior):
    # given: paid 6,000 of 8,600
    claim = under_review(complete_claim())
    decide(claim, Decision(DecisionKind.PARTIAL, reason_code="other", amount=Decimal("6000")), actor=alice)
    bank_result(claim)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PAID and _paid_in_year(claim) == Decimal("6000.00")
    # when
    file_appeal(claim.claimant, claim.public_id, reason="自费药品在目录内")
    uphold_appeal(claim, actor=senior, note="药品在医保目录内")
    # then: released
    assert _paid_in_year(claim) == Decimal("0")
    # when: decided anew in full
    again = decide(claim, Decision(DecisionKind.APPROVE), actor=senior)
    # then: recorded anew, only the difference paid under a new reference
    assert again.status == ClaimStatus.PAYING and _paid_in_year(claim) == Decimal("8600.00")
    second = payout_of(claim)
    assert second.reference == f"{claim.number}-2" and second.amount == Decimal("2600.00")


def test_a_dismissed_appeal_closes_the_claim_with_the_reasons(alice, senior):
    # given
    claim = under_review(complete_claim())
    decide(claim, Decision(DecisionKind.DENY, reason_code="pre_existing", clause="第六条"), actor=alice)
    file_appeal(claim.claimant, claim.public_id, reason="不是既往症")
    # when
    with pytest.raises(ValidationFailed):
        dismiss_appeal(claim, actor=senior, note="")
    closed = dismiss_appeal(claim, actor=senior, note="投保前病历已记载该疾病")
    # then
    assert closed.status == ClaimStatus.CLOSED
    last = ClaimStatusChange.objects.filter(claim=claim).order_by("-id").first()
    assert (
        last is not None
        and last.line == "申诉未成立，维持原理赔决定"
        and last.note == "投保前病历已记载该疾病"
    )
    assert closed.appeals.get().status == AppealStatus.DISMISSED


def test_only_a_denial_or_a_partial_payment_can_be_appealed(alice):
    # given: a full payment
    claim = under_review(complete_claim())
    decide(claim, Decision(DecisionKind.APPROVE), actor=alice)
    bank_result(claim)
    # when / then
    with pytest.raises(Conflict):
        file_appeal(claim.claimant, claim.public_id, reason="想多赔一些")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PAID and not claim.appeals.exists()
