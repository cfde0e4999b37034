"""Agreement statuses and the transition table every change of an agreement goes through.

    draft ──activate──▶ active ──suspend──▶ suspended ──resume──▶ active
                          └────────end────────┴──────────▶ ended

`ended` is final. Only `active` sells (`selectors.sellable`).
"""

from __future__ import annotations

from huibao.distribution.models import AgreementStatus

__all__ = ["AGREEMENT_TRANSITIONS", "AgreementStatus"]

S = AgreementStatus
AGREEMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.ACTIVE}),
    S.ACTIVE: frozenset({S.SUSPENDED, S.ENDED}),
    S.SUSPENDED: frozenset({S.ACTIVE, S.ENDED}),
    S.ENDED: frozenset(),
}
