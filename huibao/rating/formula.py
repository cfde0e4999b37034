"""The formula language of pricing specs (see `docs/rating.md`): a tokenizer, a recursive-descent
parser and a compiler to Python closures evaluated on `Decimal`.

There is no `eval` and no use of Python's `ast`: a formula is parsed by the grammar below, checked
against a `Scope` (known names with their types, declared tables, function arities) and compiled
once into nested closures `fn(env, log) -> value`. `env` maps names to values (`Decimal`, `str`,
`bool`); `log` is a list that table lookups append `(table, key, value)` to, so each step can
explain itself.

    expr    := or
    or      := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | cmp
    cmp     := sum (("<"|"<="|">"|">="|"=="|"!=") sum)?
    sum     := term (("+"|"-") term)*
    term    := unary (("*"|"/") unary)*
    unary   := "-" unary | atom
    atom    := NUMBER | STRING | NAME | NAME "(" args ")" | "(" expr ")"

Every static problem (syntax, unknown name or function, arity, type mismatch, division by a zero
constant) raises `SpecError` with the column of the offending token.
"""

from __future__ import annotations

import operator
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from enum import Enum
from typing import Any

from huibao.rating.errors import MissingFactor, SpecError

Value = Decimal | str | bool
Log = list[tuple[str, str, Decimal]]
Env = dict[str, Any]
Compiled = Callable[[Env, Log], Any]


class Type(Enum):
    NUM = "number"
    STR = "string"
    BOOL = "boolean"


# --- Tokens ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # NUMBER, STRING, NAME, OP, EOF
    text: str
    pos: int  # 0-based offset in the source


_TWO_CHAR_OPS = {"<=", ">=", "==", "!="}
_ONE_CHAR_OPS = set("+-*/()<>,")
_KEYWORDS = {"and", "or", "not"}


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch.isspace():
            i += 1
            continue
        if ch.isdigit() or (ch == "." and i + 1 < n and source[i + 1].isdigit()):
            start = i
            while i < n and source[i].isdigit():
                i += 1
            if i < n and source[i] == ".":
                i += 1
                while i < n and source[i].isdigit():
                    i += 1
            if i < n and (source[i].isalpha() or source[i] == "_"):
                raise SpecError(f"第 {i + 1} 列：数字后不能紧跟名称", position=i)
            tokens.append(Token("NUMBER", source[start:i], start))
            continue
        if ch.isalpha() or ch == "_":
            start = i
            while i < n and (source[i].isalnum() or source[i] == "_"):
                i += 1
            tokens.append(Token("NAME", source[start:i], start))
            continue
        if ch in "'\"":
            start = i
            end = source.find(ch, i + 1)
            if end < 0:
                raise SpecError(f"第 {start + 1} 列：字符串没有结束引号", position=start)
            tokens.append(Token("STRING", source[i + 1 : end], start))
            i = end + 1
            continue
        if source[i : i + 2] in _TWO_CHAR_OPS:
            tokens.append(Token("OP", source[i : i + 2], i))
            i += 2
            continue
        if ch in _ONE_CHAR_OPS:
            tokens.append(Token("OP", ch, i))
            i += 1
            continue
        raise SpecError(f"第 {i + 1} 列：无法识别的字符 {ch!r}", position=i)
    tokens.append(Token("EOF", "", n))
    return tokens


# --- AST ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Num:
    value: Decimal
    pos: int


@dataclass(frozen=True, slots=True)
class Str:
    value: str
    pos: int


@dataclass(frozen=True, slots=True)
class Name:
    name: str
    pos: int


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Node, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "-" or "not"
    operand: Node
    pos: int


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Node
    right: Node
    pos: int


Node = Num | Str | Name | Call | Unary | Binary


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = tokenize(source)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def _is(self, kind: str, text: str | None = None) -> bool:
        tok = self.tokens[self.i]
        return tok.kind == kind and (text is None or tok.text == text)

    def _keyword(self, word: str) -> bool:
        return self._is("NAME", word)

    def _expect_op(self, text: str) -> Token:
        tok = self.tok
        if tok.kind != "OP" or tok.text != text:
            found = tok.text or "结尾"
            raise SpecError(f"第 {tok.pos + 1} 列：需要 {text!r}，实际是 {found!r}", position=tok.pos)
        self.i += 1
        return tok

    def parse(self) -> Node:
        node = self.parse_or()
        if self.tok.kind != "EOF":
            raise SpecError(f"第 {self.tok.pos + 1} 列：多余的内容 {self.tok.text!r}", position=self.tok.pos)
        return node

    def parse_or(self) -> Node:
        node = self.parse_and()
        while self._keyword("or"):
            pos = self.tok.pos
            self.i += 1
            node = Binary("or", node, self.parse_and(), pos)
        return node

    def parse_and(self) -> Node:
        node = self.parse_not()
        while self._keyword("and"):
            pos = self.tok.pos
            self.i += 1
            node = Binary("and", node, self.parse_not(), pos)
        return node

    def parse_not(self) -> Node:
        if self._keyword("not"):
            pos = self.tok.pos
            self.i += 1
            return Unary("not", self.parse_not(), pos)
        return self.parse_cmp()

    def parse_cmp(self) -> Node:
        node = self.parse_sum()
        tok = self.tok
        if tok.kind == "OP" and tok.text in ("<", "<=", ">", ">=", "==", "!="):
            self.i += 1
            node = Binary(tok.text, node, self.parse_sum(), tok.pos)
            nxt = self.tok
            if nxt.kind == "OP" and nxt.text in ("<", "<=", ">", ">=", "==", "!="):
                raise SpecError(f"第 {nxt.pos + 1} 列：比较不能连用，请用 and 连接", position=nxt.pos)
        return node

    def parse_sum(self) -> Node:
        node = self.parse_term()
        while self.tok.kind == "OP" and self.tok.text in ("+", "-"):
            tok = self.tok
            self.i += 1
            node = Binary(tok.text, node, self.parse_term(), tok.pos)
        return node

    def parse_term(self) -> Node:
        node = self.parse_unary()
        while self.tok.kind == "OP" and self.tok.text in ("*", "/"):
            tok = self.tok
            self.i += 1
            node = Binary(tok.text, node, self.parse_unary(), tok.pos)
        return node

    def parse_unary(self) -> Node:
        if self._is("OP", "-"):
            pos = self.tok.pos
            self.i += 1
            return Unary("-", self.parse_unary(), pos)
        return self.parse_atom()

    def parse_atom(self) -> Node:
        tok = self.tok
        if tok.kind == "NUMBER":
            self.i += 1
            return Num(Decimal(tok.text), tok.pos)
        if tok.kind == "STRING":
            self.i += 1
            return Str(tok.text, tok.pos)
        if tok.kind == "NAME":
            if tok.text in _KEYWORDS:
                raise SpecError(f"第 {tok.pos + 1} 列：关键字 {tok.text!r} 不能用在这里", position=tok.pos)
            self.i += 1
            if self._is("OP", "("):
                self.i += 1
                args: list[Node] = []
                if not self._is("OP", ")"):
                    args.append(self.parse_or())
                    while self._is("OP", ","):
                        self.i += 1
                        args.append(self.parse_or())
                self._expect_op(")")
                return Call(tok.text, tuple(args), tok.pos)
            return Name(tok.text, tok.pos)
        if tok.kind == "OP" and tok.text == "(":
            self.i += 1
            node = self.parse_or()
            self._expect_op(")")
            return node
        found = tok.text or "结尾"
        raise SpecError(f"第 {tok.pos + 1} 列：需要数字、名称或括号，实际是 {found!r}", position=tok.pos)


def parse(source: str) -> Node:
    """Parses a formula into its AST; raises `SpecError` on a syntax error."""
    if not isinstance(source, str) or not source.strip():
        raise SpecError("公式不能为空", position=0)
    return _Parser(source).parse()


# --- Tables ---------------------------------------------------------------------------------


def key_part(value: object) -> str:
    """The canonical text of one lookup-key part: integral numbers without decimals ("1", not
    "1.00"), other numbers in plain notation, strings as they are."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return str(int(value))
        return format(value.normalize(), "f")
    if isinstance(value, int):
        return str(value)
    return str(value)


def _canonical_key(raw: str) -> str:
    parts = []
    for part in raw.split("|"):
        try:
            number = Decimal(part)
        except InvalidOperation:
            parts.append(part)
            continue
        parts.append(key_part(number) if number.is_finite() else part)
    return "|".join(parts)


@dataclass(frozen=True, slots=True)
class Band:
    bounds: tuple[Decimal, ...]
    labels: tuple[str, ...]

    def key(self, value: Decimal) -> str | None:
        index = bisect_right(self.bounds, value) - 1
        return self.labels[index] if index >= 0 else None


@dataclass(frozen=True)
class Table:
    name: str
    label: str
    keys: tuple[str, ...]
    bands: tuple[Band | None, ...]
    values: Mapping[str, Decimal]

    def key_of(self, parts: Sequence[object]) -> str | None:
        """The lookup key of the given key values, or None if a banded value is below every band."""
        texts: list[str] = []
        for band, value in zip(self.bands, parts, strict=True):
            if band is not None and isinstance(value, Decimal):
                banded = band.key(value)
                if banded is None:
                    return None
                texts.append(banded)
            else:
                texts.append(key_part(value))
        return "|".join(texts)

    @classmethod
    def from_spec(cls, name: str, raw: Mapping[str, Any]) -> Table:
        if not isinstance(raw, Mapping):
            raise SpecError(f"费率表 {name!r} 必须是对象", step=name)
        keys = raw.get("keys")
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
            raise SpecError(f"费率表 {name!r} 的 keys 必须是非空的名称列表", step=name)
        raw_bands = raw.get("bands") or {}
        if not isinstance(raw_bands, Mapping):
            raise SpecError(f"费率表 {name!r} 的 bands 必须是对象", step=name)
        for band_key in raw_bands:
            if band_key not in keys:
                raise SpecError(f"费率表 {name!r} 的分段 {band_key!r} 不在 keys 中", step=name)
        bands: list[Band | None] = []
        for key in keys:
            lows = raw_bands.get(key)
            if lows is None:
                bands.append(None)
                continue
            try:
                bounds = tuple(Decimal(str(b)) for b in lows)
            except InvalidOperation as exc:
                raise SpecError(f"费率表 {name!r} 的分段 {key!r} 必须是数字", step=name) from exc
            if not bounds or list(bounds) != sorted(set(bounds)):
                raise SpecError(f"费率表 {name!r} 的分段 {key!r} 必须严格递增", step=name)
            bands.append(Band(bounds, tuple(key_part(b) for b in bounds)))
        raw_values = raw.get("values")
        if not isinstance(raw_values, Mapping) or not raw_values:
            raise SpecError(f"费率表 {name!r} 的 values 不能为空", step=name)
        values: dict[str, Decimal] = {}
        for raw_key, raw_value in raw_values.items():
            if len(str(raw_key).split("|")) != len(keys):
                raise SpecError(f"费率表 {name!r} 的键 {raw_key!r} 与 keys {keys} 的个数不符", step=name)
            try:
                value = Decimal(str(raw_value))
            except InvalidOperation as exc:
                raise SpecError(f"费率表 {name!r} 中 {raw_key!r} 的值不是数字", step=name) from exc
            if not value.is_finite():
                raise SpecError(f"费率表 {name!r} 中 {raw_key!r} 的值不是有限数", step=name)
            values[_canonical_key(str(raw_key))] = value
        label = raw.get("label") or name
        return cls(name, str(label), tuple(keys), tuple(bands), values)


# --- Scope and compilation ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FunctionSig:
    min_args: int
    max_args: int | None


FUNCTIONS: dict[str, FunctionSig] = {
    "table": FunctionSig(1, 1),
    "lookup": FunctionSig(2, None),
    "min": FunctionSig(2, None),
    "max": FunctionSig(2, None),
    "if": FunctionSig(3, 3),
    "clamp": FunctionSig(3, 3),
    "ceil": FunctionSig(1, 1),
    "floor": FunctionSig(1, 1),
}


@dataclass
class Scope:
    """What a formula may refer to: names with their types, and the declared tables."""

    names: dict[str, Type]
    tables: Mapping[str, Table]
    constants: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class CompiledFormula:
    source: str
    type: Type
    names: frozenset[str]  # every name the formula reads (tables' keys included)
    fn: Compiled


_ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
_CMP = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


class _Compiler:
    def __init__(self, scope: Scope, step: str | None) -> None:
        self.scope = scope
        self.step = step
        self.names: set[str] = set()

    def error(self, message: str, pos: int) -> SpecError:
        return SpecError(f"第 {pos + 1} 列：{message}", position=pos, step=self.step)

    def compile(self, node: Node) -> tuple[Type, Compiled, Value | None]:
        """Returns (type, closure, constant value if the node is constant)."""
        match node:
            case Num(value=value):
                return Type.NUM, _const(value), value
            case Str(value=text):
                return Type.STR, _const(text), text
            case Name(name=name, pos=pos):
                return self._name(name, pos)
            case Unary(op="-", operand=operand, pos=pos):
                t, fn, c = self.compile(operand)
                self._want(t, Type.NUM, "负号", pos)
                if isinstance(c, Decimal):
                    return Type.NUM, _const(-c), -c
                return Type.NUM, lambda env, log: -fn(env, log), None
            case Unary(op=_, operand=operand, pos=pos):  # "not"
                t, fn, c = self.compile(operand)
                self._want(t, Type.BOOL, "not", pos)
                if c is not None:
                    return Type.BOOL, _const(not c), not c
                return Type.BOOL, lambda env, log: not fn(env, log), None
            case Binary(op=op, left=left, right=right, pos=pos):
                return self._binary(op, left, right, pos)
            case Call(name=name, args=args, pos=pos):
                return self._call(name, args, pos)
        raise self.error("无法编译的表达式", 0)  # pragma: no cover - exhaustive match

    def _want(self, got: Type, want: Type, what: str, pos: int) -> None:
        if got is not want:
            raise self.error(f"{what} 需要{_TYPE_CN[want]}，实际是{_TYPE_CN[got]}", pos)

    def _name(self, name: str, pos: int) -> tuple[Type, Compiled, Value | None]:
        if name in self.scope.constants:
            value = self.scope.constants[name]
            return Type.NUM, _const(value), value
        if name in FUNCTIONS:
            raise self.error(f"函数 {name} 需要用括号调用", pos)
        t = self.scope.names.get(name)
        if t is None:
            raise self.error(f"未知的名称 {name!r}", pos)
        self.names.add(name)
        return t, _getter(name), None

    def _binary(self, op: str, left: Node, right: Node, pos: int) -> tuple[Type, Compiled, Value | None]:
        lt, lf, lc = self.compile(left)
        rt, rf, rc = self.compile(right)
        if op in ("and", "or"):
            self._want(lt, Type.BOOL, op, pos)
            self._want(rt, Type.BOOL, op, pos)
            if op == "and":
                return Type.BOOL, lambda env, log: lf(env, log) and rf(env, log), None
            return Type.BOOL, lambda env, log: lf(env, log) or rf(env, log), None
        if op in _CMP:
            if op in ("==", "!="):
                if lt is not rt:
                    raise self.error(f"{op} 两边类型不同：{_TYPE_CN[lt]} 与 {_TYPE_CN[rt]}", pos)
            else:
                self._want(lt, Type.NUM, op, pos)
                self._want(rt, Type.NUM, op, pos)
            cmp = _CMP[op]
            return Type.BOOL, lambda env, log: cmp(lf(env, log), rf(env, log)), None
        self._want(lt, Type.NUM, op, pos)
        self._want(rt, Type.NUM, op, pos)
        if op == "/" and isinstance(rc, Decimal) and rc == 0:
            raise self.error("除数为零", pos)
        arith = _ARITH[op]
        if isinstance(lc, Decimal) and isinstance(rc, Decimal):
            value = arith(lc, rc)
            return Type.NUM, _const(value), value
        if isinstance(rc, Decimal):
            return Type.NUM, lambda env, log: arith(lf(env, log), rc), None
        if isinstance(lc, Decimal):
            return Type.NUM, lambda env, log: arith(lc, rf(env, log)), None
        return Type.NUM, lambda env, log: arith(lf(env, log), rf(env, log)), None

    def _table_name(self, node: Node, fname: str) -> Table:
        if not isinstance(node, Str):
            raise self.error(f"{fname} 的第一个参数必须是费率表名称字符串", _pos(node))
        table = self.scope.tables.get(node.value)
        if table is None:
            raise self.error(f"未知的费率表 {node.value!r}", node.pos)
        return table

    def _call(self, name: str, args: tuple[Node, ...], pos: int) -> tuple[Type, Compiled, Value | None]:
        sig = FUNCTIONS.get(name)
        if sig is None:
            raise self.error(f"未知的函数 {name!r}", pos)
        if len(args) < sig.min_args or (sig.max_args is not None and len(args) > sig.max_args):
            expected = str(sig.min_args) if sig.max_args == sig.min_args else f"至少 {sig.min_args}"
            raise self.error(f"函数 {name} 需要 {expected} 个参数，实际 {len(args)} 个", pos)
        if name == "table":
            table = self._table_name(args[0], name)
            for key in table.keys:
                if key not in self.scope.names:
                    raise self.error(f"费率表 {table.name!r} 的键 {key!r} 不是已知的输入或步骤", pos)
                self.names.add(key)
            return Type.NUM, _table_fn(table, [_getter(k) for k in table.keys]), None
        if name == "lookup":
            table = self._table_name(args[0], name)
            if len(args) - 1 != len(table.keys):
                raise self.error(
                    f"lookup({table.name!r}) 需要 {len(table.keys)} 个键，实际 {len(args) - 1} 个", pos
                )
            key_fns = []
            for arg in args[1:]:
                t, fn, _ = self.compile(arg)
                if t is Type.BOOL:
                    raise self.error("查表的键不能是布尔值", _pos(arg))
                key_fns.append(fn)
            return Type.NUM, _table_fn(table, key_fns), None
        compiled = [self.compile(a) for a in args]
        if name == "if":
            (ct, cf, cc), (at, af, _), (bt, bf, _) = compiled
            self._want(ct, Type.BOOL, "if 的条件", _pos(args[0]))
            if at is not bt:
                raise self.error(f"if 的两个分支类型不同：{_TYPE_CN[at]} 与 {_TYPE_CN[bt]}", pos)
            if cc is not None:
                return compiled[1] if cc else compiled[2]
            return at, lambda env, log: af(env, log) if cf(env, log) else bf(env, log), None
        for (t, _, _), arg in zip(compiled, args, strict=True):
            self._want(t, Type.NUM, f"函数 {name} 的参数", _pos(arg))
        fns = [fn for _, fn, _ in compiled]
        if name in ("min", "max"):
            agg = min if name == "min" else max
            if len(fns) == 2:
                f0, f1 = fns
                return Type.NUM, lambda env, log: agg(f0(env, log), f1(env, log)), None
            return Type.NUM, lambda env, log: agg([f(env, log) for f in fns]), None
        if name == "clamp":
            xf, lof, hif = fns
            return Type.NUM, lambda env, log: min(max(xf(env, log), lof(env, log)), hif(env, log)), None
        (xf,) = fns
        rounding = ROUND_CEILING if name == "ceil" else ROUND_FLOOR
        return Type.NUM, lambda env, log: xf(env, log).to_integral_value(rounding=rounding), None


_TYPE_CN = {Type.NUM: "数字", Type.STR: "字符串", Type.BOOL: "布尔值"}


def _pos(node: Node) -> int:
    return node.pos


def _const(value: Value) -> Compiled:
    return lambda env, log: value


def _getter(name: str) -> Compiled:
    return lambda env, log: env[name]


def _table_fn(table: Table, key_fns: list[Compiled]) -> Compiled:
    values = table.values
    name = table.name
    if len(key_fns) == 1 and table.bands[0] is None:
        (kf,) = key_fns

        def single(env: Env, log: Log) -> Decimal:
            key = key_part(kf(env, log))
            try:
                value = values[key]
            except KeyError:
                raise MissingFactor(table.name, table.label, table.keys, key) from None
            log.append((name, key, value))
            return value

        return single

    band = table.bands[0]
    if len(key_fns) == 1 and band is not None:
        (bkf,) = key_fns
        bounds, labels = band.bounds, band.labels

        def banded(env: Env, log: Log) -> Decimal:
            raw = bkf(env, log)
            if isinstance(raw, Decimal):
                index = bisect_right(bounds, raw) - 1
                key = labels[index] if index >= 0 else key_part(raw)
                value = values.get(key) if index >= 0 else None
            else:
                key = key_part(raw)
                value = values.get(key)
            if value is None:
                raise MissingFactor(table.name, table.label, table.keys, key)
            log.append((name, key, value))
            return value

        return banded

    def multi(env: Env, log: Log) -> Decimal:
        key = table.key_of([f(env, log) for f in key_fns])
        value = values.get(key) if key is not None else None
        if value is None:
            shown = key if key is not None else "|".join(key_part(f(env, log)) for f in key_fns)
            raise MissingFactor(table.name, table.label, table.keys, shown)
        log.append((name, key, value))  # type: ignore[arg-type]  # key is set when value is
        return value

    return multi


def compile_formula(source: str, scope: Scope, *, step: str | None = None) -> CompiledFormula:
    """Parses, checks and compiles a formula against `scope`."""
    compiler = _Compiler(scope, step)
    try:
        t, fn, _ = compiler.compile(parse(source))
    except SpecError as exc:
        if exc.step is None and step is not None:
            exc.step = step
        raise
    except ArithmeticError as exc:  # constant folding, e.g. 1 / (2 - 2)
        raise SpecError(f"常量运算出错：{exc.__class__.__name__}", position=0, step=step) from exc
    return CompiledFormula(source, t, frozenset(compiler.names), fn)
