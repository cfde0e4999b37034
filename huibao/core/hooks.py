"""Hooks: how an engine (payment, identity, underwriting, policy) tells the domain that uses it
what happened, without importing that domain.

The engine owns a `Hook` (or a `KeyedHook`, when its records belong to several kinds of
reference — a payment of an application, of an endorsement…) and announces an event on it; the
domain registers its listener in its `AppConfig.ready()`. Listeners run in the order they were
registered, in the announcing caller's transaction, and their exceptions propagate to it. An
event is a small frozen dataclass (or the engine's own row) so that the seam is typed.
"""

from __future__ import annotations

from collections.abc import Callable


class Hook[E, R]:
    """One point where an engine announces events of type `E`; each listener answers an `R`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._listeners: list[Callable[[E], R]] = []

    def register(self, listener: Callable[[E], R]) -> None:
        """Adds `listener` (once: registering it again changes nothing)."""
        if listener not in self._listeners:
            self._listeners.append(listener)

    def unregister(self, listener: Callable[[E], R]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def announce(self, event: E) -> list[R]:
        """Runs every listener on `event`; their answers in registration order."""
        return [listener(event) for listener in list(self._listeners)]

    def __repr__(self) -> str:
        return f"<Hook {self.name}: {len(self._listeners)} listener(s)>"


class KeyedHook[E, R]:
    """A `Hook` per key (the kind of reference a record belongs to): an event announced under a
    key reaches only the listeners registered for that key."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._hooks: dict[str, Hook[E, R]] = {}

    def register(self, key: str, listener: Callable[[E], R]) -> None:
        self._hooks.setdefault(key, Hook(f"{self.name}[{key}]")).register(listener)

    def unregister(self, key: str, listener: Callable[[E], R]) -> None:
        if key in self._hooks:
            self._hooks[key].unregister(listener)

    def announce(self, key: str, event: E) -> list[R]:
        hook = self._hooks.get(key)
        return hook.announce(event) if hook is not None else []

    def __repr__(self) -> str:
        return f"<KeyedHook {self.name}: {sorted(self._hooks)}>"
