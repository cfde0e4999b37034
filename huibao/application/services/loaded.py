"""What a use-case leaves current on the application it returns, for the state answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from huibao.application.models import (
    Application,
    ApplicationItem,
    ClauseConfirmation,
    DisclosureReading,
    InsuredPerson,
    Signature,
)


@dataclass(slots=True)
class Loaded:
    """What a use-case read (or wrote) of its application and left current at its end, for the
    state answer (`api.presenters.application_out`) to use rather than read again. Any part left None
    is read there."""

    key: tuple[str, int]
    items: list[ApplicationItem] | None = None  # position order, with `STATE_ITEM_FIELDS`
    persons: list[InsuredPerson] | None = None  # position order, beneficiaries prefetched
    readings: list[DisclosureReading] | None = None  # all the application's
    confirmations: list[ClauseConfirmation] | None = None  # all the application's clause rows
    signatures: list[Signature] | None = None  # with role, insured id and signed_at


_LOADED_MEMO = "_loaded_state"


def _loaded_key(app: Application) -> tuple[str, int]:
    return (str(app.status), int(app.data_revision))


def _remember_loaded(app: Application, **parts: Any) -> None:
    """Leaves `parts` (see `Loaded`) on the instance the use-case returns; call it last, once
    nothing more changes them."""
    app.__dict__[_LOADED_MEMO] = Loaded(key=_loaded_key(app), **parts)


def take_loaded(app: Application) -> Loaded:
    """What the last use-case left on `app` (see `Loaded`), handed out once: a later call, or
    one after the instance's status or data revision changed, finds nothing and reads afresh."""
    memo = app.__dict__.pop(_LOADED_MEMO, None)
    if isinstance(memo, Loaded) and memo.key == _loaded_key(app):
        return memo
    return Loaded(key=_loaded_key(app))
