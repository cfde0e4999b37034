"""Pure functions of the catalog: no ORM, no I/O."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any


def document_sha256(title: str, body: str, key_clauses: Sequence[Mapping[str, Any]]) -> str:
    """SHA-256 of what the customer reads: title, body and key clauses in canonical JSON."""
    canonical = json.dumps(
        {"title": title, "body": body, "key_clauses": list(key_clauses)},
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
