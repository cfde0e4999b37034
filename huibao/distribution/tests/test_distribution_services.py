"""Agreements' state machine, sellability, the hierarchy's services (against the database)."""

from __future__ import annotations

import datetime

import pytest
from django.test import override_settings
from django.utils import timezone

from huibao.application.tests import factories as app_f
from huibao.core.errors import InvalidTransition, ValidationFailed
from huibao.core.models import AuditEntry
from huibao.distribution import selectors, services
from huibao.distribution.models import AgreementStatusChange, SalesUnit
from huibao.distribution.tests import factories as f

pytestmark = pytest.mark.django_db

TODAY = datetime.date.today


@pytest.fixture
def insurer():
    return f.bare_insurer()


@pytest.fixture
def product(insurer):
    return app_f.simple_product(insurer=insurer)  # an accident product


def test_draft_active_suspended_active_ended_with_history_and_audit(insurer):
    # given a draft
    agreement = f.draft(insurer)
    # when it moves through its states
    services.transition(agreement, "active", actor=None)
    services.transition(agreement, "suspended", actor=None, reason="对账争议")
    services.transition(agreement, "active", actor=None)
    services.transition(agreement, "ended", actor=None, reason="合作到期")
    # then every change is a history row and an audit entry
    agreement.refresh_from_db()
    assert agreement.status == "ended"
    assert list(
        AgreementStatusChange.objects.filter(agreement=agreement).values_list("from_status", "to_status")
    ) == [
        ("", "draft"),
        ("draft", "active"),
        ("active", "suspended"),
        ("suspended", "active"),
        ("active", "ended"),
    ]
    assert (
        AuditEntry.objects.filter(
            action="distribution.agreement_status_changed", object_id=agreement.number
        ).count()
        == 4
    )
    # and ended is final
    with pytest.raises(InvalidTransition):
        services.transition(agreement, "active", actor=None)


def test_a_draft_cannot_be_suspended_and_suspending_needs_a_reason(insurer):
    agreement = f.draft(insurer)
    with pytest.raises(InvalidTransition):
        services.transition(agreement, "suspended", actor=None, reason="x")
    services.transition(agreement, "active", actor=None)
    with pytest.raises(ValidationFailed) as exc:
        services.transition(agreement, "suspended", actor=None)
    assert exc.value.errors[0].field == "reason"
    agreement.refresh_from_db()
    assert agreement.status == "active"


def test_activation_outside_the_licence_scope_is_refused_naming_lines_and_nothing_changes(insurer):
    agency = f.agency(lines=("accident",))
    agreement = f.draft(insurer, lines=("accident", "medical"), agency_obj=agency)
    with pytest.raises(ValidationFailed) as exc:
        services.transition(agreement, "active", actor=None)
    assert [(e.field, e.code) for e in exc.value.errors] == [("lines", "outside_licence")]
    agreement.refresh_from_db()
    assert agreement.status == "draft"
    assert agreement.status_changes.count() == 1


def test_a_second_active_agreement_overlapping_on_the_line_is_refused(insurer, product):
    f.active(insurer, lines=("accident",))
    # listing the product of the same line in the same period overlaps too
    second = f.draft(insurer, lines=(), products=(product.pk,))
    with pytest.raises(ValidationFailed) as exc:
        services.transition(second, "active", actor=None)
    assert exc.value.errors[0].code == "overlapping_agreement"
    # another line does not
    third = f.draft(insurer, lines=("travel",))
    services.transition(third, "active", actor=None)


def test_an_agreement_is_created_only_with_valid_fields(insurer):
    with pytest.raises(ValidationFailed) as exc:
        f.draft(
            insurer, lines=("nonsense",), valid_from=TODAY(), valid_until=TODAY() - datetime.timedelta(days=1)
        )
    assert {e.field for e in exc.value.errors} == {"lines", "valid_until"}
    assert not insurer.agreements.exists()


# --- sellability --------------------------------------------------------------------------------


def _code(product, **kw):
    refusal = selectors.sellable(product, **kw)
    return refusal.code if refusal else None


def test_sellability_follows_the_agreement(insurer, product):
    # no agreement
    assert _code(product) == "no_agreement"
    # a draft does not sell
    agreement = f.draft(insurer)
    assert _code(product) == "no_agreement"
    services.transition(agreement, "active", actor=None)
    assert _code(product) is None
    services.transition(agreement, "suspended", actor=None, reason="x")
    assert _code(product) == "agreement_suspended"
    services.transition(agreement, "ended", actor=None, reason="x")
    assert _code(product, on=TODAY() + datetime.timedelta(days=1)) == "agreement_ended"


def test_an_active_agreement_sells_only_within_its_dates(insurer, product):
    start = TODAY() - datetime.timedelta(days=10)
    f.active(insurer, valid_from=start, valid_until=TODAY() + datetime.timedelta(days=10))
    assert _code(product) is None
    assert _code(product, on=start - datetime.timedelta(days=1)) == "agreement_not_in_force"
    assert _code(product, on=TODAY() + datetime.timedelta(days=11)) == "agreement_not_in_force"


def test_listed_products_narrow_the_line(insurer, product):
    other = app_f.simple_product(insurer=insurer)
    f.active(insurer, lines=(), products=(other.pk,))
    assert _code(other) is None
    assert _code(product) == "no_agreement"
    # a line not covered
    travel = app_f.simple_product(insurer=f.bare_insurer(), line="travel")
    f.active(travel.insurer, lines=("accident",))
    assert _code(travel) == "no_agreement"


def test_the_sellers_licence_must_cover_the_line_and_be_valid(insurer, product):
    f.active(insurer)
    units = f.tree()
    assert _code(product, seller=units["A1"]) is None
    travel_only = f.unit("A3", "agent", units["T1"], licence_lines=("travel",))
    refusal = selectors.sellable(product, seller=travel_only)
    assert refusal is not None and (refusal.field, refusal.code) == ("seller_code", "licence_not_covering")
    units["A1"].licence_valid_until = TODAY() - datetime.timedelta(days=1)
    units["A1"].save()
    assert _code(product, seller=units["A1"]) == "licence_expired"
    # the agency's own units sell under its licence
    assert _code(product, seller=units["T1"]) is None


def test_the_quote_fast_path_agrees_with_sellable(insurer, product):
    other = app_f.simple_product(insurer=insurer)
    assert {p.pk for p in selectors.unsellable_products([product.pk, other.pk])} == {product.pk, other.pk}
    f.active(insurer, lines=(), products=(other.pk,))
    assert {p.pk for p in selectors.unsellable_products([product.pk, other.pk])} == {product.pk}


@override_settings(HUIBAO_OPERATOR="insurer:own")
def test_an_insurers_own_channel_sells_its_products_without_agreement_and_no_others(product):
    own = app_f.simple_product(insurer=f.InsurerFactory(code="own", agreement=False))
    assert _code(own) is None
    assert _code(product) == "not_sold_here"
    assert {p.pk for p in selectors.unsellable_products([own.pk, product.pk])} == {product.pk}


def test_was_sellable_at_reads_the_status_history(insurer, product):
    agreement = f.active(insurer)
    signed = timezone.now()
    services.transition(agreement, "suspended", actor=None, reason="x")
    assert selectors.was_sellable_at(product, signed) is True
    assert selectors.was_sellable_at(product, timezone.now()) is False


# --- the hierarchy -----------------------------------------------------------------------------


def test_create_enforces_allowed_parents_and_keeps_paths():
    units = f.tree()
    assert units["A1"].path == "HQ/BR/T1/A1"
    assert units["SUB"].path == "HQ/CH/SUB"
    with pytest.raises(ValidationFailed) as exc:
        f.unit("X", "agent", units["BR"])
    assert exc.value.errors[0].field == "parent"
    with pytest.raises(ValidationFailed) as exc:
        f.unit("A1", "agent", units["T1"])
    assert exc.value.errors[0].code == "duplicate"


def test_moving_a_team_rewrites_every_path_below_it():
    units = f.tree()
    br2 = f.unit("BR2", "branch", units["HQ"])
    services.move_unit(units["T1"], br2, actor=None)
    assert dict(SalesUnit.objects.filter(code__in=["T1", "A1", "A2", "BR"]).values_list("code", "path")) == {
        "T1": "HQ/BR2/T1",
        "A1": "HQ/BR2/T1/A1",
        "A2": "HQ/BR2/T1/A2",
        "BR": "HQ/BR",
    }
    assert [u.code for u in selectors.subtree(br2)] == ["BR2", "T1", "A1", "A2"]
    assert [u.code for u in selectors.subtree(units["BR"])] == ["BR"]


def test_a_move_under_its_own_subtree_or_a_wrong_kind_is_refused():
    units = f.tree()
    with pytest.raises(ValidationFailed) as exc:
        services.move_unit(units["BR"], units["T1"], actor=None)
    assert exc.value.errors[0].code == "cycle"
    with pytest.raises(ValidationFailed):
        services.move_unit(units["A1"], units["CH"], actor=None)
    assert SalesUnit.objects.get(code="A1").path == "HQ/BR/T1/A1"


def test_deactivating_a_team_stops_its_agents_selling(insurer, product):
    f.active(insurer)
    units = f.tree()
    assert services.deactivate_unit(units["T1"], actor=None) == 3
    a1 = SalesUnit.objects.get(code="A1")
    assert _code(product, seller=a1) == "seller_inactive"
    assert selectors.seller_by_code("A1") is None
    assert SalesUnit.objects.get(code="CH").is_active


def test_a_subtree_prefix_does_not_catch_a_sibling_with_a_longer_code():
    units = f.tree()
    f.unit("BRX", "branch", units["HQ"])
    assert "BRX" not in [u.code for u in selectors.subtree(units["BR"])]
