"""Screening against the database: each rule matched across stored claims, idempotence per
reference, versions recorded, cases and their moves, the blacklist, rule changes."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from huibao.core.errors import Conflict, InvalidTransition, ValidationFailed
from huibao.core.models import AuditEntry
from huibao.fraud import selectors, services
from huibao.fraud.models import (
    BlacklistEntry,
    FraudCase,
    FraudRule,
    ScreenedClaim,
    ScreenedInvoice,
    Screening,
)
from huibao.fraud.rules import RULES, HeldPolicy
from huibao.fraud.services import ScreeningResolved, screen_claim
from huibao.fraud.tests.factories import REPORTED, analyst, subject

pytestmark = pytest.mark.django_db
VALID_ID = "11010519491231002X"


def fired(screening: Screening) -> set[str]:
    return {f["code"] for f in screening.fired}


def test_the_data_migration_seeds_version_one_of_every_registered_rule() -> None:
    rows = FraudRule.objects.filter(is_current=True)
    assert {r.code for r in rows} == set(RULES)
    assert all(r.version == 1 and r.parameters == dict(RULES[r.code].defaults) for r in rows)


def test_a_clean_claim_passes_and_is_stored() -> None:
    # given
    s = subject(invoice_numbers=("INV-1",), file_digests=("AB" * 32,))
    # when
    screening = screen_claim(s)
    # then
    assert (screening.route, screening.score, screening.fired) == ("pass", 0, [])
    stored = ScreenedClaim.objects.get(reference=s.reference)
    assert stored.amount == Decimal("800.00") and stored.claimant_name_masked == "张**"
    assert set(ScreenedInvoice.objects.values_list("kind", "value")) == {
        ("number", "INV-1"),
        ("digest", "ab" * 32),
    }
    assert screening.rule_versions == {code: 1 for code in RULES}
    assert AuditEntry.objects.filter(action="fraud.screened", object_id=str(screening.public_id)).exists()


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"invoice_numbers": ("fp 0001",)}, {"invoice_numbers": ("FP0001",)}),
        ({"file_digests": ("cd" * 32,)}, {"file_digests": ("CD" * 32,)}),
    ],
)
def test_a_duplicate_invoice_of_another_insurers_claim_is_found(first, second) -> None:
    # given
    earlier = screen_claim(subject(insurer_code="CPIC", insured_id_hash="b" * 64, **first))
    # when
    screening = screen_claim(subject(**second))
    # then
    code = "duplicate_invoice_number" if "invoice_numbers" in first else "duplicate_invoice_file"
    assert fired(screening) == {code} and screening.route == "review"
    evidence = screening.fired[0]["matches"]
    assert [(m["reference"], m["insurer_code"]) for m in evidence] == [(earlier.claim.reference, "CPIC")]


def test_a_claim_does_not_match_its_own_invoices_when_screened_again() -> None:
    s = subject(invoice_numbers=("INV-7",))
    screen_claim(s)
    again = screen_claim(
        subject(reference=s.reference, invoice_numbers=("INV-7",), amount_claimed=Decimal("700"))
    )
    assert fired(again) == set()


def test_frequent_claims_by_the_insured_within_the_window() -> None:
    # given: three earlier claims in 90 days, one older
    for days in (1, 30, 80, 100):
        screen_claim(subject(reported_at=REPORTED - datetime.timedelta(days=days)))
    # when
    screening = screen_claim(subject())
    # then: 4 in the window, more than 3
    assert "frequent_insured" in fired(screening)
    rule = next(f for f in screening.fired if f["code"] == "frequent_insured")
    assert rule["facts"]["claims_in_window"] == 4 and len(rule["matches"]) == 3


def test_a_policy_bought_the_day_it_starts_with_a_third_claim_goes_to_review() -> None:
    # given: a policy applied for on the day it took effect, two earlier claims of the insured
    bought = {
        "policy_applied_date": datetime.date(2025, 1, 1),
        "policy_effective_date": datetime.date(2025, 1, 1),
    }
    for days in (10, 200):
        screen_claim(subject(reported_at=REPORTED - datetime.timedelta(days=days), **bought))
    # when: the third claim is screened
    screening = screen_claim(subject(**bought))
    # then: Huize's rule fires with its numbers, and the claim goes to an analyst
    assert "applied_near_effective_frequent" in fired(screening)
    rule = next(f for f in screening.fired if f["code"] == "applied_near_effective_frequent")
    assert rule["facts"]["claims_in_window"] == 3 and rule["facts"]["gap_days"] == 0
    assert screening.route == "review"
    # and a policy applied for a month ahead with the same claims does not fire it
    ahead = {
        "policy_applied_date": datetime.date(2024, 12, 1),
        "policy_effective_date": datetime.date(2025, 1, 1),
    }
    assert "applied_near_effective_frequent" not in fired(screen_claim(subject(**ahead)))


def test_frequent_claims_from_one_institution_and_one_region() -> None:
    services.update_rule("frequent_institution", actor="test", parameters={"max_claims": 2, "days": 30})
    services.update_rule("frequent_region", actor="test", parameters={"max_claims": 3, "days": 30})
    for i in range(2):
        screen_claim(subject(insured_id_hash=f"{i}" * 64, medical_institution="上海市 第一人民医院"))
    screening = screen_claim(subject(insured_id_hash="f" * 64))
    assert fired(screening) == {"frequent_institution"}
    screen_claim(subject(insured_id_hash="e" * 64, medical_institution=""))
    assert fired(screen_claim(subject(insured_id_hash="d" * 64, medical_institution=""))) == {
        "frequent_region"
    }


def test_amounts_repeatedly_just_under_the_fast_track_threshold() -> None:
    for amount in ("1950", "1850"):
        screen_claim(subject(amount_claimed=Decimal(amount)))
    screen_claim(subject(amount_claimed=Decimal("500")))  # not in the band: not counted
    screening = screen_claim(subject(amount_claimed=Decimal("1990")))
    assert "just_under_fast_track" in fired(screening)
    other = subject(amount_claimed=Decimal("1990"), insured_id_hash="c" * 64, claimant_id_hash="c" * 64)
    assert fired(screen_claim(other)) == set()


def test_soon_after_start_waiting_period_and_increase_fire_from_the_subject_alone() -> None:
    s = subject(
        policy_effective_date=datetime.date(2026, 5, 1),
        waiting_period_end=datetime.date(2026, 5, 11),
        sum_insured_increased_on=datetime.date(2026, 5, 2),
    )
    assert fired(screen_claim(s)) == {"soon_after_start", "soon_after_waiting_period", "soon_after_increase"}


def test_several_insurers_at_once_uses_the_fact_the_claim_side_gives() -> None:
    held = (HeldPolicy("CPIC", "X1"), HeldPolicy("PING", "X2"))
    assert "multiple_insurers" in fired(screen_claim(subject(held_policies=held)))


def test_a_blacklisted_claimant_is_blocked_and_is_blacklisted_answers() -> None:
    # given
    user = analyst()
    entry = services.add_to_blacklist(id_number=VALID_ID, name="李四", reason="伪造发票", actor=user)
    id_hash = services.id_hash_of(VALID_ID)
    # when
    screening = screen_claim(subject(claimant_id_hash=id_hash))
    # then
    assert selectors.is_blacklisted(id_hash)
    assert screening.route == "block" and fired(screening) == {"blacklisted"}
    assert (entry.name_masked, entry.id_masked) == ("李*", "110***********002X")
    assert VALID_ID not in str(BlacklistEntry.objects.values())
    # and once removed, nobody is blocked any more, and the entry stays
    services.remove_from_blacklist(entry, reason="申诉成立", actor=user)
    assert not selectors.is_blacklisted(id_hash)
    assert BlacklistEntry.objects.filter(pk=entry.pk, removal_reason="申诉成立").exists()
    assert AuditEntry.objects.filter(object_id=str(entry.public_id)).count() == 2


def test_the_blacklist_refuses_bad_input_naming_the_field_and_writes_nothing() -> None:
    user = analyst()
    with pytest.raises(ValidationFailed) as failure:
        services.add_to_blacklist(id_number="123", name="李四", reason="", actor=user, source="insurer")
    assert {e.field for e in failure.value.errors} == {"id_number", "reason", "insurer_code"}
    services.add_to_blacklist(id_number=VALID_ID, name="李四", reason="x", actor=user)
    with pytest.raises(Conflict):
        services.add_to_blacklist(id_number=VALID_ID, name="李四", reason="again", actor=user)
    assert BlacklistEntry.objects.count() == 1


def test_screening_the_same_subject_again_answers_the_same_screening() -> None:
    # given
    s = subject(invoice_numbers=("INV-9",), policy_effective_date=datetime.date(2026, 5, 10))
    first = screen_claim(s)
    # when
    again = screen_claim(s)
    # then
    assert again.pk == first.pk
    assert (ScreenedClaim.objects.count(), Screening.objects.count(), ScreenedInvoice.objects.count()) == (
        1,
        1,
        1,
    )


def test_a_changed_subject_updates_its_row_and_makes_a_new_screening() -> None:
    s = subject(invoice_numbers=("A",))
    first = screen_claim(s)
    changed = screen_claim(
        subject(reference=s.reference, invoice_numbers=("B",), amount_claimed=Decimal("900"))
    )
    assert changed.pk != first.pk and ScreenedClaim.objects.count() == 1
    assert ScreenedClaim.objects.get().amount == Decimal("900")
    assert list(ScreenedInvoice.objects.values_list("value", flat=True)) == ["B"]


def test_a_rule_change_makes_a_new_version_and_the_screening_names_it() -> None:
    # given
    s = subject(policy_effective_date=datetime.date(2026, 4, 1))  # 49 days before the incident
    assert fired(screen_claim(s)) == set()
    # when
    rule = services.update_rule("soon_after_start", actor="test", parameters={"days": 60}, reason="试点")
    screening = screen_claim(s)
    # then
    assert rule.version == 2 and FraudRule.objects.filter(code="soon_after_start").count() == 2
    assert screening.fired[0]["version"] == 2 and screening.rule_versions["soon_after_start"] == 2


def test_a_rule_change_that_breaks_the_schema_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationFailed) as failure:
        services.update_rule("frequent_insured", actor="test", parameters={"max_claims": 0, "days": 90})
    assert [e.field for e in failure.value.errors] == ["parameters.max_claims"]
    assert FraudRule.objects.filter(code="frequent_insured").count() == 1


def test_a_disabled_rule_does_not_fire() -> None:
    services.update_rule("soon_after_start", actor="test", enabled=False)
    s = subject(policy_effective_date=datetime.date(2026, 5, 10))
    screening = screen_claim(s)
    assert fired(screening) == set() and "soon_after_start" not in screening.rule_versions


def _review_case() -> FraudCase:
    screen_claim(subject(invoice_numbers=("DUP",), insured_id_hash="9" * 64))
    screening = screen_claim(subject(invoice_numbers=("DUP",)))
    return FraudCase.objects.get(screening=screening)


def test_the_review_route_opens_one_case_and_a_rescreen_keeps_it() -> None:
    case = _review_case()
    assert case.status == "open"
    rescreen = screen_claim(subject(reference=case.claim.reference, invoice_numbers=("DUP", "X")))
    assert FraudCase.objects.count() == 1 and FraudCase.objects.get().screening_id == rescreen.pk


def test_an_analyst_confirms_a_case_and_blacklists_the_person() -> None:
    # given
    case = _review_case()
    user = analyst()
    seen: list[ScreeningResolved] = []
    services.screening_resolved.register("claim", seen.append)
    try:
        # when
        services.take_case(case, actor=user)
        done = services.confirm_case(case, actor=user, note="发票系伪造", blacklist_reason="伪造发票")
    finally:
        services.screening_resolved.unregister("claim", seen.append)
    # then
    assert (done.status, done.note, done.resolved_by) == ("confirmed", "发票系伪造", user)
    assert selectors.is_blacklisted(case.claim.claimant_id_hash)
    assert [(e.reference, e.outcome, e.blacklisted) for e in seen] == [
        (case.claim.reference, "confirmed", True)
    ]
    actions = list(AuditEntry.objects.filter(object_id=str(case.public_id)).values_list("action", flat=True))
    assert actions == ["fraud.case_opened", "fraud.case_in_review", "fraud.case_confirmed"]


def test_clearing_needs_a_note_and_a_resolved_case_cannot_move_again() -> None:
    case = _review_case()
    user = analyst()
    with pytest.raises(ValidationFailed) as failure:
        services.clear_case(case, actor=user, note=" ")
    assert failure.value.errors[0].field == "note"
    assert FraudCase.objects.get(pk=case.pk).status == "open"
    services.clear_case(case, actor=user, note="材料真实")
    with pytest.raises(InvalidTransition):
        services.confirm_case(case, actor=user, note="x")
    with pytest.raises(InvalidTransition):
        services.take_case(case, actor=user)
    assert not BlacklistEntry.objects.exists()


def test_screening_uses_a_bounded_number_of_queries(django_assert_max_num_queries) -> None:
    for i in range(5):
        screen_claim(subject(invoice_numbers=(f"N{i}",), insured_id_hash="a" * 64))
    s = subject(invoice_numbers=("N1", "N2"), file_digests=("ee" * 32,))
    # the thresholds in force and the open cases of the same people are one query each
    with django_assert_max_num_queries(22):
        screen_claim(s)


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_screenings_of_one_reference_make_one_subject() -> None:
    # given: the rules are back after the previous flush (post_migrate)
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection, transaction

    assert FraudRule.objects.filter(is_current=True).count() == len(RULES)
    s = subject(invoice_numbers=("RACE",))

    def screen(_: int) -> int:
        try:
            with transaction.atomic():
                return screen_claim(s).claim_id
        finally:
            connection.close()

    # when
    with ThreadPoolExecutor(max_workers=2) as pool:
        claim_ids = set(pool.map(screen, range(2)))
    # then
    assert len(claim_ids) == 1 and ScreenedClaim.objects.count() == 1 and ScreenedInvoice.objects.count() == 1


def test_after_a_flush_the_rules_are_seeded_again() -> None:
    assert FraudRule.objects.filter(is_current=True).count() == len(RULES)
