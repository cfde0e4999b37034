"""The hooks engines announce on: listeners in registration order, once each, per key."""

from __future__ import annotations

import pytest

from huibao.core.hooks import Hook, KeyedHook


def test_a_hook_runs_each_listener_once_in_order_and_returns_their_answers() -> None:
    # given a hook with two listeners, the first registered twice
    hook: Hook[int, int] = Hook("test.numbers")
    seen: list[str] = []

    def double(n: int) -> int:
        seen.append("double")
        return n * 2

    def square(n: int) -> int:
        seen.append("square")
        return n * n

    hook.register(double)
    hook.register(square)
    hook.register(double)
    # when an event is announced
    answers = hook.announce(3)
    # then each listener ran once, in order
    assert answers == [6, 9] and seen == ["double", "square"]
    hook.unregister(double)
    assert hook.announce(4) == [16]


def test_a_listener_error_reaches_the_announcer() -> None:
    hook: Hook[None, None] = Hook("test.errors")

    def broken(_event: None) -> None:
        raise RuntimeError("listener failed")

    hook.register(broken)
    with pytest.raises(RuntimeError, match="listener failed"):
        hook.announce(None)


def test_a_keyed_hook_reaches_only_the_listeners_of_the_key() -> None:
    # given listeners for two kinds of reference
    hook: KeyedHook[str, str] = KeyedHook("test.paid")
    hook.register("application", lambda ref: f"application {ref}")
    hook.register("endorsement", lambda ref: f"endorsement {ref}")
    # when / then: each key reaches its own listener; an unknown key nobody
    assert hook.announce("application", "A1") == ["application A1"]
    assert hook.announce("endorsement", "E1") == ["endorsement E1"]
    assert hook.announce("claim", "C1") == []
