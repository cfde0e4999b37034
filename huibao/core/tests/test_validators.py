import datetime

import pytest
from stdnum.cn import ric

from huibao.core.errors import ValidationFailed
from huibao.core.validators import (
    ResidentId,
    id_check_digit,
    normalise_person_name,
    text_problem,
    validate_bank_card,
    validate_mobile,
    validate_person_name,
    validate_resident_id,
)


def with_check(first17: str) -> str:
    return first17 + ric.calc_check_digit(first17 + "0")


def field_error(exc: pytest.ExceptionInfo[ValidationFailed]) -> tuple[str, str]:
    (error,) = exc.value.errors
    return error.field, error.code


def test_valid_id_returns_what_the_number_encodes():
    # given a Beijing Chaoyang number of a woman born 31 Dec 1949 ending in X
    number = "11010519491231002x"
    # when
    result = validate_resident_id(number)
    # then
    assert result == ResidentId(
        number="11010519491231002X",
        birth_date=datetime.date(1949, 12, 31),
        sex="F",
        region_code="110105",
        region_name="北京市朝阳区",
    )


def test_odd_17th_digit_is_male():
    # given
    number = with_check("36042619910101007")
    # when
    result = validate_resident_id(number)
    # then
    assert result.sex == "M"
    assert result.region_name == "江西省德安县"


@pytest.mark.parametrize("first17", ["11010519900307123", "44030519851120456", "51010720000229789"])
def test_check_digit_matches_iso_7064_reference(first17):
    # given / when / then: our MOD 11-2 agrees with python-stdnum's
    assert id_check_digit(first17) == ric.calc_check_digit(first17 + "0")


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("11010519491231002", "id_format"),  # 17 characters
        ("1101051949123100XX", "id_format"),  # X not last
        ("11010519491231002A", "id_format"),
        ("110105194912310021", "id_checksum"),  # last digit should be X
        (with_check("11010519490231002"), "id_birth_date"),  # 31 February
        (with_check("11010521990101002"), "id_birth_date"),  # born in 2199
        (with_check("99010519900101002"), "id_region"),  # no region 990105
    ],
)
def test_invalid_id_names_field_and_rule(number, code):
    # given a number broken in one way
    # when
    with pytest.raises(ValidationFailed) as exc:
        validate_resident_id(number, field="insured_id")
    # then
    assert field_error(exc) == ("insured_id", code)
    assert exc.value.code == code
    assert exc.value.errors[0].message  # Chinese message for the page


def test_checksum_message_is_chinese():
    with pytest.raises(ValidationFailed) as exc:
        validate_resident_id("110105194912310021")
    assert exc.value.errors[0].message == "身份证号校验位错误"
    assert exc.value.errors[0].field == "id_number"


def test_birth_date_in_future_relative_to_today_is_refused():
    # given a date valid today but checked as of the day before
    number = with_check("11010520240101002")
    # when / then
    assert validate_resident_id(number, today=datetime.date(2024, 1, 1)).birth_date == datetime.date(
        2024, 1, 1
    )
    with pytest.raises(ValidationFailed) as exc:
        validate_resident_id(number, today=datetime.date(2023, 12, 31))
    assert field_error(exc) == ("id_number", "id_birth_date")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("13812345678", "13812345678"), ("+86 138 1234 5678", "13812345678"), ("8619912345678", "19912345678")],
)
def test_valid_mobile_is_normalised(raw, expected):
    assert validate_mobile(raw) == expected


@pytest.mark.parametrize("raw", ["12812345678", "1381234567", "138123456789", "1381234567a", ""])
def test_invalid_mobile(raw):
    with pytest.raises(ValidationFailed) as exc:
        validate_mobile(raw)
    assert field_error(exc) == ("phone", "phone_format")


def test_valid_card_numbers():
    # given Luhn-valid numbers of 16 and 19 digits, one typed in groups
    assert validate_bank_card("4111 1111 1111 1111") == "4111111111111111"
    assert validate_bank_card("6222020200112233446") == "6222020200112233446"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("4111111111111112", "card_luhn"),
        ("41111111111", "card_format"),  # 11 digits
        ("41111111111111111111", "card_format"),  # 20 digits
        ("4111-1111-1111-111a", "card_format"),
    ],
)
def test_invalid_card(raw, code):
    with pytest.raises(ValidationFailed) as exc:
        validate_bank_card(raw, field="payout_card")
    assert field_error(exc) == ("payout_card", code)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("王小明", "王小明"),
        (" 张 三 ", "张三"),
        ("张\u3000三", "张三"),  # the ideographic space is whitespace too
        ("阿卜杜拉·买买提", "阿卜杜拉·买买提"),  # U+00B7, as on the ID card
        # the dots typed in its place all become U+00B7
        ("阿卜杜拉•买买提", "阿卜杜拉·买买提"),  # U+2022
        ("阿卜杜拉・买买提", "阿卜杜拉·买买提"),  # U+30FB
        ("阿卜杜拉･买买提", "阿卜杜拉·买买提"),  # U+FF65
        ("阿卜杜拉‧买买提", "阿卜杜拉·买买提"),  # U+2027
        ("阿卜杜拉∙买买提", "阿卜杜拉·买买提"),  # U+2219
        ("阿卜杜拉⋅买买提", "阿卜杜拉·买买提"),  # U+22C5
        ("阿卜杜拉．买买提", "阿卜杜拉·买买提"),  # U+FF0E
        ("阿卜杜拉.买买提", "阿卜杜拉·买买提"),
        ("阿卜杜拉 · 买买提", "阿卜杜拉·买买提"),
        ("𠮷野家", "𠮷野家"),
    ],
)
def test_a_name_is_normalised_and_accepted(raw, expected):
    assert normalise_person_name(raw) == expected
    assert validate_person_name(raw, field="applicant.name") == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "required"),
        ("  ", "required"),
        ("张", "name_length"),
        ("张" * 31, "name_length"),
        ("王\u202e明", "name_invisible"),  # right-to-left override
        ("王\u200b明", "name_invisible"),  # zero-width space
        ("\ufeff王明", "name_invisible"),  # byte order mark
        ("王\u200d明", "name_invisible"),  # zero-width joiner
        ("王\u2066明\u2069", "name_invisible"),  # bidi isolates
        ("王\x00明", "name_invisible"),
        ("王\x7f明", "name_invisible"),
        ("王\ud800明", "name_invisible"),  # a lone surrogate
        ("王\ue000明", "name_invisible"),  # private use
        ("王明\ufe0f", "name_invisible"),  # a variation selector on its own
        ("王😀明", "name_symbol"),
        ("王明❤️", "name_symbol"),
        ("👨\u200d👩\u200d👧王", "name_symbol"),
        ("王☆明", "name_symbol"),
        ("王+明", "name_symbol"),
        ("Zhang San", "name_chars"),
        ("张三1", "name_chars"),
        ("张三-李", "name_chars"),
        ("·张三", "name_chars"),
        ("张三·", "name_chars"),
        ("张··三", "name_chars"),
        ("张•·三", "name_chars"),  # two dots once normalised
    ],
)
def test_a_name_with_anything_but_chinese_characters_and_the_dot_is_refused(raw, code):
    with pytest.raises(ValidationFailed) as exc:
        validate_person_name(raw, field="insured[0].name")
    assert field_error(exc) == ("insured[0].name", code)
    assert exc.value.errors[0].message.startswith(("姓名", "请填写姓名", "间隔号"))


@pytest.mark.parametrize(
    ("value", "multiline", "code"),
    [
        ("北京市朝阳区建国路1号", False, None),
        ("a" * 200, False, None),
        ("a" * 201, False, "too_long"),
        ("建国路\n1号", False, "invisible_characters"),
        ("建国路\n1号", True, None),
        ("建国路\u202e1号", True, "invisible_characters"),
        ("建国路\x00", False, "invisible_characters"),
    ],
)
def test_free_text_has_a_limit_and_no_invisible_characters(value, multiline, code):
    problem = text_problem(value, max_length=200, multiline=multiline)
    assert (problem[0] if problem else None) == code


@pytest.mark.parametrize(
    ("first17", "region"),
    [
        # 浦东新区 got 310115 in 1992: a Pudong number of someone born in 1986
        ("31011519860415123", "上海市浦东新区"),
        # 简阳市 has been under 成都 (510185) since 2016: holder born in 1975
        ("51018519750101234", "四川省简阳市"),
        # 栾城区 (130111) since 2014, holder born in 1990
        ("13011119900512345", "河北省栾城区"),
        # 崇文区 (110103) was merged into 东城区 in 2010: a code that no longer exists, still valid
        ("11010319800101123", "北京市崇文区"),
        # 南头区办事处 became 南山区 (440305) in 1990: born 1985, named by the latest name
        ("44030519851120456", "广东省南山区"),
    ],
)
def test_id_keeps_the_code_of_where_it_was_issued_whatever_the_birth_year(first17, region):
    # given a real district code created, renamed or abolished after (or before) the holder's birth
    number = with_check(first17)
    # when
    result = validate_resident_id(number)
    # then: accepted, with the division's latest name
    assert result.region_code == first17[:6]
    assert result.region_name == region


@pytest.mark.parametrize("code", ["999999", "110199", "990105"])
def test_codes_no_division_ever_had_are_refused(code):
    with pytest.raises(ValidationFailed) as exc:
        validate_resident_id(with_check(code + "19900101002"))
    assert field_error(exc) == ("id_number", "id_region")
