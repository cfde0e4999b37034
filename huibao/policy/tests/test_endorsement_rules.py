"""The pure endorsement rules: every kind's checks (bad input of every kind, each naming its
field) and the premium delta, table-driven."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest

from huibao.catalog.servicing import EndorsementKind as K
from huibao.catalog.servicing import EndorsementRules
from huibao.core.errors import ValidationFailed
from huibao.core.validators import id_check_digit
from huibao.policy import endorsement_rules as er


def rid(birth: str, serial: int = 11) -> str:
    first17 = f"110105{birth.replace('-', '')}{serial:03d}"
    return first17 + id_check_digit(first17)


INSURED_ID = rid("1990-05-01", 12)  # even serial: female
CHILD_ID = rid("2015-03-03", 21)
SPOUSE_ID = rid("1988-02-02", 31)

ALL = frozenset(K)


def facts(**overrides: Any) -> er.PolicyFacts:
    base: dict[str, Any] = {
        "rules": EndorsementRules(allowed=ALL, sum_insured_increase=True, sum_insured_decrease=True),
        "holder_phone": "13900001111",
        "holder_email": "",
        "holder_address": "",
        "insured_name": "李春花",
        "insured_id_number": INSURED_ID,
        "insured_birth_date": datetime.date(1990, 5, 1),
        "insured_sex": "F",
        "plan_code": "basic",
        "sum_insured": Decimal("500000"),
        "plans": (
            er.PlanOption("basic", "标准版", Decimal("100000"), Decimal("1000000"), Decimal("10000")),
            er.PlanOption("plus", "升级版", Decimal("200000"), Decimal("2000000")),
        ),
        "beneficiary_mode": "legal",
        "beneficiaries": (),
    }
    base.update(overrides)
    return er.PolicyFacts(**base)


def b(
    name: str = "李小宝",
    id_number: str = CHILD_ID,
    relation: str = "child",
    share: Any = "100",
    order: Any = 1,
):
    return {
        "name": name,
        "id_number": id_number,
        "relation": relation,
        "share_percent": share,
        "order": order,
    }


REFUSED: list[tuple[str, K, dict[str, Any], dict[str, Any], str, str]] = [
    # id, kind, raw change, facts overrides, field, code
    ("contact phone missing", K.CONTACT, {"phone": ""}, {}, "phone", "required"),
    ("contact phone malformed", K.CONTACT, {"phone": "1234"}, {}, "phone", "phone_format"),
    ("contact e-mail malformed", K.CONTACT, {"phone": "13900002222", "email": "a@b"}, {}, "email", "invalid"),
    (
        "contact address control chars",
        K.CONTACT,
        {"phone": "13900002222", "address": "北京\x00"},
        {},
        "address",
        "",
    ),
    ("contact unchanged", K.CONTACT, {"phone": "13900001111"}, {}, "phone", "unchanged"),
    ("beneficiary mode unknown", K.BENEFICIARIES, {"mode": "x"}, {}, "mode", "invalid_choice"),
    ("beneficiary legal again", K.BENEFICIARIES, {"mode": "legal"}, {}, "mode", "unchanged"),
    (
        "beneficiary none named",
        K.BENEFICIARIES,
        {"mode": "named", "beneficiaries": []},
        {},
        "beneficiaries",
        "required",
    ),
    (
        "beneficiary share 3 decimals",
        K.BENEFICIARIES,
        {"mode": "named", "beneficiaries": [b(share="50.005"), b("王大伟", SPOUSE_ID, "spouse", "49.995")]},
        {},
        "beneficiaries[0].share_percent",
        "too_many_decimals",
    ),
    (
        "beneficiary shares not 100",
        K.BENEFICIARIES,
        {"mode": "named", "beneficiaries": [b(share="60"), b("王大伟", SPOUSE_ID, "spouse", "30")]},
        {},
        "beneficiaries",
        "shares_not_100",
    ),
    (
        "beneficiary bad id",
        K.BENEFICIARIES,
        {"mode": "named", "beneficiaries": [b(id_number="110105201503030000")]},
        {},
        "beneficiaries[0].id_number",
        "id_checksum",
    ),
    (
        "beneficiary is the insured",
        K.BENEFICIARIES,
        {"mode": "named", "beneficiaries": [b(id_number=INSURED_ID)]},
        {},
        "beneficiaries[0].id_number",
        "beneficiary_is_insured",
    ),
    (
        "beneficiary relation self",
        K.BENEFICIARIES,
        {"mode": "named", "beneficiaries": [b(relation="self")]},
        {},
        "beneficiaries[0].relation",
        "invalid_choice",
    ),
    (
        "beneficiary order 6",
        K.BENEFICIARIES,
        {"mode": "named", "beneficiaries": [b(order="6")]},
        {},
        "beneficiaries[0].order",
        "out_of_range",
    ),
    (
        "beneficiary name digits",
        K.BENEFICIARIES,
        {"mode": "named", "beneficiaries": [b(name="李123")]},
        {},
        "beneficiaries[0].name",
        "",
    ),
    (
        "insured bad id",
        K.INSURED_CORRECTION,
        {"id_number": "110105199005011234"},
        {},
        "id_number",
        "id_checksum",
    ),
    ("insured bad name", K.INSURED_CORRECTION, {"name": "A1"}, {}, "name", ""),
    ("insured unchanged", K.INSURED_CORRECTION, {"name": "李春花"}, {}, "name", "unchanged"),
    ("plan missing", K.PLAN, {}, {}, "plan_code", "required"),
    ("plan unknown", K.PLAN, {"plan_code": "gold"}, {}, "plan_code", "unknown_plan"),
    ("plan same", K.PLAN, {"plan_code": "basic"}, {}, "plan_code", "unchanged"),
    ("sum not a number", K.SUM_INSURED, {"sum_insured": "五十万"}, {}, "sum_insured", "invalid"),
    (
        "sum above plan",
        K.SUM_INSURED,
        {"sum_insured": "2000000"},
        {},
        "sum_insured",
        "sum_insured_above_limit",
    ),
    (
        "sum below plan",
        K.SUM_INSURED,
        {"sum_insured": "50000"},
        {},
        "sum_insured",
        "sum_insured_below_minimum",
    ),
    ("sum off step", K.SUM_INSURED, {"sum_insured": "505000"}, {}, "sum_insured", "sum_insured_step"),
    ("sum 3 decimals", K.SUM_INSURED, {"sum_insured": "600000.001"}, {}, "sum_insured", "too_many_decimals"),
    ("sum same", K.SUM_INSURED, {"sum_insured": "500000"}, {}, "sum_insured", "unchanged"),
    (
        "sum increase not allowed",
        K.SUM_INSURED,
        {"sum_insured": "600000"},
        {"rules": EndorsementRules(allowed=ALL, sum_insured_decrease=True)},
        "sum_insured",
        "increase_not_allowed",
    ),
    (
        "sum decrease not allowed",
        K.SUM_INSURED,
        {"sum_insured": "400000"},
        {"rules": EndorsementRules(allowed=ALL, sum_insured_increase=True)},
        "sum_insured",
        "decrease_not_allowed",
    ),
    ("kind not allowed", K.PLAN, {"plan_code": "plus"}, {"rules": EndorsementRules()}, "kind", "not_allowed"),
]


@pytest.mark.parametrize(
    ("kind", "raw", "overrides", "field", "code"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED]
)
def test_bad_input_of_every_kind_is_refused_naming_the_field(kind, raw, overrides, field, code) -> None:
    with pytest.raises(ValidationFailed) as refused:
        er.check_change(kind, raw, facts(**overrides))
    fields = {(e.field, e.code) for e in refused.value.errors}
    assert any(f == field and (not code or c == code) for f, c in fields), fields
    assert all(e.message for e in refused.value.errors)


def test_a_contact_change_is_normalised() -> None:
    change = er.check_change(
        K.CONTACT, {"phone": " 139 0000 2222 ", "email": "a@example.cn", "address": "北京市"}, facts()
    )
    assert change == {"phone": "13900002222", "email": "a@example.cn", "address": "北京市"}


def test_named_beneficiaries_are_kept_exactly_as_entered_in_two_orders() -> None:
    raw = {
        "mode": "named",
        "beneficiaries": [
            b(share="33.33"),
            b("王大伟", SPOUSE_ID, "spouse", "66.67"),
            b("李老汉", rid("1960-01-01", 41), "parent", 100, order=2),
        ],
    }
    change = er.check_change(K.BENEFICIARIES, raw, facts())
    assert change["mode"] == "named"
    assert [(x["order"], x["share_percent"]) for x in change["beneficiaries"]] == [
        (1, "66.67"),
        (1, "33.33"),
        (2, "100.00"),
    ]


def test_back_to_legal_heirs_drops_the_named_beneficiaries() -> None:
    current = (
        {"name": "李小宝", "id_number": CHILD_ID, "relation": "child", "order": 1, "share_percent": "100"},
    )
    change = er.check_change(
        K.BENEFICIARIES, {"mode": "legal"}, facts(beneficiary_mode="named", beneficiaries=current)
    )
    assert change == {"mode": "legal", "beneficiaries": []}


@pytest.mark.parametrize(
    ("raw", "rerated"),
    [
        ({"name": "李春华"}, False),  # the name only: same age and sex, not re-rated
        ({"id_number": rid("1980-05-01", 12)}, True),  # ten years older
        ({"id_number": rid("1990-05-01", 13)}, True),  # same birth date, male
    ],
)
def test_an_insured_correction_takes_birth_date_and_sex_from_the_id_and_is_rerated_when_they_change(
    raw: dict[str, Any], rerated: bool
) -> None:
    f = facts()
    change = er.check_change(K.INSURED_CORRECTION, raw, f)
    assert er.needs_rerating(K.INSURED_CORRECTION, change, f) is rerated
    if "id_number" in raw:
        assert (
            change["birth_date"]
            == f"{raw['id_number'][6:10]}-{raw['id_number'][10:12]}-{raw['id_number'][12:14]}"
        )


def test_a_plan_change_keeps_the_sum_insured_within_the_new_plan() -> None:
    change = er.check_change(K.PLAN, {"plan_code": "plus"}, facts(sum_insured=Decimal("150000")))
    assert change == {"plan_code": "plus", "plan_name": "升级版", "sum_insured": "200000"}


DELTAS = [
    # old, new, start, end, on, delta
    ("320.00", "600.00", "2026-01-01", "2027-01-01", "2026-01-01", "280.00"),  # whole year
    ("320.00", "600.00", "2026-01-01", "2027-01-01", "2026-07-02", "140.38"),  # 183/365 × 280 = 140.383…
    ("600.00", "320.00", "2026-01-01", "2027-01-01", "2026-07-02", "-140.38"),  # a refund
    ("100.00", "101.00", "2026-01-01", "2027-01-01", "2026-12-31", "0.00"),  # 1/365 of 1.00 = 0.0027
    ("100.00", "102.00", "2026-01-01", "2027-01-01", "2026-12-31", "0.01"),  # 0.0055 half up
    ("100.00", "100.00", "2026-01-01", "2027-01-01", "2026-03-01", "0.00"),
    ("320.00", "600.00", "2026-01-01", "2027-01-01", "2027-02-01", "0.00"),  # after the period
    ("320.00", "600.00", "2026-01-01", "2027-01-01", "2025-12-01", "280.00"),  # before it: all of it
    ("120.00", "240.00", "2026-01-01", "2026-01-31", "2026-01-16", "60.00"),  # a 30-day term, half left
]


@pytest.mark.parametrize(("old", "new", "start", "end", "on", "delta"), DELTAS)
def test_premium_delta_pro_rata_rounded_once_to_the_fen(old, new, start, end, on, delta) -> None:
    d = datetime.date.fromisoformat
    got = er.premium_delta(Decimal(old), Decimal(new), period_start=d(start), period_end=d(end), on=d(on))
    assert got == Decimal(delta) and got.as_tuple().exponent == -2


PERIODS = [
    # effective, expires, on → period
    ("2026-01-01", "2027-01-01", "2026-06-01", ("2026-01-01", "2027-01-01")),
    ("2026-01-01", "2026-04-01", "2026-02-01", ("2026-01-01", "2026-04-01")),  # short term
    ("2020-03-01", "2040-03-01", "2026-06-01", ("2026-03-01", "2027-03-01")),  # policy year 7
    ("2020-03-01", None, "2026-02-28", ("2025-03-01", "2026-03-01")),  # whole life
    ("2020-03-01", "2026-09-01", "2026-06-01", ("2026-03-01", "2026-09-01")),  # last, shorter year
]


@pytest.mark.parametrize(("effective", "expires", "on", "period"), PERIODS)
def test_premium_period_is_the_term_or_the_current_policy_year(effective, expires, on, period) -> None:
    d = datetime.date.fromisoformat
    got = er.premium_period(d(effective), d(expires) if expires else None, d(on))
    assert got == (d(period[0]), d(period[1]))


def test_the_loading_is_kept_on_a_rerated_premium() -> None:
    assert er.loaded_premium(Decimal("600.00"), Decimal("25")) == Decimal("750.00")
    assert er.loaded_premium(Decimal("333.33"), Decimal("10")) == Decimal("366.66")


def test_an_unknown_kind_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationFailed) as refused:
        er.parse_kind("address_book")
    assert refused.value.errors[0].field == "kind"
