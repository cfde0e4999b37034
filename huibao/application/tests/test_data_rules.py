"""The rules of the data entered (`rules.check_data`): pure, no database. Table-driven: each row a
change to a valid application's data and the (field, code) errors it must give, or none."""

from __future__ import annotations

import dataclasses
import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huibao.application import rules
from huibao.application.rules import ApplicantInput, ApplicationData, BeneficiaryInput, InsuredInput
from huibao.core.validators import id_check_digit

TODAY = datetime.date(2026, 6, 1)
NAMED = rules.parse_rules({"beneficiary": "named_allowed", "max_insured": 3})
CANCER = rules.HealthQuestion(code="cancer", text="是否患有恶性肿瘤？")
PLATE = rules.parse_rules({"subject": [{"code": "plate_number", "label": "车牌号", "required": False}]})


def rid(birth: str, serial: str = "123") -> str:
    first17 = "110105" + birth + serial
    return first17 + id_check_digit(first17)


APPLICANT_ID = rid("19900307")
WIFE_ID = rid("19920515", "022")
SON_ID = rid("20180101", "015")


def beneficiary(
    share: Any, order: Any = 1, *, name: str = "李红", id_number: str = WIFE_ID
) -> BeneficiaryInput:
    return BeneficiaryInput(
        name=name, id_number=id_number, relation="spouse", share_percent=share, order=order
    )


def data(
    *,
    beneficiaries: list[BeneficiaryInput] | None = None,
    answers: dict[str, Any] | None = None,
    insured: list[InsuredInput] | None = None,
    subject: dict[str, str] | None = None,
    **applicant: Any,
) -> ApplicationData:
    person = InsuredInput(
        relation="self",
        health_answers={"cancer": False} if answers is None else answers,
        beneficiaries=beneficiaries if beneficiaries is not None else [beneficiary("100")],
    )
    return ApplicationData(
        applicant=ApplicantInput(
            **{
                "name": "王小明",
                "id_number": APPLICANT_ID,
                "phone": "13900001111",
                "email": "wang@example.com",
                "address": "北京市朝阳区建国路1号",
                **applicant,
            }
        ),
        insured=insured if insured is not None else [person],
        beneficiary_mode="named",
        subject=subject or {},
    )


def check(d: ApplicationData, rule_sets: list[rules.ApplicationRules] | None = None) -> Any:
    return rules.check_data(d, rule_sets=rule_sets or [NAMED], questions=[CANCER], today=TODAY)


def errors_of(
    d: ApplicationData, rule_sets: list[rules.ApplicationRules] | None = None
) -> set[tuple[str, str]]:
    return {(e.field, e.code) for e in check(d, rule_sets)[0]}


B0 = "insured[0].beneficiaries[0]"
B1 = "insured[0].beneficiaries[1]"


def test_valid_data_gives_no_error_and_normalised_values() -> None:
    errors, values = check(data())
    assert errors == []
    assert values["applicant"]["name"] == "王小明"
    assert values["persons"][0]["beneficiaries"][0]["share"] == Decimal("100.00")


# --- beneficiary shares: exactly as entered ---------------------------------------------------------


@pytest.mark.parametrize(
    ("shares", "expected"),
    [
        (
            ["50.005", "49.995"],
            {(f"{B0}.share_percent", "too_many_decimals"), (f"{B1}.share_percent", "too_many_decimals")},
        ),
        (
            [Decimal("50.005"), Decimal("49.995")],
            {(f"{B0}.share_percent", "too_many_decimals"), (f"{B1}.share_percent", "too_many_decimals")},
        ),
        (
            [50.005, 49.995],
            {(f"{B0}.share_percent", "too_many_decimals"), (f"{B1}.share_percent", "too_many_decimals")},
        ),
        (
            ["33.333", "66.667"],
            {(f"{B0}.share_percent", "too_many_decimals"), (f"{B1}.share_percent", "too_many_decimals")},
        ),
        # 50.004 + 49.996 would round to 50.00 + 50.00 and add up: refused all the same
        (
            ["50.004", "49.996"],
            {(f"{B0}.share_percent", "too_many_decimals"), (f"{B1}.share_percent", "too_many_decimals")},
        ),
        (["50.01", "49.98"], {("insured[0].beneficiaries", "shares_not_100")}),
        (["60", "40"], set()),
        (["66.67", "33.33"], set()),
        ([Decimal("50.000"), 50], set()),  # trailing zeros are no extra precision
        ([50.5, "49.50"], set()),
        (["0", "100"], {(f"{B0}.share_percent", "out_of_range")}),
        (["-10", "110"], {(f"{B0}.share_percent", "out_of_range"), (f"{B1}.share_percent", "out_of_range")}),
        (["abc", "100"], {(f"{B0}.share_percent", "invalid")}),
        (["1e2", "0"], {(f"{B0}.share_percent", "invalid"), (f"{B1}.share_percent", "out_of_range")}),
        ([True, "100"], {(f"{B0}.share_percent", "invalid")}),
        ([Decimal("NaN"), "100"], {(f"{B0}.share_percent", "invalid")}),
        (
            [Decimal("9E+999999"), Decimal("9E+999999")],
            {(f"{B0}.share_percent", "out_of_range"), (f"{B1}.share_percent", "out_of_range")},
        ),
    ],
)
def test_shares_are_checked_as_entered(shares: list[Any], expected: set[tuple[str, str]]) -> None:
    d = data(beneficiaries=[beneficiary(shares[0]), beneficiary(shares[1], name="王小小", id_number=SON_ID)])
    assert errors_of(d) == expected


def test_a_valid_share_is_kept_as_entered() -> None:
    d = data(
        beneficiaries=[beneficiary("66.67"), beneficiary(Decimal("33.33"), name="王小小", id_number=SON_ID)]
    )
    _, values = check(d)
    assert [b["share"] for b in values["persons"][0]["beneficiaries"]] == [Decimal("66.67"), Decimal("33.33")]


@given(st.decimals(min_value=Decimal("0.001"), max_value=Decimal("99.999"), places=3))
def test_a_share_with_a_third_decimal_is_never_accepted(share: Decimal) -> None:
    rest = Decimal(100) - share
    d = data(beneficiaries=[beneficiary(str(share)), beneficiary(str(rest), name="王小小", id_number=SON_ID)])
    errors = errors_of(d)
    if share == share.quantize(Decimal("0.01")):
        assert errors == set()
    else:
        assert (f"{B0}.share_percent", "too_many_decimals") in errors


# --- beneficiary order ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "code"),
    [
        (1, None),
        ("1", None),
        (" 2 ", None),
        (rules.MAX_BENEFICIARY_ORDER, None),
        (0, "out_of_range"),
        ("0", "out_of_range"),
        (-1, "out_of_range"),
        ("-1", "out_of_range"),
        (rules.MAX_BENEFICIARY_ORDER + 1, "out_of_range"),
        (10**30, "out_of_range"),
        ("1" + "0" * 30, "out_of_range"),
        ("9" * 5000, "out_of_range"),  # past Python's limit for int(): never parsed
        (True, "invalid"),
        ("1.5", "invalid"),
        ("一", "invalid"),
        ("", "invalid"),
    ],
)
def test_the_order_starts_at_1_and_is_bounded(order: Any, code: str | None) -> None:
    errors = errors_of(data(beneficiaries=[beneficiary("100", order)]))
    assert errors == ({(f"{B0}.order", code)} if code else set())


def test_too_many_beneficiaries_are_refused() -> None:
    many = [beneficiary("20") for _ in range(rules.MAX_BENEFICIARIES + 1)]
    assert ("insured[0].beneficiaries", "too_many") in errors_of(data(beneficiaries=many))


# --- names ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "name", "code"),
    [
        ("applicant.name", "王\u202e明", "name_invisible"),
        ("applicant.name", "\u200b王小明", "name_invisible"),
        ("applicant.name", "王小明\ufeff", "name_invisible"),
        ("applicant.name", "王小明😀", "name_symbol"),
        ("applicant.name", "Wang", "name_chars"),
        (f"{B0}.name", "李\u202e红", "name_invisible"),
        (f"{B0}.name", "李红🌸", "name_symbol"),
    ],
)
def test_names_refuse_invisible_characters_and_emoji(where: str, name: str, code: str) -> None:
    on_applicant = where == "applicant.name"
    d = data(name=name) if on_applicant else data(beneficiaries=[beneficiary("100", name=name)])
    assert (where, code) in errors_of(d)


def test_an_insured_persons_name_refuses_invisible_characters() -> None:
    son = InsuredInput(
        relation="child", name="王\u200d小小", id_number=SON_ID, health_answers={"cancer": False}
    )
    d = dataclasses.replace(data(), insured=[son], beneficiary_mode="legal")
    assert errors_of(d) == {("insured[0].name", "name_invisible")}


def test_the_middle_dot_of_a_minority_name_is_accepted_and_its_look_alikes_become_it() -> None:
    for typed in ("阿卜杜拉·买买提", "阿卜杜拉•买买提", "阿卜杜拉・买买提"):
        errors, values = check(data(name=typed))
        assert errors == []
        assert values["applicant"]["name"] == "阿卜杜拉\u00b7买买提"


# --- health answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"cancer": False}, set()),
        ({"cancer": True}, set()),
        ({"cancer": "yes"}, {("insured[0].health_answers.cancer", "not_boolean")}),
        ({"cancer": "true"}, {("insured[0].health_answers.cancer", "not_boolean")}),
        ({"cancer": 1}, {("insured[0].health_answers.cancer", "not_boolean")}),
        ({"cancer": 0}, {("insured[0].health_answers.cancer", "not_boolean")}),
        ({}, {("insured[0].health_answers.cancer", "required")}),
        (
            {"cancer": False, "smoker": True},
            {("insured[0].health_answers.smoker", "unknown_question")},
        ),
    ],
)
def test_health_answers_are_real_booleans_to_known_questions(
    answers: dict[str, Any], expected: set[tuple[str, str]]
) -> None:
    assert errors_of(data(answers=answers)) == expected


def test_an_unknown_question_is_named_in_the_message() -> None:
    errors, _ = check(data(answers={"cancer": False, "smoker": True}))
    assert "smoker" in errors[0].message


PREGNANT = rules.HealthQuestion(code="pregnant", text="目前是否怀孕？", sex="F")
WOMAN_ID = rid("19920515", "024")  # an even 17th digit: a woman


@pytest.mark.parametrize(
    ("id_number", "answers", "expected_errors", "kept"),
    [
        # a man: not asked, so no answer is needed, and one sent anyway is not kept
        (APPLICANT_ID, {"cancer": False}, set(), {"cancer": False}),
        (APPLICANT_ID, {"cancer": False, "pregnant": True}, set(), {"cancer": False}),
        # a woman: asked and required
        (WOMAN_ID, {"cancer": False}, {("insured[0].health_answers.pregnant", "required")}, None),
        (WOMAN_ID, {"cancer": False, "pregnant": False}, set(), {"cancer": False, "pregnant": False}),
    ],
)
def test_a_question_for_women_is_asked_of_women_only(
    id_number: str, answers: dict[str, Any], expected_errors: set[tuple[str, str]], kept: Any
) -> None:
    # given: the insured is the applicant, a man or a woman by the ID number
    d = data(id_number=id_number, answers=answers)
    # when
    errors, values = rules.check_data(d, rule_sets=[NAMED], questions=[CANCER, PREGNANT], today=TODAY)
    # then
    assert {(e.field, e.code) for e in errors} == expected_errors
    if kept is not None:
        assert values["persons"][0]["answers"] == kept


def test_answers_are_listed_in_the_order_the_form_asked_them() -> None:
    questions = [{"code": "hospitalised", "text": "住院？"}, {"code": "cancer", "text": "肿瘤？"}]
    stored = {"cancer": True, "old_code": False, "hospitalised": False}  # as stored: by code
    assert rules.answers_in_form_order(questions, stored) == [
        ("hospitalised", "住院？", False),
        ("cancer", "肿瘤？", True),
        ("old_code", "old_code", False),
    ]


# --- lengths and free text --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"address": "路" * rules.ADDRESS_MAX}, set()),
        ({"address": "路" * (rules.ADDRESS_MAX + 1)}, {("applicant.address", "too_long")}),
        ({"address": "建国路\u202e1号"}, {("applicant.address", "invisible_characters")}),
        ({"address": "建国路\n1号"}, {("applicant.address", "invisible_characters")}),
        ({"occupation": "职" * (rules.OCCUPATION_MAX + 1)}, {("applicant.occupation", "too_long")}),
        ({"email": "wang @example.com"}, {("applicant.email", "invalid")}),
        ({"email": "wang@example"}, {("applicant.email", "invalid")}),
        ({"email": "wang\u200b@example.com"}, {("applicant.email", "invalid")}),
        ({"email": "a" * 250 + "@x.com"}, {("applicant.email", "invalid")}),
        ({"region": "110105"}, set()),
        ({"region": "11010"}, {("applicant.region", "invalid")}),
        ({"region": "１１０１０５"}, {("applicant.region", "invalid")}),
    ],
)
def test_free_text_has_limits_and_no_invisible_characters(
    changes: dict[str, str], expected: set[tuple[str, str]]
) -> None:
    assert errors_of(data(**changes)) == expected


def test_the_insured_persons_occupation_and_class_are_checked_not_cut() -> None:
    person = InsuredInput(
        relation="self", occupation="职" * 41, occupation_class="七", health_answers={"cancer": False}
    )
    d = dataclasses.replace(data(), insured=[person], beneficiary_mode="legal")
    assert errors_of(d) == {
        ("insured[0].occupation", "too_long"),
        ("insured[0].occupation_class", "out_of_range"),
    }


@pytest.mark.parametrize(("value", "expected"), [("", None), (None, None), ("3", 3), (3, 3)])
def test_an_occupation_class_may_be_left_out(value: Any, expected: int | None) -> None:
    person = InsuredInput(relation="self", occupation_class=value, health_answers={"cancer": False})
    errors, values = check(dataclasses.replace(data(), insured=[person], beneficiary_mode="legal"))
    assert errors == [] and values["persons"][0]["occupation_class"] == expected


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ({"plate_number": "京a12345"}, set()),
        ({"plate_number": "京" * (rules.SUBJECT_VALUE_MAX + 1)}, {("subject.plate_number", "too_long")}),
        ({"plate_number": "京A\u200b12345"}, {("subject.plate_number", "invisible_characters")}),
        ({"colour": "red"}, {("subject.colour", "unknown_field")}),
    ],
)
def test_the_subject_has_known_fields_and_limits(
    subject: dict[str, str], expected: set[tuple[str, str]]
) -> None:
    d = dataclasses.replace(data(subject=subject), beneficiary_mode="legal")
    assert errors_of(d, [PLATE]) == expected


def test_too_many_insured_are_refused_and_not_all_checked() -> None:
    person = InsuredInput(relation="child", name="王小小", id_number=SON_ID, health_answers={"cancer": False})
    d = dataclasses.replace(data(), insured=[person] * 1000, beneficiary_mode="legal")
    errors, values = check(d)
    assert ("insured", "too_many") in {(e.field, e.code) for e in errors}
    assert len(values["persons"]) == rules.MAX_INSURED


def test_a_product_cannot_allow_more_insured_than_the_platform_bound() -> None:
    assert rules.validate_rules({"max_insured": rules.MAX_INSURED}) == []
    assert [e.field for e in rules.validate_rules({"max_insured": rules.MAX_INSURED + 1})] == [
        "application_rules.max_insured"
    ]
