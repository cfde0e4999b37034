"""Partner use-cases: partners and their API clients (create, rotate with an overlap window,
revoke, edit scopes), each written to the audit chain; and the events partners send, handed
to the claim event engine.

A new client's secret (HMAC) or generated private key (RSA) is returned once, in `Issued`,
and never stored in plain text nor logged: the HMAC secret is encrypted at rest (the server
needs it to verify), an RSA client's private key is never stored at all.
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import transaction
from django.utils import timezone

from huibao.catalog.models import Insurer, Product
from huibao.claim.event_models import TriggerEvent
from huibao.claim.triggers import Receipt, receive_event
from huibao.claim.triggers_rules import FLIGHT, RETURN, SCREEN, payload_digest, read_event
from huibao.core.audit import record
from huibao.core.errors import FieldError, NotFound, ValidationFailed
from huibao.core.states import check_transition
from huibao.distribution.models import SalesUnit, SalesUnitKind
from huibao.partner import rules, selectors
from huibao.partner.models import ApiClient, IdempotencyRecord, Partner, PartnerNonce
from huibao.partner.roster import forget_roster
from huibao.partner.states import CLIENT_TRANSITIONS, Algorithm, ClientStatus, PartnerKind, Scope

MAX_RETIRE_HOURS = 24 * 14
CHANNEL_KINDS = (SalesUnitKind.CHANNEL, SalesUnitKind.SUBCHANNEL)


# --- partners -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartnerData:
    code: str
    name: str
    kind: str
    insurer: Insurer | None = None
    sales_unit: SalesUnit | None = None


def _partner_errors(data: PartnerData) -> list[FieldError]:
    errors: list[FieldError] = []
    code = data.code.strip()
    if not code or len(code) > 30 or not all(c.isalnum() or c in "-_" for c in code) or not code.isascii():
        errors.append(FieldError("code", "invalid", "code：必填，1–30 位字母、数字、- 或 _"))
    elif Partner.objects.filter(code=code).exists():
        errors.append(FieldError("code", "taken", "code：该合作方代码已存在"))
    if not data.name.strip() or len(data.name.strip()) > 64:
        errors.append(FieldError("name", "required", "name：必填，不超过64个字符"))
    if data.kind == PartnerKind.INSURER:
        if data.insurer is None:
            errors.append(FieldError("insurer", "required", "insurer：保险公司合作方须关联一家保险公司"))
    elif data.kind == PartnerKind.CHANNEL:
        if data.sales_unit is None:
            errors.append(FieldError("sales_unit", "required", "sales_unit：渠道合作方须关联一个渠道"))
        elif data.sales_unit.kind not in CHANNEL_KINDS:
            errors.append(FieldError("sales_unit", "invalid", "sales_unit：须为合作渠道或子渠道"))
    else:
        errors.append(FieldError("kind", "invalid_choice", "kind：须为 insurer 或 channel"))
    return errors


def create_partner(data: PartnerData, *, actor: Any) -> Partner:
    errors = _partner_errors(data)
    if errors:
        raise ValidationFailed("合作方信息有误：" + "；".join(e.message for e in errors), errors=errors)
    with transaction.atomic():
        partner = Partner.objects.create(
            code=data.code.strip(),
            name=data.name.strip(),
            kind=data.kind,
            insurer=data.insurer if data.kind == PartnerKind.INSURER else None,
            sales_unit=data.sales_unit if data.kind == PartnerKind.CHANNEL else None,
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        forget_roster()
        record(
            "partner.created",
            "partner",
            partner.code,
            actor=actor,
            after={
                "code": partner.code,
                "name": partner.name,
                "kind": partner.kind,
                "insurer": data.insurer.code if partner.insurer_id and data.insurer else "",
                "sales_unit": data.sales_unit.code if partner.sales_unit_id and data.sales_unit else "",
            },
        )
    return partner


def set_partner_active(partner: Partner, active: bool, *, actor: Any) -> Partner:
    with transaction.atomic():
        locked = Partner.objects.select_for_update().get(pk=partner.pk)
        if locked.is_active != active:
            locked.is_active = active
            locked.save(update_fields=["is_active"])
            forget_roster()
            record(
                "partner.activated" if active else "partner.deactivated",
                "partner",
                locked.code,
                actor=actor,
                before={"is_active": not active},
                after={"is_active": active},
            )
    return locked


# --- API clients ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientData:
    algorithm: str
    scopes: Sequence[str]
    products: Sequence[str] = ()
    rate_limit: int = 600
    label: str = ""
    public_key_pem: str = ""  # RSA: the partner's public key; empty: a key pair is generated


@dataclass(frozen=True, slots=True)
class Issued:
    """A client just created, with what is shown once: the HMAC secret, or the generated RSA
    private key (empty when the partner gave its own public key)."""

    client: ApiClient
    secret: str = ""
    private_key_pem: str = ""


def _access_errors(
    partner: Partner, scopes: Sequence[str], products: Sequence[str], rate_limit: int
) -> list[FieldError]:
    errors: list[FieldError] = []
    unknown = [s for s in scopes if s not in Scope.values]
    if not scopes or unknown:
        errors.append(FieldError("scopes", "invalid", "scopes：至少选择一项，且须为已定义的权限"))
    if products:
        found = set(_partner_products(partner).filter(code__in=list(products)).values_list("code", flat=True))
        missing = [p for p in products if p not in found]
        if missing:
            errors.append(
                FieldError("products", "unknown", f"products：不是该合作方的产品：{'、'.join(missing[:5])}")
            )
    if not 1 <= rate_limit <= 100_000:
        errors.append(FieldError("rate_limit", "out_of_range", "rate_limit：须为 1–100000 次/分钟"))
    return errors


def _partner_products(partner: Partner) -> Any:
    if partner.kind == PartnerKind.INSURER:
        return Product.objects.filter(insurer_id=partner.insurer_id or 0)
    return Product.objects.all()  # a channel may sell any insurer's products


def _key_material(algorithm: str, public_key_pem: str) -> tuple[str, str, str, list[FieldError]]:
    """(secret, public key PEM, generated private key PEM, errors)."""
    if algorithm == Algorithm.HMAC_SHA256:
        return secrets.token_urlsafe(32), "", "", []
    if algorithm != Algorithm.RSA_SHA256:
        return (
            "",
            "",
            "",
            [FieldError("algorithm", "invalid_choice", "algorithm：须为 HMAC-SHA256 或 RSA-SHA256")],
        )
    if public_key_pem.strip():
        if rules.load_public_key(public_key_pem) is None:
            return (
                "",
                "",
                "",
                [
                    FieldError(
                        "public_key_pem", "invalid", "public_key_pem：须为 PEM 格式、至少 2048 位的 RSA 公钥"
                    )
                ],
            )
        return "", public_key_pem.strip(), "", []
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return "", public.decode(), private_pem.decode(), []


def _new_key_id() -> str:
    return f"hbk_{secrets.token_hex(8)}"


def _client_json(client: ApiClient) -> dict[str, Any]:
    return {
        "partner": client.partner.code,
        "key_id": client.key_id,
        "algorithm": client.algorithm,
        "scopes": list(client.scopes),
        "products": list(client.products),
        "rate_limit": client.rate_limit,
        "status": client.status,
        "retire_at": client.retire_at,
    }


def _actor(actor: Any) -> Any:
    return actor if getattr(actor, "pk", None) else None


def create_client(partner: Partner, data: ClientData, *, actor: Any) -> Issued:
    scopes = list(dict.fromkeys(data.scopes))
    products = list(dict.fromkeys(p.strip() for p in data.products if p.strip()))
    errors = _access_errors(partner, scopes, products, data.rate_limit)
    secret, public_pem, private_pem, key_errors = _key_material(data.algorithm, data.public_key_pem)
    errors += key_errors
    if len(data.label) > 64:
        errors.append(FieldError("label", "too_long", "label：不超过64个字符"))
    if errors:
        raise ValidationFailed("接口客户端信息有误：" + "；".join(e.message for e in errors), errors=errors)
    with transaction.atomic():
        client = ApiClient.objects.create(
            partner=partner,
            key_id=_new_key_id(),
            label=data.label.strip(),
            algorithm=data.algorithm,
            secret=secret,
            public_key_pem=public_pem,
            scopes=scopes,
            products=products,
            rate_limit=data.rate_limit,
            created_by=_actor(actor),
        )
        record(
            "partner.client_created",
            "partner_api_client",
            client.key_id,
            actor=actor,
            after=_client_json(client),
        )
    return Issued(client, secret=secret, private_key_pem=private_pem)


def _locked(client: ApiClient) -> ApiClient:
    return ApiClient.objects.select_for_update().select_related("partner").get(pk=client.pk)


def rotate_client(
    client: ApiClient,
    *,
    retire_after_hours: int,
    actor: Any,
    public_key_pem: str = "",
    now: datetime.datetime | None = None,
) -> Issued:
    """A new client with the same partner, algorithm and access; the old one keeps working until
    `retire_after_hours` from now (0: at once), then is refused."""
    now = now or timezone.now()
    if not 0 <= retire_after_hours <= MAX_RETIRE_HOURS:
        raise ValidationFailed(
            "过渡期有误",
            errors=[
                FieldError(
                    "retire_after_hours",
                    "out_of_range",
                    f"retire_after_hours：须为 0–{MAX_RETIRE_HOURS} 小时",
                )
            ],
        )
    with transaction.atomic():
        old = _locked(client)
        check_transition(CLIENT_TRANSITIONS, old.status, ClientStatus.RETIRING, what="API client")
        secret, public_pem, private_pem, errors = _key_material(old.algorithm, public_key_pem)
        if errors:
            raise ValidationFailed("新密钥有误：" + "；".join(e.message for e in errors), errors=errors)
        before = _client_json(old)
        old.status = ClientStatus.RETIRING
        old.retire_at = now + datetime.timedelta(hours=retire_after_hours)
        old.rotated_by = _actor(actor)
        old.rotated_at = now
        old.save(update_fields=["status", "retire_at", "rotated_by", "rotated_at"])
        new = ApiClient.objects.create(
            partner=old.partner,
            key_id=_new_key_id(),
            label=old.label,
            algorithm=old.algorithm,
            secret=secret,
            public_key_pem=public_pem,
            scopes=list(old.scopes),
            products=list(old.products),
            rate_limit=old.rate_limit,
            replaces=old,
            created_by=_actor(actor),
        )
        record(
            "partner.client_rotated",
            "partner_api_client",
            old.key_id,
            actor=actor,
            before=before,
            after={**_client_json(old), "replaced_by": new.key_id},
        )
        record(
            "partner.client_created", "partner_api_client", new.key_id, actor=actor, after=_client_json(new)
        )
    return Issued(new, secret=secret, private_key_pem=private_pem)


def revoke_client(client: ApiClient, *, actor: Any, now: datetime.datetime | None = None) -> ApiClient:
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked(client)
        check_transition(CLIENT_TRANSITIONS, locked.status, ClientStatus.REVOKED, what="API client")
        before = _client_json(locked)
        locked.status = ClientStatus.REVOKED
        locked.revoked_by = _actor(actor)
        locked.revoked_at = now
        locked.save(update_fields=["status", "revoked_by", "revoked_at"])
        record(
            "partner.client_revoked",
            "partner_api_client",
            locked.key_id,
            actor=actor,
            before=before,
            after=_client_json(locked),
        )
    return locked


def update_access(
    client: ApiClient, *, scopes: Sequence[str], products: Sequence[str], rate_limit: int, actor: Any
) -> ApiClient:
    """Edits what a client may do (scopes, products, requests per minute)."""
    scopes = list(dict.fromkeys(scopes))
    products = list(dict.fromkeys(p.strip() for p in products if p.strip()))
    with transaction.atomic():
        locked = _locked(client)
        if locked.status == ClientStatus.REVOKED:
            raise ValidationFailed(
                "已吊销的客户端不能修改", errors=[FieldError("status", "revoked", "status：该客户端已吊销")]
            )
        errors = _access_errors(locked.partner, scopes, products, rate_limit)
        if errors:
            raise ValidationFailed("权限设置有误：" + "；".join(e.message for e in errors), errors=errors)
        before = _client_json(locked)
        locked.scopes, locked.products, locked.rate_limit = scopes, products, rate_limit
        locked.save(update_fields=["scopes", "products", "rate_limit"])
        record(
            "partner.client_access_changed",
            "partner_api_client",
            locked.key_id,
            actor=actor,
            before=before,
            after=_client_json(locked),
        )
    return locked


# --- events from partners ---------------------------------------------------------------------------

EVENT_KINDS = {"flight": FLIGHT, "return": RETURN, "screen": SCREEN}


@dataclass(frozen=True, slots=True)
class EventOutcome:
    event: TriggerEvent
    duplicate: bool
    payouts: int


def receive_partner_event(client: ApiClient, data: dict[str, Any], body: bytes) -> EventOutcome:
    """One event a partner sent (already signed and authorised for `events:write`): read as the
    feeds' events are (`triggers_rules.read_event`) and paid by the claim event engine under
    the partner's source name. A return concerns the orders of the partner's own policies: an
    order indexed for another partner's policy is not found (404)."""
    kind = str(data.get("kind", ""))
    if kind not in EVENT_KINDS:
        raise ValidationFailed(
            "未知的事件类型",
            errors=[FieldError("kind", "invalid_choice", "kind：须为 flight、return 或 screen")],
        )
    event_id, fact, errors = read_event(data, EVENT_KINDS[kind])
    if fact is None:
        raise ValidationFailed("事件内容有误：" + "；".join(e.message for e in errors), errors=errors)
    if fact.kind == RETURN and selectors.foreign_policies_on_key(client, fact.key):
        raise NotFound(f"订单不存在：{fact.order_number}", code="order_not_found")
    receipt: Receipt = receive_event(
        source=selectors.event_source(client.partner),
        event_id=event_id,
        fact=fact,
        payload_sha256=payload_digest(body),
    )
    return EventOutcome(receipt.event, receipt.duplicate, receipt.payouts)


# --- housekeeping ---------------------------------------------------------------------------------

IDEMPOTENCY_TTL = datetime.timedelta(hours=24)


def purge_expired(*, now: datetime.datetime | None = None) -> int:
    """Deletes the nonces whose window is over (twice over) and the idempotency records older
    than a day; returns how many rows went."""
    now = now or timezone.now()
    nonces, _ = PartnerNonce.objects.filter(seen_at__lt=now - rules.WINDOW * 2).delete()
    answers, _ = IdempotencyRecord.objects.filter(created_at__lt=now - IDEMPOTENCY_TTL).delete()
    return nonces + answers
