"""The event feeds' port: who may send events and with which key.

A source is a flight-status feed (飞常准/航旅纵横-style partner) or a shop's return feed. Keys of
real sources come from the environment (`HUIBAO_EVENT_SOURCE_KEYS=variflight:KEY,shop:KEY`,
settings `EVENT_SOURCE_KEYS`); the sandbox feed registers itself (`sandbox/flight_feed.py`).
Issue 13's partner credentials can register here too: an `EventSource` is all the intake needs.
"""

from __future__ import annotations

from typing import Protocol

from django.conf import settings


class EventSource(Protocol):
    @property
    def name(self) -> str: ...

    def key(self) -> bytes: ...


_SOURCES: dict[str, EventSource] = {}


def register_source(source: EventSource) -> None:
    _SOURCES[source.name] = source


def source_key(name: str) -> bytes | None:
    """The HMAC key of source `name`, or None for a source nobody configured."""
    configured: dict[str, str] = getattr(settings, "EVENT_SOURCE_KEYS", {}) or {}
    if name in configured:
        return configured[name].encode()
    source = _SOURCES.get(name)
    return source.key() if source is not None else None
