"""The input guard's pure parts: which characters, where in a JSON document, which integers."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from huibao.core.api_input import INT64_MAX, INT64_MIN, out_of_range
from huibao.core.input_guard import character_problem, json_refusal, load_json


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("王小明", None),
        ("a\x00b", "null_character"),
        ("\ud800", "surrogate"),
        ("\udfff tail", "surrogate"),
        ("😀", None),  # a valid pair decodes to one code point
    ],
)
def test_character_problem(text, problem):
    assert character_problem(text) == problem


def test_a_json_refusal_names_where_the_character_sits():
    data = load_json(b'{"insured": [{"name": "ok"}, {"beneficiaries": [{"name": "\\u0000"}]}]}')
    error = json_refusal(data)
    assert error is not None
    assert [e.field for e in error.errors] == ["insured[1].beneficiaries[0].name"]


def test_a_key_with_a_lone_surrogate_is_refused_without_echoing_it():
    error = json_refusal(load_json(b'{"a": {"\\udc00": 1}}'))
    assert error is not None
    assert error.errors[0].field == "a.\ufffd"
    assert error.errors[0].code == "surrogate"


@pytest.mark.parametrize("body", [b'{"x": NaN}', b'{"x": Infinity}', b'{"x": 1e400}', b'{"x": -Infinity}'])
def test_strict_json_refuses_what_is_not_a_finite_number(body):
    with pytest.raises(ValueError):
        load_json(body)


class Beneficiary(BaseModel):
    order: int = 1


class Insured(BaseModel):
    beneficiaries: list[Beneficiary] = []
    answers: dict[str, bool] = {}


class Data(BaseModel):
    insured: list[Insured] = []
    extra: dict[str, object] = {}


def test_out_of_range_names_every_integer_that_does_not_fit_64_bits_in_input_order():
    ok = Data(insured=[Insured(beneficiaries=[Beneficiary(order=INT64_MAX)])], extra={"n": INT64_MIN})
    assert out_of_range({"payload": ok, "document_id": 3}) == []
    deep = Data(
        insured=[Insured(), Insured(beneficiaries=[Beneficiary(order=10**30), Beneficiary(order=-(10**30))])]
    )
    assert out_of_range({"payload": deep, "document_id": 2**63}) == [
        "insured[1].beneficiaries[0].order",
        "insured[1].beneficiaries[1].order",
        "document_id",
    ]
    assert out_of_range({"payload": Data(extra={"ink": [[1, -(2**63) - 1]]})}) == ["extra.ink[0][1]"]
    assert out_of_range({"flag": True}) == []


def test_an_escaped_surrogate_pair_is_one_character_and_passes():
    assert json_refusal(load_json(b'{"comment": "\\ud83d\\ude00 \\u738b"}')) is None


def test_only_escapes_that_can_decode_to_nul_or_a_surrogate_are_suspect():
    from huibao.core.input_guard import SUSPECT_ESCAPE

    assert SUSPECT_ESCAPE.search(b'{"a": "\\u738b\\u00e9"}') is None
    assert SUSPECT_ESCAPE.search(b'{"a": "\\u0000"}')
    assert SUSPECT_ESCAPE.search(b'{"a": "\\uDc00"}')
