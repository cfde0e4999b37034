"""Identity use-cases: real-name check, face check start / notification / expiry / status.

`verify_real_name` validates the name and the ID number, asks the registry (retried up to
`rules.REAL_NAME_MAX_ATTEMPTS` times while it is unavailable), stores one `IdentityCheck` row and
one audit entry. It never raises for a negative answer: callers read `check.status` and show
`check.message`.

`handle_face_notification` is the one entry for face-provider notifications. It verifies the
signature (forged → rejected, kept only as a forensic row), refuses stale timestamps, treats a
notify_id already processed as an idempotent duplicate, then — in one transaction holding the
face check's row lock — moves the status through FACE_TRANSITIONS, writes the audit row and runs
the result hooks. Hooks run only on the move out of `pending`, which the row lock and the guard
make happen at most once per face check.
"""

from __future__ import annotations

import datetime
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from huibao.core import audit
from huibao.core.errors import FieldError, NotFound, ValidationFailed
from huibao.core.fields import lookup_hash
from huibao.core.hooks import KeyedHook
from huibao.core.masking import mask_id_number, mask_name
from huibao.core.receipts import notify_id_of
from huibao.core.states import check_transition
from huibao.core.validators import validate_resident_id
from huibao.identity import rules
from huibao.identity.errors import IdentityProviderUnavailable, InvalidSignature
from huibao.identity.models import FaceCheck, FaceProviderNotification, IdentityCheck
from huibao.identity.provider import (
    FaceNotification,
    default_face_provider_name,
    default_identity_provider_name,
    get_face_provider,
    get_identity_provider,
)
from huibao.identity.states import (
    FACE_TRANSITIONS,
    FaceCheckStatus,
    FaceFailureReason,
    IdentityCheckStatus,
)

# One hash context for both tables, so one ID number can be followed across checks.
ID_HASH_CONTEXT = "identity.id_number"
FaceResultHook = Callable[[FaceCheck], None]
# A listener runs inside the transaction that moves a face check of its reference kind out of
# `pending`; the domain that owns the reference registers it in its `AppConfig.ready()`.
face_result: KeyedHook[FaceCheck, None] = KeyedHook("identity.face_result")
# Pause between registry attempts; tests replace it (no real sleeping in tests).
_pause: Callable[[float], None] = time.sleep

_STATUS_BY_RESULT = {
    "match": IdentityCheckStatus.VERIFIED,
    "mismatch": IdentityCheckStatus.MISMATCH,
    "no_record": IdentityCheckStatus.NO_RECORD,
}
_FACE_TARGET = {
    "passed": FaceCheckStatus.PASSED,
    "failed": FaceCheckStatus.FAILED,
    "expired": FaceCheckStatus.EXPIRED,
}


def register_face_result_hook(reference_kind: str, fn: FaceResultHook) -> None:
    """`fn(face_check)` runs inside the transaction that moves a face check of `reference_kind`
    out of `pending` (to passed, failed or expired): once per face check."""
    face_result.register(reference_kind, fn)


def unregister_face_result_hook(reference_kind: str, fn: FaceResultHook) -> None:
    face_result.unregister(reference_kind, fn)


@dataclass(frozen=True, slots=True)
class FaceNotificationOutcome:
    """`acknowledge` tells the view to answer 'success' (the provider stops retrying)."""

    acknowledge: bool
    code: str
    face_check_id: int | None = None
    message: str = ""


@dataclass(frozen=True, slots=True)
class FaceCheckState:
    """What a return page polls: no personal data."""

    public_id: str
    status: str
    failure_reason: str
    message: str
    final: bool
    reference_kind: str
    reference_id: str


# --- Validation ----------------------------------------------------------------------------------------
def _clean_person(name: str, id_number: str) -> tuple[str, str]:
    """The normalised name and ID number; ValidationFailed naming `name` and/or `id_number`."""
    errors: list[FieldError] = []
    clean_name = rules.normalise_name(name)
    problem = rules.name_problem(clean_name)
    if problem is not None:
        errors.append(FieldError("name", problem[0], problem[1]))
    number = ""
    try:
        number = validate_resident_id(id_number, field="id_number").number
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    if errors:
        code = errors[0].code if len(errors) == 1 else "validation_failed"
        raise ValidationFailed(errors[0].message, code=code, errors=errors)
    return clean_name, number


def _check_reference(reference_kind: str, reference_id: str) -> None:
    if not reference_kind or len(reference_kind) > 40 or not str(reference_id) or len(str(reference_id)) > 64:
        raise ValidationFailed(
            "reference_kind (1-40 chars) and reference_id (1-64 chars) are required",
            code="reference_invalid",
            errors=[FieldError("reference_kind", "reference_invalid", "缺少核验所属的业务单号")],
        )


def _check_return_url(return_url: str) -> None:
    allowed = {urlsplit(settings.HUIBAO_PUBLIC_URL).netloc}
    if (
        not return_url
        or len(return_url) > 300
        or not url_has_allowed_host_and_scheme(return_url, allowed_hosts=allowed)
    ):
        raise ValidationFailed(
            "return_url must be a path or a URL on this site",
            code="return_url_invalid",
            errors=[FieldError("return_url", "return_url_invalid", "人脸识别完成后的返回地址无效")],
        )


def _actor(actor: Any, request: HttpRequest | None) -> Any:
    """The audit actor: the one given, else the request's user, else the platform itself."""
    if actor is not None or request is not None:
        return actor
    return "system"


# --- Real-name check ------------------------------------------------------------------------------------
def verify_real_name(
    *,
    name: str,
    id_number: str,
    reference_kind: str,
    reference_id: str,
    request: HttpRequest | None = None,
    actor: Any = None,
    provider: str | None = None,
) -> IdentityCheck:
    """Checks that `name` is the name registered for `id_number`; returns the stored check.

    Raises ValidationFailed (fields `name`, `id_number`) before asking anyone, storing nothing.
    A registry that stays unavailable gives a check with status `unavailable`.
    """
    clean_name, number = _clean_person(name, id_number)
    _check_reference(reference_kind, str(reference_id))
    registry = get_identity_provider(provider or default_identity_provider_name())
    result: str | None = None
    provider_ref = ""
    attempts = 0
    while attempts < rules.REAL_NAME_MAX_ATTEMPTS:
        if attempts:
            _pause(rules.real_name_pause(attempts))
        attempts += 1
        try:
            answer = registry.verify(clean_name, number)
        except IdentityProviderUnavailable:
            continue
        result, provider_ref = answer.result, answer.provider_ref[:64]
        break
    status = _STATUS_BY_RESULT[result] if result is not None else IdentityCheckStatus.UNAVAILABLE
    with transaction.atomic():
        check = IdentityCheck.objects.create(
            reference_kind=reference_kind,
            reference_id=str(reference_id),
            name=clean_name,
            id_number=number,
            id_number_hash=lookup_hash(number, context=ID_HASH_CONTEXT),
            status=status,
            attempts=attempts,
            provider=registry.name,
            provider_ref=provider_ref,
        )
        audit.record(
            f"identity.real_name.{status}",
            "identity_check",
            str(check.public_id),
            actor=_actor(actor, request),
            request=request,
            after={
                "status": status,
                "name": mask_name(clean_name),
                "id_number": mask_id_number(number),
                "attempts": attempts,
                "provider": registry.name,
                "provider_ref": provider_ref,
                "reference_kind": reference_kind,
                "reference_id": str(reference_id),
            },
        )
    return check


# --- Face check ------------------------------------------------------------------------------------------
def start_face_check(
    *,
    name: str,
    id_number: str,
    reference_kind: str,
    reference_id: str,
    return_url: str,
    request: HttpRequest | None = None,
    actor: Any = None,
    provider: str | None = None,
) -> FaceCheck:
    """Opens a face check (status `pending`); send the person to `check.session_url`.

    The provider brings the browser back to `return_url` (a path, or a URL on HUIBAO_PUBLIC_URL's
    host) and reports the result asynchronously; poll `face_check_status(check.public_id)`.
    """
    clean_name, number = _clean_person(name, id_number)
    _check_reference(reference_kind, str(reference_id))
    _check_return_url(return_url)
    gateway = get_face_provider(provider or default_face_provider_name())
    with transaction.atomic():
        check = FaceCheck.objects.create(
            reference_kind=reference_kind,
            reference_id=str(reference_id),
            name=clean_name,
            id_number=number,
            id_number_hash=lookup_hash(number, context=ID_HASH_CONTEXT),
            provider=gateway.name,
            return_url=return_url,
            expires_at=timezone.now() + rules.FACE_CHECK_TTL,
        )
        check.session_url = gateway.start(check)
        check.save(update_fields=["session_url", "updated_at"])
        audit.record(
            "identity.face.started",
            "face_check",
            str(check.public_id),
            actor=_actor(actor, request),
            request=request,
            after={
                "status": check.status,
                "name": mask_name(clean_name),
                "id_number": mask_id_number(number),
                "provider": gateway.name,
                "reference_kind": reference_kind,
                "reference_id": str(reference_id),
                "expires_at": check.expires_at,
            },
        )
    return check


def _finish(check: FaceCheck, target: str, *, actor: str, detail: dict[str, Any] | None = None) -> None:
    """Moves a locked, pending face check to `target` through the guard; audit row; hooks."""
    check_transition(FACE_TRANSITIONS, check.status, target, what="face check")
    before = check.status
    check.status = target
    check.completed_at = timezone.now()
    check.save(
        update_fields=[
            "status",
            "failure_reason",
            "provider_ref",
            "liveness_score",
            "similarity",
            "completed_at",
            "updated_at",
        ]
    )
    audit.record(
        f"identity.face.{target}",
        "face_check",
        str(check.public_id),
        actor=actor,
        before={"status": before},
        after={
            "status": target,
            "failure_reason": check.failure_reason,
            "liveness_score": check.liveness_score,
            "similarity": check.similarity,
            "reference_kind": check.reference_kind,
            "reference_id": check.reference_id,
            **(detail or {}),
        },
    )
    face_result.announce(check.reference_kind, check)


def _apply(check: FaceCheck, note: FaceNotification) -> str:
    """Applies a verified, fresh, first-seen notification to the locked check; returns the outcome code."""
    target = _FACE_TARGET[note.result]
    if check.status != FaceCheckStatus.PENDING:
        # A result for a check already closed (e.g. expired meanwhile): acknowledged, no effect.
        return f"already_{target}" if check.status == target else "ignored_closed"
    check.provider_ref = note.session_id[:64]
    check.liveness_score = note.liveness_score
    check.similarity = note.similarity
    check.failure_reason = FaceFailureReason(note.reason) if target == FaceCheckStatus.FAILED else ""
    _finish(check, target, actor=f"identity:{check.provider}", detail={"notify_id": note.notify_id})
    return str(target)


def handle_face_notification(
    provider_name: str, headers: Mapping[str, str], body: bytes, *, now: datetime.datetime | None = None
) -> FaceNotificationOutcome:
    """Verifies and applies one face-provider notification (see the module docstring)."""
    now = now or timezone.now()
    raw_body = body.decode("utf-8", "replace")
    try:
        provider = get_face_provider(provider_name)
        note = provider.parse_notification(headers, body)
    except (InvalidSignature, NotFound) as exc:
        FaceProviderNotification.objects.create(
            provider=provider_name[:20],
            notify_id=notify_id_of(headers)[:64],
            raw_body=raw_body,
            signature_ok=False,
            outcome=exc.code,
            processed_at=now,
        )
        return FaceNotificationOutcome(acknowledge=False, code=exc.code, message=exc.message)
    if rules.is_stale(note.sent_at, now):
        # Kept as evidence, but not accepted: the genuine (re-signed) delivery still goes through.
        FaceProviderNotification.objects.create(
            provider=provider.name,
            notify_id=note.notify_id[:64],
            raw_body=raw_body,
            signature_ok=True,
            outcome="stale",
            processed_at=now,
        )
        return FaceNotificationOutcome(
            acknowledge=False, code="stale", message="notification timestamp is stale"
        )
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    record = FaceProviderNotification.objects.create(
                        provider=provider.name,
                        notify_id=note.notify_id[:64],
                        raw_body=raw_body,
                        signature_ok=True,
                        accepted=True,
                    )
            except IntegrityError:
                FaceProviderNotification.objects.create(
                    provider=provider.name,
                    notify_id=note.notify_id[:64],
                    raw_body=raw_body,
                    signature_ok=True,
                    outcome="duplicate",
                    processed_at=now,
                )
                return FaceNotificationOutcome(acknowledge=True, code="duplicate")
            try:
                public_id = uuid.UUID(note.merchant_ref)
            except ValueError:
                raise NotFound(f"no face check '{note.merchant_ref}'", code="unknown_face_check") from None
            check = (
                FaceCheck.objects.select_for_update()
                .filter(public_id=public_id, provider=provider.name)
                .first()
            )
            if check is None:
                raise NotFound(f"no face check '{note.merchant_ref}'", code="unknown_face_check")
            code = _apply(check, note)
            record.face_check = check
            record.outcome = code
            record.processed_at = timezone.now()
            record.save(update_fields=["face_check", "outcome", "processed_at"])
            return FaceNotificationOutcome(acknowledge=True, code=code, face_check_id=check.pk)
    except NotFound as exc:
        # Not acknowledged: the row rolled back, so a later delivery is processed afresh.
        return FaceNotificationOutcome(acknowledge=False, code=exc.code, message=exc.message)


def _expire_one(pk: int, now: datetime.datetime) -> bool:
    with transaction.atomic():
        check = FaceCheck.objects.select_for_update().get(pk=pk)
        if check.status != FaceCheckStatus.PENDING or check.expires_at > now:
            return False
        _finish(check, FaceCheckStatus.EXPIRED, actor="system", detail={"reason": "not_completed_in_time"})
        return True


def expire_pending_face_checks(now: datetime.datetime | None = None) -> int:
    """Expires every pending face check past its `expires_at` (10 minutes); returns how many."""
    now = now or timezone.now()
    ids = list(
        FaceCheck.objects.filter(status=FaceCheckStatus.PENDING, expires_at__lte=now).values_list(
            "pk", flat=True
        )
    )
    return sum(1 for pk in ids if _expire_one(pk, now))


def face_check_status(public_id: uuid.UUID | str, *, now: datetime.datetime | None = None) -> FaceCheckState:
    """The check's current state for a polling return page. An overdue pending check is expired
    here and now, so the page never waits for the sweeper. Raises NotFound."""
    try:
        key = public_id if isinstance(public_id, uuid.UUID) else uuid.UUID(str(public_id))
    except ValueError:
        raise NotFound(f"no face check '{public_id}'", code="unknown_face_check") from None
    check = FaceCheck.objects.filter(public_id=key).first()
    if check is None:
        raise NotFound(f"no face check '{public_id}'", code="unknown_face_check")
    now = now or timezone.now()
    if check.status == FaceCheckStatus.PENDING and check.expires_at <= now and _expire_one(check.pk, now):
        check.refresh_from_db()
    return FaceCheckState(
        public_id=str(check.public_id),
        status=check.status,
        failure_reason=check.failure_reason,
        message=check.message,
        final=check.status != FaceCheckStatus.PENDING,
        reference_kind=check.reference_kind,
        reference_id=check.reference_id,
    )


def purge_for_reference(reference_kind: str, reference_id: str, *, dry_run: bool = False) -> dict[str, int]:
    """Deletes the real-name checks and face checks run for (reference_kind, reference_id) — with
    the face-provider notifications matched to those checks — once the thing they were run for is
    deleted at the end of its retention. They hold the person's name and ID number. Returns the
    counts per kind (what would be deleted, with `dry_run`). Runs in the caller's transaction.
    Notifications not matched to a check (forged, unknown) are not linked to any reference and stay.
    """
    linked = {"reference_kind": reference_kind, "reference_id": str(reference_id)}
    identity_checks = IdentityCheck.objects.filter(**linked)
    face_ids = list(FaceCheck.objects.filter(**linked).values_list("pk", flat=True))
    notifications = FaceProviderNotification.objects.filter(face_check_id__in=face_ids)
    counts = {
        "identity_checks": identity_checks.count(),
        "face_checks": len(face_ids),
        "face_notifications": notifications.count(),
    }
    if not dry_run:
        with transaction.atomic(savepoint=False):
            notifications.delete()  # their link to the check is PROTECT
            FaceCheck.objects.filter(pk__in=face_ids).delete()
            identity_checks.delete()
    return counts
