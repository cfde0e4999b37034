"""`Idempotency-Key` for partner POSTs: one effect per key, whoever asks how often.

    @router.post("/events", ...)
    @idempotent
    def send_event(request, payload: EventIn) -> tuple[int, EventOut]: ...

The key is required (400 `idempotency_key_required`). The first request with a key runs the
endpoint inside one transaction that begins by inserting the key's `IdempotencyRecord` (unique
per partner and key) and ends by storing the answer (status and JSON body) in it. Concurrent
requests with the same key wait on that insert (PostgreSQL: on the unique index, until the
first one commits or rolls back; SQLite: on the write lock every transaction takes at its
start), then find the record and answer its stored response, marked `Idempotent-Replayed: true`,
without running the endpoint. The same key with another request (method, path or body digest)
is refused with 409 `idempotency_key_reused`.

Only a successful (2xx) answer is stored: an endpoint that refuses (a domain error) rolls its
transaction back with the key, so the partner may correct the request and send it again with
the same key.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from pydantic import BaseModel

from huibao.core.errors import Conflict, DomainError, FieldError
from huibao.partner import rules
from huibao.partner.models import ApiClient, IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


class IdempotencyKeyRequired(DomainError):
    code = "idempotency_key_required"
    http_status = 400


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"


def request_digest(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method}\n{request.path}\n".encode())
    digest.update(request.body)
    return digest.hexdigest()


def _key(request: HttpRequest) -> str:
    key = request.headers.get(HEADER, "").strip()
    if not key:
        raise IdempotencyKeyRequired(
            f"请求头 {HEADER} 必填", errors=[FieldError(HEADER, "required", f"{HEADER}：每个 POST 请求必填")]
        )
    if not rules.IDEMPOTENCY_KEY.match(key):
        raise IdempotencyKeyRequired(
            f"请求头 {HEADER} 格式无效",
            code="idempotency_key_invalid",
            errors=[FieldError(HEADER, "invalid", f"{HEADER}：1–64 位字母、数字或 ._:-")],
        )
    return key


def _jsonable(body: Any) -> Any:
    if isinstance(body, BaseModel):
        return body.model_dump(mode="json", by_alias=True)
    if isinstance(body, list):
        return [_jsonable(item) for item in body]
    return json.loads(json.dumps(body, default=str))


def _answer(status: int, body: Any, *, replayed: bool) -> HttpResponse:
    response = JsonResponse(body, status=status, safe=False, json_dumps_params={"ensure_ascii": False})
    if replayed:
        response[REPLAYED_HEADER] = "true"
    return response


def _stored(record: IdempotencyRecord, digest: str) -> HttpResponse:
    if record.request_sha256 != digest:
        raise IdempotencyKeyReused(
            f"{HEADER} 已用于另一请求：请为新请求使用新的 {HEADER}",
            errors=[FieldError(HEADER, "reused", f"{HEADER}：已用于内容不同的请求")],
        )
    return _answer(record.response_status, record.response_body, replayed=True)


def run_once(
    request: HttpRequest,
    client: ApiClient,
    effect: Callable[[], tuple[int, Any]],
    *,
    before: Callable[[], None] | None = None,
) -> HttpResponse:
    """Runs `effect` (returning status and body) once per (partner, Idempotency-Key).
    `before` runs first, outside the transaction, once the key is known to be new: work that
    must not be held in it (the embedded sale reserves its policy numbers there); what it does
    is not undone if the effect then fails or another request with the key wins."""
    key = _key(request)
    digest = request_digest(request)
    partner_id = client.partner_id
    existing = IdempotencyRecord.objects.filter(partner_id=partner_id, key=key).first()
    if existing is not None:
        return _stored(existing, digest)
    if before is not None:
        before()
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    partner_id=partner_id,
                    key=key,
                    request_sha256=digest,
                    method=request.method or "POST",
                    path=request.path[:255],
                    response_status=0,
                    response_body={},
                    created_at=timezone.now(),
                )
        except IntegrityError:
            # Another request with this key committed first (we waited for it).
            record = None
        if record is None:
            return _stored(IdempotencyRecord.objects.get(partner_id=partner_id, key=key), digest)
        status, body = effect()
        record.response_status = status
        record.response_body = _jsonable(body)
        record.save(update_fields=["response_status", "response_body"])
    return _answer(record.response_status, record.response_body, replayed=False)


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorates a partner POST endpoint (under a `PartnerSignature` auth: `request.auth` is the
    client). The endpoint returns a body or `(status, body)`."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        client = request.auth  # type: ignore[attr-defined]

        def effect() -> tuple[int, Any]:
            result = view(request, *args, **kwargs)
            if isinstance(result, tuple):
                return int(result[0]), result[1]
            return 200, result

        return run_once(request, client, effect)

    # The endpoint's parameters with their annotations resolved in its own module, so that
    # django-ninja reads the body schema from them, not from this module's names.
    setattr(wrapped, "__signature__", inspect.signature(view, eval_str=True))  # noqa: B010
    return wrapped
