"""The one signature of the sandboxes' asynchronous notifications (payment gateway, face service,
insurer): HMAC-SHA256 over the timestamp, the notify id and the body, as hex.

Pure: no Django, no I/O. The sandboxes sign with it (`notifications.signed_headers`) and their
adapters verify with it (`notifications.parse_signed`); each sandbox has its own secret and
header names, not its own algorithm.
"""

from __future__ import annotations

import hashlib
import hmac


def signing_payload(timestamp: str, notify_id: str, body: bytes) -> bytes:
    """What is signed: the timestamp and the id bind the body to one delivery of one notice."""
    return timestamp.encode() + b"\n" + notify_id.encode() + b"\n" + body


def sign(secret: bytes, timestamp: str, notify_id: str, body: bytes) -> str:
    return hmac.new(secret, signing_payload(timestamp, notify_id, body), hashlib.sha256).hexdigest()


def signature_valid(secret: bytes, timestamp: str, notify_id: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, notify_id, body), signature or "")
