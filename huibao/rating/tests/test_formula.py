from decimal import Decimal

import pytest

from huibao.rating.errors import MissingFactor, SpecError
from huibao.rating.formula import Scope, Table, Type, compile_formula, key_part, parse, tokenize

TABLES = {
    "occ": Table.from_spec(
        "occ", {"label": "职业", "keys": ["occupation_class"], "values": {"1": "1", "2": "1.25"}}
    ),
    "age_sex": Table.from_spec(
        "age_sex",
        {
            "keys": ["age", "sex"],
            "bands": {"age": [0, 18, 41]},
            "values": {"0|M": "1", "18|M": "2", "41|F": "3"},
        },
    ),
}
SCOPE = Scope(
    names={"age": Type.NUM, "sex": Type.STR, "occupation_class": Type.NUM, "x": Type.NUM, "flag": Type.BOOL},
    tables=TABLES,
    constants={"k": Decimal("10")},
)


def evaluate(source, **env):
    compiled = compile_formula(source, SCOPE)
    values = {
        name: Decimal(v) if isinstance(v, int | str) and name not in ("sex",) else v
        for name, v in env.items()
    }
    log = []
    return compiled.fn(values, log), log


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2 * 3", "7"),
        ("(1 + 2) * 3", "9"),
        ("10 - 4 - 3", "3"),
        ("2 * 3 / 4", "1.5"),
        ("-2 * -3", "6"),
        ("--5", "5"),
        ("1 / 3 * 3", "0.9999999999999999999999999999"),
        ("min(3, 1, 2)", "1"),
        ("max(3, 1, 2)", "3"),
        ("clamp(15, 0, 10)", "10"),
        ("clamp(-5, 0, 10)", "0"),
        ("ceil(1.01)", "2"),
        ("floor(1.99)", "1"),
        ("floor(-1.5)", "-2"),
        ("if(1 < 2, 5, 6)", "5"),
        ("if(1 > 2 or 2 > 1 and not 3 == 3, 5, 6)", "6"),
        ("k * 2", "20"),
        (".5 + 0.25", "0.75"),
    ],
)
def test_arithmetic_and_functions_follow_precedence(source, expected):
    # given a constant formula
    # when it is compiled and evaluated
    value, _ = evaluate(source)
    # then it has the exact decimal value
    assert value == Decimal(expected)
    assert isinstance(value, Decimal)


def test_and_binds_tighter_than_or_and_not_tighter_than_and():
    # given: true or (false and false) → true; (not true) and false → false
    assert evaluate("1 == 1 or 1 == 2 and 1 == 2")[0] is True
    assert evaluate("not 1 == 1 and 1 == 2")[0] is False


def test_names_read_the_environment_and_strings_compare():
    # given an environment with inputs
    # when a formula uses them
    value, _ = evaluate("if(sex == 'F', x * 0.9, x)", sex="F", x=100)
    # then they are read
    assert value == Decimal("90.0")


def test_table_looks_up_declared_keys_and_logs_the_lookup():
    # given occupation class 2
    value, log = evaluate("table('occ') * 100", occupation_class=2)
    # then the factor is 1.25 and the lookup is recorded
    assert value == Decimal("125.00")
    assert log == [("occ", "2", Decimal("1.25"))]


def test_lookup_applies_bands_to_explicit_keys():
    # given age 37, bands [0, 18, 41] → band 18
    value, log = evaluate("lookup('age_sex', age, 'M')", age=37)
    # then
    assert value == Decimal("2")
    assert log == [("age_sex", "18|M", Decimal("2"))]


def test_missing_entry_names_table_and_key():
    # given age 45 female → key 41|F exists; 45 male → 41|M is missing
    with pytest.raises(MissingFactor) as info:
        evaluate("table('age_sex')", age=45, sex="M")
    # then
    assert info.value.table == "age_sex"
    assert info.value.key == "41|M"
    assert info.value.field_error().code == "missing_factor"


@pytest.mark.parametrize(
    ("source", "message_part", "position"),
    [
        ("1 +", "需要数字", 3),
        ("(1 + 2", "需要 ')'", 6),
        ("foo + 1", "未知的名称 'foo'", 0),
        ("sqrt(4)", "未知的函数 'sqrt'", 0),
        ("min(1)", "至少 2", 0),
        ("ceil(1, 2)", "需要 1 个参数", 0),
        ("table('nope')", "未知的费率表 'nope'", 6),
        ("table(sex)", "费率表名称字符串", 6),
        ("lookup('age_sex', 1)", "需要 2 个键", 0),
        ("1 / 0", "除数为零", 2),
        ("1 / (2 - 2)", "除数为零", 2),
        ("sex + 1", "需要数字", 4),
        ("if(1, 2, 3)", "条件", 3),
        ("if(flag, 1, 'a')", "类型不同", 0),
        ("x == 'a'", "类型不同", 2),
        ("1 < 2 < 3", "不能连用", 6),
        ("1 $ 2", "无法识别", 2),
        ("'abc", "结束引号", 0),
        ("2x", "数字后", 1),
        ("min", "括号", 0),
        ("1 2", "多余", 2),
    ],
)
def test_spec_errors_carry_position(source, message_part, position):
    # when a bad formula is compiled
    with pytest.raises(SpecError) as info:
        compile_formula(source, SCOPE, step="premium")
    # then the error names the problem, the step and the column
    assert message_part in info.value.message
    assert info.value.position == position
    assert info.value.step == "premium"


def test_runtime_division_by_zero_raises_arithmetic_error():
    compiled = compile_formula("1 / x", SCOPE)
    with pytest.raises(ArithmeticError):
        compiled.fn({"x": Decimal(0)}, [])


def test_names_collects_inputs_and_table_keys():
    compiled = compile_formula("table('age_sex') * x + k", SCOPE)
    assert compiled.names == {"age", "sex", "x"}
    assert compiled.type is Type.NUM


def test_tokenizer_and_parser_build_expected_shapes():
    assert [t.kind for t in tokenize("a <= 'b'")] == ["NAME", "OP", "STRING", "EOF"]
    assert parse("1 + 2 * 3").op == "+"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("value", "text"), [(Decimal("1.00"), "1"), (Decimal("0.50"), "0.5"), ("M", "M"), (3, "3")]
)
def test_key_part_is_canonical(value, text):
    assert key_part(value) == text


def test_table_keys_are_canonicalised_and_validated():
    table = Table.from_spec("t", {"keys": ["a"], "values": {"1.0": "2"}})
    assert table.values == {"1": Decimal("2")}
    with pytest.raises(SpecError, match="个数不符"):
        Table.from_spec("t", {"keys": ["a", "b"], "values": {"1": "2"}})
    with pytest.raises(SpecError, match="严格递增"):
        Table.from_spec("t", {"keys": ["a"], "bands": {"a": [5, 1]}, "values": {"1": "2"}})
