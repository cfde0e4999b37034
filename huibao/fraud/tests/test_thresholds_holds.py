"""The route thresholds as approved versions (four eyes, history kept, the next screening routes
by the new version), a block opening a case with its evidence, and holds (opened on a related
open case, released by the system when it is resolved, or by an analyst)."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils import timezone

from huibao.account.models import User, UserKind
from huibao.core.errors import Conflict, PermissionDenied, ValidationFailed
from huibao.core.models import AuditEntry
from huibao.fraud import holds, rules, selectors, services, thresholds
from huibao.fraud.models import FraudCase, FraudHold, FraudPolicy
from huibao.fraud.services import screen_claim
from huibao.fraud.tests.factories import analyst, subject

pytestmark = pytest.mark.django_db
VALID_ID = "11010519491231002X"


def lead(username: str) -> User:
    user = User.objects.create_user(
        username=username, password="x-unused-123", kind=UserKind.STAFF, is_staff=True
    )
    user.groups.add(Group.objects.get(name="fraud_lead"))
    return User.objects.get(pk=user.pk)


def _soon_after_waiting(**changes: object):
    """A subject only `soon_after_waiting_period` fires on (score 25 by default)."""
    return subject(
        waiting_period_end=datetime.date(2026, 5, 10), incident_date=datetime.date(2026, 5, 20), **changes
    )


# --- thresholds --------------------------------------------------------------------------------


def test_without_an_approved_version_the_defaults_in_code_apply() -> None:
    assert selectors.thresholds_in_force() == rules.DEFAULT_THRESHOLDS
    screening = screen_claim(_soon_after_waiting())
    assert screening.route == "pass" and screening.score == 25 and screening.policy_version == 0


def test_a_lowered_review_line_approved_by_another_lead_routes_the_next_screening_and_keeps_the_old() -> None:
    # given: a claim scoring 25 passes under the defaults (review at 40)
    first = screen_claim(_soon_after_waiting(insured_id_hash="1" * 64, claimant_id_hash="1" * 64))
    assert first.route == "pass"
    alice, bob = lead("lead_alice"), lead("lead_bob")
    # when: one lead proposes review at 20, block at 90
    proposed = thresholds.propose(
        actor=alice, review_at="20", block_at=90, hold_enabled=True, reason="季度复盘"
    )
    # then: nothing changes until another lead approves
    assert proposed.status == "proposed" and selectors.thresholds_in_force().version == 0
    assert (
        screen_claim(_soon_after_waiting(insured_id_hash="2" * 64, claimant_id_hash="2" * 64)).route == "pass"
    )
    with pytest.raises(PermissionDenied) as own:
        thresholds.approve(proposed, actor=alice)
    assert own.value.code == "same_person"
    # when: the other lead approves
    approved = thresholds.approve(proposed, actor=bob, note="同意")
    # then: the next screening routes by version 1
    assert approved.status == "approved" and approved.decided_by == bob
    assert selectors.thresholds_in_force() == rules.Thresholds(1, 20, 90, True)
    after = screen_claim(_soon_after_waiting(insured_id_hash="3" * 64, claimant_id_hash="3" * 64))
    assert (after.route, after.policy_version) == ("review", 1)
    assert FraudCase.objects.filter(screening=after).exists()
    # the earlier screening still names the version that routed it
    first.refresh_from_db()
    assert (first.route, first.policy_version) == ("pass", 0)
    # when: a second version raises it back; then version 1 is kept as it was
    second = thresholds.propose(actor=bob, review_at=45, block_at=120, hold_enabled=False, reason="误报过多")
    thresholds.approve(second, actor=alice)
    assert list(FraudPolicy.objects.order_by("version").values_list("version", "review_at", "block_at")) == [
        (1, 20, 90),
        (2, 45, 120),
    ]
    assert selectors.thresholds_in_force().version == 2
    assert (
        screen_claim(_soon_after_waiting(insured_id_hash="4" * 64, claimant_id_hash="4" * 64)).route == "pass"
    )
    actions = list(AuditEntry.objects.filter(object_type="fraud.policy").values_list("action", flat=True))
    assert actions == ["fraud.policy_proposed", "fraud.policy_approved"] * 2


def test_a_version_effective_later_applies_only_from_then() -> None:
    alice, bob = lead("lead_a"), lead("lead_b")
    later = timezone.now() + datetime.timedelta(days=3)
    thresholds.approve(
        thresholds.propose(
            actor=alice, review_at=10, block_at=50, hold_enabled=True, reason="下周起", effective_from=later
        ),
        actor=bob,
    )
    assert selectors.thresholds_in_force().version == 0
    assert selectors.thresholds_in_force(later + datetime.timedelta(minutes=1)).version == 1


def test_bad_thresholds_are_refused_naming_the_field_and_nothing_is_written() -> None:
    alice = lead("lead_c")
    for review_at, block_at, field in (("x", 100, "review_at"), (50, 50, "block_at"), (0, 100, "review_at")):
        with pytest.raises(ValidationFailed) as refused:
            thresholds.propose(
                actor=alice, review_at=review_at, block_at=block_at, hold_enabled=True, reason="r"
            )
        assert refused.value.errors[0].field == field
    with pytest.raises(ValidationFailed) as no_reason:
        thresholds.propose(actor=alice, review_at=30, block_at=100, hold_enabled=True, reason=" ")
    assert [e.field for e in no_reason.value.errors] == ["reason"]
    # an analyst (not a lead) cannot propose at all
    with pytest.raises(PermissionDenied):
        thresholds.propose(actor=analyst(), review_at=30, block_at=100, hold_enabled=True, reason="r")
    assert not FraudPolicy.objects.exists()


def test_one_proposal_at_a_time_and_the_proposer_may_withdraw_it() -> None:
    alice, bob = lead("lead_d"), lead("lead_e")
    first = thresholds.propose(actor=alice, review_at=30, block_at=100, hold_enabled=True, reason="r1")
    with pytest.raises(Conflict):
        thresholds.propose(actor=bob, review_at=35, block_at=100, hold_enabled=True, reason="r2")
    with pytest.raises(ValidationFailed):
        thresholds.reject(first, actor=alice, note="")
    withdrawn = thresholds.reject(first, actor=alice, note="重新考虑")
    assert withdrawn.status == "rejected" and selectors.thresholds_in_force().version == 0


def test_the_database_refuses_an_approval_by_the_proposer() -> None:
    alice = lead("lead_f")
    row = thresholds.propose(actor=alice, review_at=30, block_at=100, hold_enabled=True, reason="r")
    with pytest.raises(IntegrityError), transaction.atomic():
        FraudPolicy.objects.filter(pk=row.pk).update(
            status="approved", decided_by=alice, decided_at=timezone.now()
        )


# --- block -------------------------------------------------------------------------------------


def test_a_block_opens_a_case_with_the_fired_rules_as_evidence() -> None:
    # given: the claimant is on the blacklist
    services.add_to_blacklist(id_number=VALID_ID, name="张三", reason="骗保", actor=analyst())
    hashed = services.id_hash_of(VALID_ID)
    # when
    screening = screen_claim(subject(claimant_id_hash=hashed, insured_id_hash="7" * 64))
    # then: blocked, and a case is in the analysts' queue pointing at that screening
    assert screening.route == "block"
    case = FraudCase.objects.get(claim__reference=screening.claim.reference)
    assert case.status == "open" and case.screening == screening
    assert [f["code"] for f in case.screening.fired] == ["blacklisted"]
    assert selectors.open_case_exists(screening.claim.reference)
    assert list(selectors.case_queue(route="block")) == [case]
    opened = AuditEntry.objects.get(object_id=str(case.public_id), action="fraud.case_opened")
    assert opened.after["route"] == "block" and opened.after["evidence"] == ["blacklisted@v1"]


def test_confirming_a_blocked_case_blacklists_the_insured_too_and_closes_it() -> None:
    services.add_to_blacklist(id_number=VALID_ID, name="张三", reason="骗保", actor=analyst())
    screening = screen_claim(
        subject(claimant_id_hash=services.id_hash_of(VALID_ID), insured_id_hash="8" * 64)
    )
    case = FraudCase.objects.get(screening=screening)
    services.confirm_case(case, actor=analyst("analyst3"), note="团伙作案", blacklist_reason="团伙骗保")
    assert selectors.is_blacklisted("8" * 64)
    assert not selectors.open_case_exists(screening.claim.reference)


# --- holds -------------------------------------------------------------------------------------


def _open_case_of(person: str) -> FraudCase:
    """An open case on a claim of `person` (a duplicate invoice routes it to review)."""
    screen_claim(
        subject(invoice_numbers=(f"DUP-{person}",), insured_id_hash="9" * 64, claimant_id_hash="9" * 64)
    )
    first = screen_claim(
        subject(invoice_numbers=(f"DUP-{person}",), insured_id_hash=person * 64, claimant_id_hash=person * 64)
    )
    assert first.route == "review"
    return FraudCase.objects.get(screening=first)


def test_a_claim_of_a_person_with_an_open_case_is_held_and_released_when_it_is_cleared() -> None:
    # given: an open case on another claim of the same person
    case = _open_case_of("b")
    seen: list[holds.HoldReleased] = []
    holds.hold_released.register("claim", seen.append)
    try:
        # when: the person's next claim is screened
        held = screen_claim(subject(insured_id_hash="b" * 64, claimant_id_hash="b" * 64))
        # then: held — no case of its own, waiting on the open one
        assert held.route == "hold" and {f["code"] for f in held.fired} == {"related_open_case"}
        hold = FraudHold.objects.get(screening=held)
        assert (
            hold.status == "held" and hold.waiting_on == [str(case.public_id)] and hold.then_route == "pass"
        )
        assert not FraudCase.objects.filter(claim=hold.claim).exists()
        # when: the analyst clears the related case
        services.clear_case(case, actor=analyst(), note="正常就诊")
    finally:
        holds.hold_released.unregister("claim", seen.append)
    # then: the hold is released by the system to where the claim would have gone
    hold.refresh_from_db()
    assert (hold.status, hold.released_to, hold.released_by) == ("released", "pass", None)
    assert [(e.reference, e.route, e.by_system) for e in seen] == [(hold.claim.reference, "pass", True)]


def test_a_confirmed_related_case_releases_the_hold_to_review_with_a_case() -> None:
    case = _open_case_of("c")
    held = screen_claim(subject(insured_id_hash="c" * 64, claimant_id_hash="c" * 64))
    services.confirm_case(case, actor=analyst(), note="伪造发票")
    hold = FraudHold.objects.get(screening=held)
    assert hold.released_to == "review"
    assert FraudCase.objects.get(claim=hold.claim, status="open").screening == held


def test_an_analyst_releases_a_hold_to_review_or_pass_with_a_note() -> None:
    _open_case_of("d")
    held = screen_claim(subject(insured_id_hash="d" * 64, claimant_id_hash="d" * 64))
    hold = FraudHold.objects.get(screening=held)
    user = analyst()
    with pytest.raises(ValidationFailed) as refused:
        holds.release_hold(hold, to="block", actor=user, note="")
    assert {e.field for e in refused.value.errors} == {"to", "note"}
    holds.release_hold(hold, to="review", actor=user, note="先行复核")
    hold.refresh_from_db()
    assert (hold.status, hold.released_to, hold.released_by) == ("released", "review", user)
    assert FraudCase.objects.filter(claim=hold.claim, status="open").exists()
    from huibao.core.errors import InvalidTransition

    with pytest.raises(InvalidTransition):
        holds.release_hold(hold, to="pass", actor=user, note="再次")


def test_with_holds_switched_off_the_related_case_routes_to_review() -> None:
    alice, bob = lead("lead_g"), lead("lead_h")
    thresholds.approve(
        thresholds.propose(actor=alice, review_at=40, block_at=100, hold_enabled=False, reason="暂停暂缓"),
        actor=bob,
    )
    _open_case_of("e")
    screening = screen_claim(subject(insured_id_hash="e" * 64, claimant_id_hash="e" * 64))
    assert screening.route == "review" and not FraudHold.objects.exists()
