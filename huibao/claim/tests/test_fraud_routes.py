"""The fraud routes seen from the claim: a hold (on_hold on the timeline, nobody decides it, it
continues when the related case is resolved), a block (a case opened, no money while it is
open), and the thresholds in force deciding the route of the next claim."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from huibao.account.services import create_staff_user, sync_roles
from huibao.claim import decisions
from huibao.claim.models import Claim, ClaimStatusChange, ClaimTriage
from huibao.claim.selectors import QueueFilters, queue
from huibao.claim.states import ClaimStatus, DecisionKind
from huibao.claim.tests.adjud_factories import adjuster, complete_claim, payout_of
from huibao.claim.tests.factories import in_force, medical_policy, start_of
from huibao.core.errors import Conflict
from huibao.fraud import holds, thresholds
from huibao.fraud import services as fraud
from huibao.fraud.models import BlacklistEntry, FraudCase, FraudHold, Screening
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


def _staff(username: str, role: str):
    sync_roles()
    return create_staff_user(username, "pw-Staff-2026!", [role])


def _days(policy, n: int) -> datetime.date:
    return start_of(policy) + datetime.timedelta(days=n)


def test_a_claim_held_for_a_related_case_waits_then_continues_to_the_fast_track_when_it_is_cleared(client):
    # given: the first claim of a customer is in fraud review (a stricter rule), its case open
    fraud.update_rule("soon_after_waiting_period", actor=None, route="review", reason="测试：收紧")
    policy = in_force(medical_policy(customer()))
    first = complete_claim(policy, amount_claimed=SMALL, incident_date=_days(policy, 100))
    assert first.status == ClaimStatus.UNDER_REVIEW
    case = FraudCase.objects.get(claim__reference=first.number)
    # when: the same insured's next (clean) claim is submitted
    second = complete_claim(policy, amount_claimed=SMALL, incident_date=_days(policy, 120))
    # then: on hold — neither decided nor in the adjusters' queue — and the timeline says so
    assert second.status == ClaimStatus.ON_HOLD and not second.auto_decided
    triage = ClaimTriage.objects.get(claim=second)
    assert (triage.route, triage.held, triage.reason_codes) == ("hold", True, ["fraud_hold"])
    assert _steps(second) == ["reported", "materials_complete", "on_hold"]
    line = ClaimStatusChange.objects.filter(claim=second).order_by("-id").first().line
    assert line == "理赔审核中，相关核查完成后将继续处理"  # the customer is not told of fraud
    person = adjuster("adjuster-hold")
    assert second.pk not in {row.claim.pk for row in queue(person, QueueFilters())}
    assert second.pk in {row.claim.pk for row in queue(person, QueueFilters(status="on_hold"))}
    from django.urls import reverse

    from huibao.provider.tests.factories import login

    desk = login(client, person).get(reverse("claim:desk_review", args=[second.public_id]))
    assert desk.status_code == 200 and "风控筛查暂缓" in desk.content.decode()
    with pytest.raises(Conflict) as refused:
        decisions.decide(second, decisions.Decision(kind=DecisionKind.APPROVE), actor=person)
    assert refused.value.code == "not_decidable" and payout_of(second) is None
    # when: the analyst clears the related case
    fraud.clear_case(case, actor=_staff("risk1", "fraud_analyst"), note="核实为正常就诊")
    # then: both continue — the first and the held one are decided by the system and paid out
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == ClaimStatus.PAYING
    assert second.status == ClaimStatus.PAYING and second.auto_decided
    assert _steps(second) == [
        "reported",
        "materials_complete",
        "on_hold",
        "under_review",
        "approved",
        "paying",
    ]
    assert FraudHold.objects.get(claim__reference=second.number).released_to == "pass"
    assert payout_of(second).amount == SMALL


def test_an_analyst_releases_a_held_claim_to_review_and_it_waits_for_that_case():
    fraud.update_rule("soon_after_waiting_period", actor=None, route="review", reason="测试：收紧")
    policy = in_force(medical_policy(customer()))
    complete_claim(policy, amount_claimed=SMALL, incident_date=_days(policy, 100))
    second = complete_claim(policy, amount_claimed=SMALL, incident_date=_days(policy, 120))
    hold = FraudHold.objects.get(claim__reference=second.number)
    # when
    holds.release_hold(hold, to="review", actor=_staff("risk2", "fraud_analyst"), note="同一人，一并复核")
    # then: under review, held for its own case now in the queue
    second.refresh_from_db()
    triage = ClaimTriage.objects.get(claim=second)
    assert second.status == ClaimStatus.UNDER_REVIEW and triage.held and triage.route == "review"
    assert FraudCase.objects.filter(claim__reference=second.number, status="open").exists()
    assert _steps(second)[-2:] == ["on_hold", "under_review"]


def test_a_blocked_claim_opens_a_case_and_cannot_be_paid_until_the_case_is_closed():
    # given: the policyholder is on the shared blacklist
    policy = in_force(medical_policy(customer()))
    BlacklistEntry.objects.create(
        id_hash=policy.holder_id_hash,
        reason="历史骗保",
        source="platform",
        added_by=_staff("risk3", "fraud_analyst"),
        valid_from=timezone.localdate() - datetime.timedelta(days=3650),
    )
    # when
    claim = complete_claim(policy, amount_claimed=SMALL)
    # then: blocked, a case with the fired rule as evidence is in the analysts' queue
    triage = ClaimTriage.objects.get(claim=claim)
    assert claim.status == ClaimStatus.UNDER_REVIEW and triage.route == "block" and triage.held
    case = FraudCase.objects.get(claim__reference=claim.number)
    assert case.status == "open" and "blacklisted" in case.screening.fired_codes
    assert Screening.objects.get(public_id=triage.screening_id) == case.screening
    person = adjuster("adjuster-block")
    with pytest.raises(Conflict):
        decisions.decide(claim, decisions.Decision(kind=DecisionKind.APPROVE), actor=person)
    # even with the claim's own mirror of the hold lost, no money moves while the case is open
    ClaimTriage.objects.filter(claim=claim).update(held=False)
    with pytest.raises(Conflict) as refused:
        decisions.decide(claim, decisions.Decision(kind=DecisionKind.APPROVE), actor=person)
    assert refused.value.code == "fraud_case_open"
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_REVIEW and claim.decision_kind == "" and payout_of(claim) is None
    # when: the analyst closes the case (cleared: the entry was a namesake)
    fraud.clear_case(case, actor=_staff("risk4", "fraud_analyst"), note="同名误报")
    # then: a block never returns to the fast track; the adjuster may now approve, and it pays
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_REVIEW and not claim.auto_decided
    paid = decisions.decide(claim, decisions.Decision(kind=DecisionKind.APPROVE), actor=person)
    assert paid.status == ClaimStatus.PAYING and payout_of(paid).amount == SMALL


def test_a_confirmed_block_denies_the_claim_and_blacklists_the_insured():
    policy = in_force(medical_policy(customer()))
    BlacklistEntry.objects.create(
        id_hash=policy.holder_id_hash,
        reason="历史骗保",
        source="platform",
        added_by=_staff("risk5", "fraud_analyst"),
        valid_from=timezone.localdate() - datetime.timedelta(days=3650),
    )
    claim = complete_claim(policy, amount_claimed=SMALL)
    case = FraudCase.objects.get(claim__reference=claim.number)
    fraud.confirm_case(case, actor=_staff("risk6", "fraud_analyst"), note="确认骗保", blacklist_reason="骗保")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.DENIED and claim.reason_code == "fraud"
    assert BlacklistEntry.objects.filter(id_hash=case.claim.insured_id_hash, removed_at__isnull=True).exists()


def test_the_next_claim_is_routed_by_the_newly_approved_thresholds():
    # given: a claim scoring 25 (soon after the waiting period) is fast-tracked under the defaults
    policy = in_force(medical_policy(customer()))
    before = complete_claim(policy, amount_claimed=SMALL, incident_date=_days(policy, 100))
    assert before.status == ClaimStatus.PAYING
    # when: the leads lower the review line to 20 (four eyes)
    alice, bob = _staff("lead1", "fraud_lead"), _staff("lead2", "fraud_lead")
    thresholds.approve(
        thresholds.propose(actor=alice, review_at=20, block_at=100, hold_enabled=True, reason="收紧"),
        actor=bob,
    )
    other = in_force(medical_policy(customer()))
    after = complete_claim(other, amount_claimed=SMALL, incident_date=_days(other, 100))
    # then: the same facts now go to review, and each screening names its version
    assert after.status == ClaimStatus.UNDER_REVIEW and ClaimTriage.objects.get(claim=after).route == "review"
    assert Screening.objects.get(claim__reference=before.number).policy_version == 0
    assert Screening.objects.get(claim__reference=after.number).policy_version == 1
