"""Demo: how the demo market's insurers decide their claims — some through the connector (the
sandbox insurer decides and, for some, pays the customer itself), the rest in Huibao's back
office. Idempotent: an insurer already set keeps its setting."""

from __future__ import annotations

from huibao.catalog.models import Insurer
from huibao.claim import insurer
from huibao.claim.models import InsurerClaimSettings

# By the insurer's place in code order: (mode, promised days, payer), in turn.
PATTERN = (
    ("connector", 10, "insurer"),
    ("connector", 15, "platform"),
    ("back_office", 30, "platform"),
)


def load_insurer_settings(*, actor: str = "load_demo") -> int:
    """Sets every insurer without a setting by `PATTERN`; returns how many were set."""
    done = set(InsurerClaimSettings.objects.values_list("insurer_id", flat=True))
    count = 0
    for index, found in enumerate(Insurer.objects.order_by("code")):
        if found.pk in done:
            continue
        mode, days, payer = PATTERN[index % len(PATTERN)]
        insurer.save_setting(found, mode=mode, decision_days=days, payer=payer, actor=actor)
        count += 1
    return count
