"""Explicit state machines.

Each stateful model declares `TRANSITIONS: dict[str, frozenset[str]]` next to its TextChoices.
`check_transition` is the single guard every status change goes through.
"""

from __future__ import annotations

from collections.abc import Mapping

from huibao.core.errors import InvalidTransition


def check_transition(
    transitions: Mapping[str, frozenset[str]], current: str, target: str, *, what: str = "object"
) -> None:
    allowed = transitions.get(current, frozenset())
    if target not in allowed:
        raise InvalidTransition(
            f"{what}: cannot move from '{current}' to '{target}'"
            f" (allowed: {', '.join(sorted(allowed)) or 'none'})",
            code="invalid_transition",
        )
