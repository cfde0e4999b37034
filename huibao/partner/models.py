"""Partners (insurers and sales channels that connect over the partner API), their API clients,
the nonces of signed requests and the stored answers of idempotent requests.

Persistence and constraints only; the use-cases are in `services.py`, the signature in
`signing.py`, idempotency in `idempotency.py`.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huibao.core.fields import EncryptedTextField
from huibao.partner.states import Algorithm, ClientStatus, PartnerKind

DEFAULT_RATE_LIMIT = 600  # requests per minute per client


class Partner(models.Model):
    """An insurer or a sales channel on the partner API. An insurer partner is one
    `catalog.Insurer` (it sees the policies of its products); a channel partner is one
    `distribution.SalesUnit` (it sees the policies sold in its subtree)."""

    code = models.SlugField(_("合作方代码"), max_length=30, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    kind = models.CharField(_("类型"), max_length=16, choices=PartnerKind.choices)
    insurer = models.ForeignKey(
        "catalog.Insurer", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    sales_unit = models.ForeignKey(
        "distribution.SalesUnit", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    is_active = models.BooleanField(_("启用"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("合作方")
        verbose_name_plural = _("合作方")
        permissions = [("manage_partner", "Can manage partners and their API clients")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=PartnerKind.values), name="partner_kind_valid"),
            models.CheckConstraint(
                condition=Q(kind=PartnerKind.INSURER, insurer__isnull=False, sales_unit__isnull=True)
                | Q(kind=PartnerKind.CHANNEL, sales_unit__isnull=False, insurer__isnull=True),
                name="partner_one_party",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class ApiClient(models.Model):
    """One credential of a partner: a key id and either an HMAC secret (encrypted at rest: the
    server needs it to verify) or an RSA public key (the partner keeps the private key). A
    rotation makes a new client and moves the old one to `retiring` until `retire_at`."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="clients")
    key_id = models.CharField(_("密钥编号"), max_length=40, unique=True)
    label = models.CharField(_("说明"), max_length=64, blank=True, default="")
    algorithm = models.CharField(_("签名算法"), max_length=16, choices=Algorithm.choices)
    secret = EncryptedTextField(context="partner.client_secret", blank=True, default="")
    public_key_pem = models.TextField(blank=True, default="")
    scopes = models.JSONField(_("权限范围"), default=list)
    # Product codes the client may act on; empty: every product of the partner.
    products = models.JSONField(_("限定产品"), default=list, blank=True)
    rate_limit = models.PositiveIntegerField(_("每分钟请求上限"), default=DEFAULT_RATE_LIMIT)
    status = models.CharField(
        _("状态"), max_length=16, choices=ClientStatus.choices, default=ClientStatus.ACTIVE
    )
    retire_at = models.DateTimeField(_("停用时间"), null=True, blank=True)
    replaces = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="replaced_by"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    rotated_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["partner_id", "-created_at", "-id"]
        verbose_name = _("接口客户端")
        verbose_name_plural = _("接口客户端")
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ClientStatus.values), name="partner_client_status"),
            # (An encrypted column cannot be compared in SQL: the HMAC secret is checked by the
            # use-case that makes it.)
            models.CheckConstraint(
                condition=Q(algorithm=Algorithm.HMAC_SHA256)
                | Q(algorithm=Algorithm.RSA_SHA256) & ~Q(public_key_pem=""),
                name="partner_client_key_material",
            ),
            models.CheckConstraint(
                condition=~Q(status=ClientStatus.RETIRING) | Q(retire_at__isnull=False),
                name="partner_client_retiring_has_date",
            ),
            models.CheckConstraint(condition=Q(rate_limit__gt=0), name="partner_client_rate_positive"),
        ]

    def __str__(self) -> str:
        return self.key_id


class PartnerNonce(models.Model):
    """A signed request's nonce, kept while its timestamp could still be accepted (without Redis:
    with Redis the nonces live in the shared cache)."""

    key_id = models.CharField(max_length=40)
    nonce = models.CharField(max_length=64)
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key_id", "nonce"], name="partner_nonce_once")]

    def __str__(self) -> str:
        return f"{self.key_id}:{self.nonce}"


class IdempotencyRecord(models.Model):
    """The answer to one partner POST, kept under its `Idempotency-Key` (per partner, so a
    rotated key's retry is still recognised): the same key with the same request is answered
    from here; with another request, refused."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64)
    request_sha256 = models.CharField(max_length=64)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["partner", "key"], name="partner_idempotency_once"),
        ]

    def __str__(self) -> str:
        return f"{self.partner_id}:{self.key}"
