"""The active partners' roster (code, kind, insurer, unit and its path) that the webhook
hooks decide by (`webhooks.concerned`): read once and kept in the shared cache (`ROSTER_KEY`;
Redis in production, so every process sees one roster) until a partner is created, activated or
deactivated (`forget_roster`, called by those use-cases: at the change and again on commit) or
`ROSTER_TTL` passes (a sales unit moved in the tree). Every policy issued goes through the
hooks, so the common case — the roster known, often empty — costs no query.

Without Redis (development: the per-process locmem cache) another process sees a partner change
only when its copy expires, within `ROSTER_TTL`."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction

from huibao.partner.models import Partner

ROSTER_KEY = "partner:webhook-roster:v1"
ROSTER_TTL = 300  # seconds; partner changes forget it at once


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """An active partner, as much as deciding whom a record concerns needs."""

    code: str
    kind: str
    insurer_id: int | None
    unit_id: int | None
    unit_path: str


def _read_roster() -> tuple[RosterEntry, ...]:
    return tuple(
        RosterEntry(
            code=p.code,
            kind=p.kind,
            insurer_id=p.insurer_id,
            unit_id=p.sales_unit_id,
            unit_path=p.sales_unit.path if p.sales_unit is not None else "",
        )
        for p in Partner.objects.filter(is_active=True).select_related("sales_unit").order_by("code")
    )


def roster() -> tuple[RosterEntry, ...]:
    """The active partners (cached: no query while the roster is known, empty or not)."""
    cached = cache.get(ROSTER_KEY)
    if isinstance(cached, tuple):
        return cached
    fresh = _read_roster()
    cache.set(ROSTER_KEY, fresh, ROSTER_TTL)
    return fresh


def forget_roster() -> None:
    """A partner changed: the next reader reads the roster again. Forgotten now (this
    transaction's readers) and again after the commit (a reader in another process that
    cached the old roster in between)."""
    cache.delete(ROSTER_KEY)
    transaction.on_commit(lambda: cache.delete(ROSTER_KEY))


def clear_roster() -> None:
    """Tests: rows rolled back leave a cached roster behind."""
    cache.delete(ROSTER_KEY)
