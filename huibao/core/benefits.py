"""Which coverage pays a death benefit of the insured: one rule for underwriting (aggregate
limits per insured person) and for the policy (the death benefit it records), which do not
import each other."""

from __future__ import annotations

import re

DEATH_NAME_WORDS = ("身故",)
# Coverages that pay others (third-party liability) are never the insured's death benefit, even
# when their code says "death" (交强险 "死亡伤残赔偿").
LIABILITY_NAME_WORDS = ("责任", "赔偿")


def is_death_coverage(code: str, name: str) -> bool:
    """A coverage pays a death benefit of the insured when its code has the word `death`
    (`death`, `accidental_death`, `death_disability`…) or its name says 身故, and its name does
    not make it a liability cover (责任 / 赔偿)."""
    if any(word in name for word in LIABILITY_NAME_WORDS):
        return False
    tokens = re.split(r"[_\-]", code.lower())
    return "death" in tokens or any(word in name for word in DEATH_NAME_WORDS)
