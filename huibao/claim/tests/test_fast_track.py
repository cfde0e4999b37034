"""The fast track end to end (no person between the submit and the money), the claims it must
not take (above the limit, a fraud review, a duplicate invoice, incomplete materials), and the
fraud review resolved (cleared → continues, confirmed → denied)."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import pytest

from huibao.account.services import create_staff_user, sync_roles
from huibao.claim.models import Claim, ClaimStatusChange, ClaimTriage
from huibao.claim.services import report_claim, submit_claim, upload_material
from huibao.claim.states import ClaimStatus, DecisionKind
from huibao.claim.tests.adjud_factories import at, bank_result, complete_claim, payout_of
from huibao.claim.tests.factories import in_force, jpeg, medical_policy, pdf, report_input, start_of
from huibao.core.errors import ValidationFailed
from huibao.core.models import AuditEntry
from huibao.fraud import services as fraud
from huibao.fraud.models import FraudCase, Screening
from huibao.payment.models import Payout
from huibao.payment.states import PayoutStatus
from huibao.policy.tests.factories import customer

pytestmark = pytest.mark.django_db

SMALL = Decimal("1800.00")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _steps(claim: Claim) -> list[str]:
    return list(
        ClaimStatusChange.objects.filter(claim=claim).order_by("id").values_list("to_status", flat=True)
    )


def _with_invoice(invoice_number: str, amount: Decimal) -> Claim:
    """A complete claim of a new customer whose invoice carries `invoice_number`."""
    policy = in_force(medical_policy(customer()))
    owner = policy.customer
    with at(policy, 130):
        claim = report_claim(owner, report_input(policy, amount_claimed=amount))
        # files of their own: only the invoice number repeats
        photo, scan = jpeg(color="green") + claim.number.encode(), pdf() + f"% {claim.number}\n".encode()
        upload_material(owner, claim.public_id, kind="id_card", file=io.BytesIO(photo))
        upload_material(
            owner, claim.public_id, kind="invoice", file=io.BytesIO(scan), invoice_number=invoice_number
        )
        return submit_claim(owner, claim.public_id)


def _analyst():
    sync_roles()
    return create_staff_user("risk", "pw-Analyst-2026!", ["fraud_analyst"])


def test_a_small_complete_claim_is_screened_approved_and_paid_without_a_person(client):
    # given: a customer's medical policy, a small claim reported and its materials uploaded
    policy = in_force(medical_policy(customer()))
    owner = policy.customer
    with at(policy, 130):
        claim = report_claim(owner, report_input(policy, amount_claimed=SMALL))
        upload_material(owner, claim.public_id, kind="id_card", file=io.BytesIO(jpeg()))
        upload_material(
            owner, claim.public_id, kind="invoice", file=io.BytesIO(pdf()), invoice_number="FP20260001"
        )
        # when: the customer submits
        submitted = submit_claim(owner, claim.public_id)
    # then: the submit answers with the decision already made (screened, approved, paying)
    assert submitted.status == ClaimStatus.PAYING
    assert submitted.auto_decided and submitted.decided_by is None
    assert submitted.decision_kind == DecisionKind.APPROVE and submitted.approved_amount == SMALL
    triage = ClaimTriage.objects.get(claim=claim)
    screening = Screening.objects.get(public_id=triage.screening_id)
    assert triage.route == screening.route == "pass" and triage.fast_tracked and not triage.held
    assert screening.claim.reference == claim.number and screening.claim.institution == "上海市第一人民医院"
    assert not FraudCase.objects.exists()
    payout = payout_of(submitted)
    assert payout.amount == SMALL and payout.status == PayoutStatus.REQUESTED
    assert submitted.materials_complete_at <= submitted.decided_at
    # when: the queued submission runs and the sandbox bank's signed success notification arrives
    with at(policy, 130):
        payout = bank_result(submitted)
    # then: paid, and the customer's timeline shows every step
    claim.refresh_from_db()
    assert payout.status == PayoutStatus.SUCCEEDED
    assert claim.status == ClaimStatus.PAID and claim.paid_at >= claim.decided_at
    assert _steps(claim) == ["reported", "materials_complete", "approved", "paying", "paid"]
    client.force_login(owner)
    page = client.get(f"/claims/{claim.public_id}/").content.decode()
    for line in ("报案成功", "材料已齐全", "审核通过", "赔款支付中", "赔款已到账"):
        assert line in page
    assert AuditEntry.objects.filter(object_id=claim.number, action="claim.screened").exists()


def test_a_small_claim_of_an_insurer_that_decides_in_its_own_system_is_left_to_it():
    # given: a small, clean, complete claim, but the insurer decides its claims through the connector
    from huibao.claim.insurer_models import InsurerClaimDelivery
    from huibao.claim.tests.insurer_factories import connector_mode

    policy = in_force(medical_policy(customer()))
    connector_mode(policy)
    # when
    claim = complete_claim(policy, amount_claimed=SMALL)
    # then: screened, not decided by Huibao, left at complete materials for the insurer's delivery
    assert claim.status == ClaimStatus.MATERIALS_COMPLETE and not claim.auto_decided
    triage = ClaimTriage.objects.get(claim=claim)
    assert triage.route == "pass" and not triage.fast_tracked
    assert triage.reason_codes == ["insurer_decides"]
    assert InsurerClaimDelivery.objects.filter(claim=claim).exists()
    assert not Payout.objects.exists()


def test_a_claim_above_the_products_limit_goes_to_the_adjuster_with_the_reason():
    # given: the product sets its fast-track limit at 1,000 yuan
    policy = in_force(
        medical_policy(
            customer(),
            claims={"materials": {"medical": ["id_card", "invoice"]}, "fast_track_limit": "1000.00"},
        )
    )
    # when
    claim = complete_claim(policy, amount_claimed=Decimal("1500.00"))
    # then
    assert claim.status == ClaimStatus.UNDER_REVIEW and not claim.auto_decided
    triage = ClaimTriage.objects.get(claim=claim)
    assert triage.route == "pass" and not triage.fast_tracked
    assert triage.reason_codes == ["over_limit"] and "超过小额快赔限额" in triage.reason
    assert not Payout.objects.exists()
    assert _steps(claim) == ["reported", "materials_complete", "under_review"]


def test_a_duplicate_invoice_is_flagged_routed_to_fraud_review_and_held():
    # given: an earlier claim with invoice FP-DUP-0001
    first = _with_invoice("FP-DUP-0001", Decimal("900.00"))
    assert first.status == ClaimStatus.PAYING
    # when: another customer's claim carries the same invoice number
    second = _with_invoice("FP-DUP-0001", Decimal("900.00"))
    # then
    assert second.status == ClaimStatus.UNDER_REVIEW and not second.auto_decided
    triage = ClaimTriage.objects.get(claim=second)
    assert triage.route == "review" and triage.held and triage.reason_codes == ["fraud_review"]
    case = FraudCase.objects.get(claim__reference=second.number)
    assert case.screening.public_id == triage.screening_id
    assert "duplicate_invoice_number" in case.screening.fired_codes
    assert second.materials.filter(duplicate_reason="invoice").exists()
    assert payout_of(second) is None
    # the customer reads only that it is under review
    assert ClaimStatusChange.objects.filter(claim=second).order_by("-id").first().line == "理赔审核中"


def test_incomplete_materials_are_refused_at_submit_and_never_screened():
    # given
    policy = in_force(medical_policy(customer()))
    owner = policy.customer
    with at(policy, 130):
        claim = report_claim(owner, report_input(policy, amount_claimed=SMALL))
        upload_material(owner, claim.public_id, kind="id_card", file=io.BytesIO(jpeg()))
        # when
        with pytest.raises(ValidationFailed) as refused:
            submit_claim(owner, claim.public_id)
    # then
    assert refused.value.errors[0].field == "materials"
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.REPORTED
    assert not ClaimTriage.objects.exists() and not Screening.objects.exists() and not Payout.objects.exists()


@pytest.fixture
def reviewed() -> Claim:
    """A small claim the screen routes to review (an operator made a rule stricter)."""
    fraud.update_rule("soon_after_waiting_period", actor=None, route="review", reason="测试：收紧")
    policy = in_force(medical_policy(customer()))
    # 10 days after the 90-day waiting period ended (the rule's window is 15 days)
    claim = complete_claim(
        policy, amount_claimed=SMALL, incident_date=start_of(policy) + datetime.timedelta(days=100)
    )
    assert claim.status == ClaimStatus.UNDER_REVIEW and ClaimTriage.objects.get(claim=claim).held
    fired = Screening.objects.get(public_id=ClaimTriage.objects.get(claim=claim).screening_id).fired_codes
    assert fired == ",soon_after_waiting_period,"
    return claim


def test_a_cleared_fraud_review_continues_to_the_fast_track(reviewed):
    # given
    case = FraudCase.objects.get(claim__reference=reviewed.number)
    analyst = _analyst()
    # when
    fraud.clear_case(case, actor=analyst, note="核实为正常就诊")
    # then: the claim continues, decided by the system and paid out
    reviewed.refresh_from_db()
    triage = ClaimTriage.objects.get(claim=reviewed)
    assert not triage.held and triage.fraud_outcome == "cleared" and triage.fast_tracked
    assert reviewed.status == ClaimStatus.PAYING and reviewed.auto_decided
    assert payout_of(reviewed).amount == SMALL


def test_a_confirmed_fraud_review_denies_the_claim_with_the_fraud_reason(reviewed):
    # given
    case = FraudCase.objects.get(claim__reference=reviewed.number)
    analyst = _analyst()
    # when
    fraud.confirm_case(case, actor=analyst, note="发票系伪造", blacklist_reason="伪造发票")
    # then
    reviewed.refresh_from_db()
    triage = ClaimTriage.objects.get(claim=reviewed)
    assert not triage.held and triage.fraud_outcome == "confirmed" and not triage.fast_tracked
    assert reviewed.status == ClaimStatus.DENIED and reviewed.reason_code == "fraud"
    assert reviewed.clause and payout_of(reviewed) is None
    denial = ClaimStatusChange.objects.filter(claim=reviewed).order_by("-id").first()
    assert denial.to_status == "denied" and "虚构或夸大保险事故" in denial.note


def test_the_back_office_shows_why_a_claim_was_not_fast_tracked(client):
    # given: a claim above the limit, triaged into the adjusters' queue
    from huibao.policy.tests.factories import staff, staff_login

    claim = complete_claim(amount_claimed=Decimal("8600.00"))
    adjuster = staff("adjuster9", ["view_claim", "view_claimtriage"], app_label="claim")
    staff_login(client, adjuster)
    # when
    html = client.get(f"/admin/claim/claim/{claim.pk}/change/").content.decode()
    # then
    triage = ClaimTriage.objects.get(claim=claim)
    assert "申请金额超过小额快赔限额" in html and str(triage.screening_id) in html


def test_an_adjuster_cannot_approve_a_claim_the_fraud_review_holds_but_may_deny_it(client, reviewed):
    # given: the claim is held by an open fraud review, and an adjuster of the agency opens it
    from django.urls import reverse

    from huibao.claim import decisions
    from huibao.claim.tests.adjud_factories import adjuster
    from huibao.core.errors import Conflict
    from huibao.provider.tests.factories import login

    person = adjuster("adjuster-held")
    client = login(client, person)
    # when: the desk page is opened
    page = client.get(reverse("claim:desk_review", args=[reviewed.public_id])).content.decode()
    # then: it says why the system did not decide and that approval waits for the analyst
    assert 'data-testid="triage-held"' in page and "风控筛查需人工复核" in page
    # when: the adjuster approves anyway
    with pytest.raises(Conflict) as refused:
        decisions.decide(reviewed, decisions.Decision(kind=DecisionKind.APPROVE), actor=person)
    # then: refused, nothing recorded, no money
    assert refused.value.code == "fraud_review_pending"
    reviewed.refresh_from_db()
    assert reviewed.status == ClaimStatus.UNDER_REVIEW and payout_of(reviewed) is None
    assert reviewed.decision_kind == ""
    # a denial stays possible (the adjuster found the policy does not cover it)
    denied = decisions.decide(
        reviewed,
        decisions.Decision(
            kind=DecisionKind.DENY, reason_code="not_covered", clause="第五条", note="不在保障范围"
        ),
        actor=person,
    )
    assert denied.status == ClaimStatus.DENIED
