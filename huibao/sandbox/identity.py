"""The sandbox identity services: what the remote registry and face service do, run in-process.

*Registry* (like the public-security NCIIC two-factor check): keeps its own table
(`SandboxCitizen`: keyed hash of the ID number → encrypted name). A registered ID number asked
with another name is a mismatch; an unknown, checksum-valid one is registered on first sight
under the name asked, unless a test rule (`rules.SandboxRules`, configured by
`settings.HUIBAO_IDENTITY_SANDBOX`) forces "no_record" or "mismatch". Like a remote call it can
time out: at random (`settings.HUIBAO_IDENTITY_SANDBOX_FAILURE_RATE`, 0.0–1.0) or on demand
(`force_failures(n)`: the next n calls fail).

*Face service*: opens a session per face check, serves a hosted page (`views.face`), decides the
result by its rules when the person presses "开始检测", and tells the platform by an HMAC-SHA256
signed POST to the platform's notify URL (channel "face" of `notifications`), retried on
`identity.rules.RETRY_DELAYS` until the platform answers `success`.
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from huibao.core.fields import lookup_hash
from huibao.identity import rules
from huibao.sandbox import notifications
from huibao.sandbox.faults import FaultInjector
from huibao.sandbox.models import SandboxCitizen, SandboxFaceSession, SandboxFaceSessionStatus
from huibao.sandbox.notifications import SandboxError

HEADER_TIMESTAMP = "Huibao-Face-Timestamp"
HEADER_NOTIFY_ID = "Huibao-Face-Notify-Id"
HEADER_SIGNATURE = "Huibao-Face-Signature"
CITIZEN_HASH_CONTEXT = "identity.sandbox_citizen.id_number"


class SandboxUnavailable(SandboxError):
    """The registry timed out (injected failure)."""


# --- Configuration ------------------------------------------------------------------------------------
def face_sandbox_secret() -> bytes:
    """settings.FACE_SANDBOX_SECRET, or (development and tests) a key derived from SECRET_KEY."""
    return notifications.derived_secret("FACE_SANDBOX_SECRET", "face-sandbox")


CHANNEL = notifications.register(
    notifications.Channel(
        name="face",
        model=SandboxFaceSession,
        key_field="token",
        secret=face_sandbox_secret,
        headers=(HEADER_TIMESTAMP, HEADER_NOTIFY_ID, HEADER_SIGNATURE),
        retry_delay=rules.retry_delay,
    )
)


def sandbox_rules() -> rules.SandboxRules:
    """The test rules: code defaults overridden key by key by settings.HUIBAO_IDENTITY_SANDBOX."""
    conf: Mapping[str, Any] = getattr(settings, "HUIBAO_IDENTITY_SANDBOX", None) or {}
    default = rules.SandboxRules()
    return rules.SandboxRules(
        no_record_sequences=frozenset(
            str(s) for s in conf.get("no_record_sequences", default.no_record_sequences)
        ),
        mismatch_marker=str(conf.get("mismatch_marker", default.mismatch_marker)),
        not_live_marker=str(conf.get("not_live_marker", default.not_live_marker)),
    )


_faults = FaultInjector("HUIBAO_IDENTITY_SANDBOX_FAILURE_RATE")


def failure_rate() -> float:
    return _faults.rate()


def force_failures(count: int) -> None:
    """The next `count` registry calls fail as a timeout would (tests and demos)."""
    _faults.force(count)


def forced_failures_left() -> int:
    return _faults.left()


# --- Registry --------------------------------------------------------------------------------------------
def _registry_answer(name: str, id_number: str) -> rules.RegistryResult:
    forced = rules.registry_rule(sandbox_rules(), name, id_number)
    if forced is not None:
        return forced
    registered = _register_unless_known(lookup_hash(id_number, context=CITIZEN_HASH_CONTEXT), name)
    if registered is None:
        return "match"
    return "match" if rules.normalise_name(registered) == rules.normalise_name(name) else "mismatch"


def _register_unless_known(id_number_hash: str, name: str) -> str | None:
    """Registers `name` for the ID number unless it is known, in one statement (an insert that,
    on a known number, answers the row already there: `ON CONFLICT … RETURNING`, PostgreSQL and
    SQLite ≥ 3.35). None when it was registered now, else the name registered before."""
    field = SandboxCitizen._meta.get_field("name")
    sealed = field.get_db_prep_value(name, connection)
    at = SandboxCitizen._meta.get_field("registered_at").get_db_prep_value(timezone.now(), connection)
    with connection.cursor() as cursor:
        cursor.execute(
            'INSERT INTO "identity_sandboxcitizen" ("id_number_hash", "name", "registered_at") '
            "VALUES (%s, %s, %s) "
            'ON CONFLICT ("id_number_hash") DO UPDATE SET "id_number_hash" = EXCLUDED."id_number_hash" '
            'RETURNING "name"',
            [id_number_hash, sealed, at],
        )
        row = cursor.fetchone()
    # A sealed value carries its own random nonce: the row holds ours only if it was inserted now.
    if row is None or row[0] == sealed:
        return None
    return str(field.from_db_value(row[0], None, connection))


def registry_check(name: str, id_number: str) -> tuple[rules.RegistryResult, str]:
    """One query of the registry: (result, query reference). Raises SandboxUnavailable."""
    if _faults.take():
        raise SandboxUnavailable("sandbox registry timed out")
    return _registry_answer(name, id_number.strip().upper()), "SBXID" + secrets.token_hex(10).upper()


def register_citizen(name: str, id_number: str) -> None:
    """Puts (or replaces) a person in the sandbox registry: demo and test data."""
    SandboxCitizen.objects.update_or_create(
        id_number_hash=lookup_hash(id_number, context=CITIZEN_HASH_CONTEXT), defaults={"name": name}
    )


# --- Face service ---------------------------------------------------------------------------------------
def open_session(
    *,
    merchant_ref: str,
    name: str,
    id_number: str,
    notify_url: str,
    return_url: str,
    expires_at: datetime.datetime,
) -> str:
    token = "SBF" + secrets.token_hex(12).upper()
    SandboxFaceSession.objects.create(
        token=token,
        merchant_ref=merchant_ref,
        name=name,
        id_number=id_number,
        notify_url=notify_url,
        return_url=return_url,
        expires_at=expires_at,
    )
    return token


def get_session(token: str) -> SandboxFaceSession:
    session = SandboxFaceSession.objects.filter(token=token).first()
    if session is None:
        raise SandboxError(f"no sandbox face session '{token}'")
    return session


def signed_headers(notify_id: str, body: bytes, now: datetime.datetime) -> dict[str, str]:
    return notifications.channel_headers(CHANNEL.name, notify_id, body, now)


def _close(session: SandboxFaceSession, verdict: rules.FaceVerdict) -> None:
    """Closes the session with the verdict and queues the notification the platform is owed."""
    session.status = verdict.result
    session.reason = verdict.reason
    notify_id = "F" + secrets.token_hex(16)
    body = {
        "notify_id": notify_id,
        "session_id": session.token,
        "merchant_ref": session.merchant_ref,
        "result": verdict.result,
        "reason": verdict.reason,
        "liveness_score": verdict.liveness_score if verdict.result != "expired" else None,
        "similarity": verdict.similarity if verdict.result != "expired" else None,
    }
    notifications.compose(session, notify_id, body)
    session.save()
    notifications.owe(CHANNEL.name, session.token)


def submit_face(token: str, *, now: datetime.datetime | None = None) -> SandboxFaceSession:
    """The person pressed "开始检测": the service decides, records and notifies (once per session)."""
    now = now or timezone.now()
    with transaction.atomic():
        session = SandboxFaceSession.objects.select_for_update().filter(token=token).first()
        if session is None:
            raise SandboxError(f"no sandbox face session '{token}'")
        if session.status != SandboxFaceSessionStatus.OPEN:
            return session
        if now >= session.expires_at:
            verdict = rules.FaceVerdict("expired", "", liveness_score=0, similarity=0)
        else:
            registry = _registry_answer(session.name, session.id_number)
            verdict = rules.face_verdict(sandbox_rules(), session.name, registry)
        _close(session, verdict)
        return session


def deliver(token: str, *, now: datetime.datetime | None = None) -> bool:
    """One delivery attempt of the session's notification (see `notifications.deliver`)."""
    return notifications.deliver(CHANNEL.name, token, now=now)
