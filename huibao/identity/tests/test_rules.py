"""Pure identity rules: no database."""

from __future__ import annotations

import datetime
import itertools

import pytest

from huibao.identity import rules

SANDBOX = rules.SandboxRules()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" 张 三 ", "张三"),
        ("阿卜杜拉•买买提", "阿卜杜拉·买买提"),
        ("阿卜杜拉．买买提", "阿卜杜拉·买买提"),
        ("阿卜杜拉・买买提", "阿卜杜拉·买买提"),
    ],
)
def test_normalise_name(raw: str, expected: str) -> None:
    assert rules.normalise_name(raw) == expected


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("张三", None),
        ("𠮷野家", None),
        ("阿卜杜拉·买买提", None),
        ("张" * 30, None),
        ("", "required"),
        ("张", "name_length"),
        ("张" * 31, "name_length"),
        ("Zhang San", "name_chars"),
        ("张三1", "name_chars"),
        ("·张三", "name_chars"),
        ("张三·", "name_chars"),
        ("张··三", "name_chars"),
    ],
)
def test_name_problem(name: str, code: str | None) -> None:
    problem = rules.name_problem(name)
    assert (problem[0] if problem else None) == code
    if problem:
        assert problem[1]  # a Chinese message for the form


def test_sequence_code_is_digits_15_to_17() -> None:
    assert rules.sequence_code("110105199003079994") == "999"


@pytest.mark.parametrize(
    ("name", "id_number", "expected"),
    [
        ("张三", "110105199003079994", "no_record"),
        ("张不符", "110105199003071239", "mismatch"),
        ("张三", "110105199003071239", None),
    ],
)
def test_registry_rule(name: str, id_number: str, expected: str | None) -> None:
    assert rules.registry_rule(SANDBOX, name, id_number) == expected


def test_registry_rule_is_configurable() -> None:
    custom = rules.SandboxRules(no_record_sequences=frozenset({"123"}), mismatch_marker="")
    assert rules.registry_rule(custom, "张不符", "110105199003071239") == "no_record"
    assert rules.registry_rule(custom, "张不符", "110105198511204566") is None


@pytest.mark.parametrize(
    ("name", "registry", "result", "reason"),
    [
        ("王活体失败", "match", "failed", "not_live"),
        ("王活体失败", "mismatch", "failed", "not_live"),
        ("张三", "mismatch", "failed", "not_same_person"),
        ("张三", "no_record", "failed", "not_same_person"),
        ("张三", "match", "passed", ""),
    ],
)
def test_face_verdict(name: str, registry: rules.RegistryResult, result: str, reason: str) -> None:
    verdict = rules.face_verdict(SANDBOX, name, registry)
    assert (verdict.result, verdict.reason) == (result, reason)


def test_staleness_window_is_five_minutes_both_ways() -> None:
    now = datetime.datetime(2025, 1, 1, 12, tzinfo=datetime.UTC)
    assert not rules.is_stale(now - datetime.timedelta(minutes=5), now)
    assert rules.is_stale(now - datetime.timedelta(minutes=5, seconds=1), now)
    assert rules.is_stale(now + datetime.timedelta(minutes=6), now)


def test_retry_schedule_backs_off_then_gives_up() -> None:
    delays = [rules.retry_delay(n) for n in range(1, len(rules.RETRY_DELAYS) + 2)]
    assert delays[0] == datetime.timedelta(seconds=15)
    assert all(a <= b for a, b in itertools.pairwise(delays[:-1]))  # type: ignore[operator]
    assert delays[-1] is None and rules.retry_delay(0) is None


def test_real_name_pauses_grow() -> None:
    assert [rules.real_name_pause(n) for n in (0, 1, 2, 3)] == [0.0, 0.2, 0.5, 0.5]
