"""Pure rules: coverage, activation, parents, licences (no database)."""

from __future__ import annotations

import datetime

import pytest

from huibao.distribution import rules
from huibao.distribution.models import ALLOWED_PARENTS

D = datetime.date


def terms(pk=1, lines=("accident",), products=(), start=D(2026, 1, 1), end=None, number="X1", insurer=7):
    return rules.AgreementTerms(pk, number, insurer, tuple(lines), frozenset(products), start, end)


@pytest.mark.parametrize(
    ("t", "product_id", "line", "covered"),
    [
        (terms(lines=("accident",)), 5, "accident", True),
        (terms(lines=("accident",)), 5, "travel", False),
        # a listed product narrows the agreement: other products of the line are not covered
        (terms(lines=("accident",), products=(5,)), 5, "accident", True),
        (terms(lines=("accident",), products=(5,)), 6, "accident", False),
        (terms(lines=(), products=(5,)), 5, "travel", True),
    ],
)
def test_an_agreement_covers_its_listed_products_else_its_lines(t, product_id, line, covered):
    assert rules.covers(t, product_id=product_id, line=line) is covered


def _errors(t, *, licence=("accident", "travel"), others=(), until=None, lines=None, insurers=None):
    return rules.activation_errors(
        t,
        licence_lines=licence,
        licence_valid_until=until,
        product_lines=lines or {},
        product_insurers=insurers or {},
        others=others,
        line_labels={"medical": "医疗险"},
        today=D(2026, 6, 1),
    )


def test_activation_needs_the_licence_to_cover_every_line():
    errors = _errors(terms(lines=("accident", "medical")))
    assert [(e.field, e.code) for e in errors] == [("lines", "outside_licence")]
    assert "医疗险" in errors[0].message


def test_activation_refuses_an_overlap_on_the_same_line_and_period_only():
    other = terms(pk=2, number="X2", lines=("accident",), start=D(2026, 3, 1), end=D(2026, 12, 31))
    assert [e.code for e in _errors(terms(), others=[other])] == ["overlapping_agreement"]
    # another line, or a period that ended before: no overlap
    assert _errors(terms(lines=("travel",)), others=[other]) == []
    assert _errors(terms(start=D(2027, 1, 1)), others=[other]) == []
    # a product of the other's line listed by this one overlaps
    assert [
        e.code
        for e in _errors(
            terms(lines=(), products=(9,)), others=[other], lines={9: "accident"}, insurers={9: 7}
        )
    ] == ["overlapping_agreement"]


def test_activation_refuses_past_end_expired_licence_no_scope_and_foreign_products():
    assert [e.code for e in _errors(terms(end=D(2026, 5, 1)))] == ["in_past"]
    assert [e.code for e in _errors(terms(), until=D(2026, 1, 1))] == ["licence_expired"]
    assert [e.code for e in _errors(terms(lines=()))] == ["required"]
    assert "other_insurer" in [
        e.code for e in _errors(terms(products=(3,)), lines={3: "accident"}, insurers={3: 99})
    ]


@pytest.mark.parametrize(
    ("kind", "parent", "ok"),
    [
        ("agency", None, True),
        ("branch", "agency", True),
        ("branch", "branch", True),
        ("team", "branch", True),
        ("team", "agency", False),
        ("agent", "team", True),
        ("agent", "branch", False),
        ("agent", None, False),
        ("channel", "agency", True),
        ("subchannel", "channel", True),
        ("subchannel", "team", False),
    ],
)
def test_units_sit_only_under_allowed_parents(kind, parent, ok):
    assert (rules.parent_error(kind, parent, ALLOWED_PARENTS) is None) is ok


@pytest.mark.parametrize(
    ("kind", "active", "lines", "until", "code"),
    [
        ("agent", True, ("accident",), None, None),
        ("agent", True, ("travel",), None, "licence_not_covering"),
        ("agent", True, ("accident",), D(2026, 5, 31), "licence_expired"),
        ("agent", True, ("accident",), D(2026, 6, 1), None),  # valid through its last day
        ("agent", False, ("accident",), None, "seller_inactive"),
        ("channel", True, (), None, None),  # sells under the agency's licence
        ("channel", True, ("travel",), None, "licence_not_covering"),
        ("team", True, (), None, None),
    ],
)
def test_a_seller_needs_a_valid_licence_covering_the_line(kind, active, lines, until, code):
    refusal = rules.licence_refusal(
        kind=kind,
        is_active=active,
        licence_lines=lines,
        licence_valid_until=until,
        line="accident",
        on=D(2026, 6, 1),
    )
    assert refusal == code
