"""Accounts: one user model for customers and staff.

Customers log in with a mainland mobile number (stored encrypted, found by its keyed hash);
staff log in with a username, a password and a TOTP code, and act through their role groups
(see `roles.py`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

from huibao.core.fields import EncryptedTextField, lookup_hash
from huibao.core.masking import mask_phone

PHONE_CONTEXT = "account.user.phone"


class UserKind(models.TextChoices):
    CUSTOMER = "customer", "客户"
    STAFF = "staff", "员工"


class User(AbstractUser):
    kind = models.CharField(max_length=16, choices=UserKind.choices, default=UserKind.CUSTOMER)
    phone = EncryptedTextField(blank=True, default="", context=PHONE_CONTEXT)
    phone_hash = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    display_name = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["customer", "staff"]), name="user_kind_valid"
            ),
        ]

    def refresh_from_db(self, using: Any = None, fields: Any = None, from_queryset: Any = None) -> None:
        """A user built from the per-request cache (`account.usercache`) has only its keys and
        flags: the first read of any other column loads all the others, in one statement."""
        if fields is not None and self.__dict__.get("_from_user_cache"):
            deferred = self.get_deferred_fields()
            if deferred and set(fields) <= deferred:
                fields = sorted(deferred)
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)

    def set_phone(self, phone: str) -> None:
        self.phone = phone
        self.phone_hash = lookup_hash(phone, context=PHONE_CONTEXT) if phone else None

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    @property
    def is_customer(self) -> bool:
        return self.kind == UserKind.CUSTOMER

    def __str__(self) -> str:
        return self.display_name or (self.masked_phone if self.is_customer else self.username)


class CodePurpose(models.TextChoices):
    LOGIN = "login", "登录"
    SIGNUP = "signup", "注册"
    # Confirmation of a change to one's own policy (保全: endorsement, cancellation, surrender),
    # sent to the number on the policy; always a usable code.
    SERVICING = "servicing", "保全确认"
    PASSWORD_RESET = "password_reset", "找回密码"


class PhoneCode(models.Model):
    """The current one-time SMS code of a number for one purpose (one row, replaced on resend).

    Neither the number nor the code is stored in the clear: the number by its keyed hash, the
    code as an HMAC bound to the number, the purpose and a per-code salt.
    """

    phone_hash = models.CharField(max_length=64)
    purpose = models.CharField(max_length=16, choices=CodePurpose.choices)
    code_digest = models.CharField(max_length=64)
    salt = models.CharField(max_length=32)
    sent_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    burnt = models.BooleanField(default=False)
    receipt_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["phone_hash", "purpose"], name="phonecode_one_per_purpose"),
            models.CheckConstraint(
                condition=models.Q(purpose__in=["login", "signup", "servicing", "password_reset"]),
                name="phonecode_purpose_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} code for {self.phone_hash[:8]}…"


class ApiToken(models.Model):
    """A personal API access token (`Authorization: Bearer hb_…`) for apps and partners.

    The secret is shown once, when issued; only its SHA-256 (`key_hash`) and its first 8
    characters (`key_prefix`, to tell tokens apart in lists) are kept. See `tokens.py`.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField("名称", max_length=64)
    key_prefix = models.CharField("前缀", max_length=8, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    last_used_at = models.DateTimeField("最近使用", null=True, blank=True)
    expires_at = models.DateTimeField("过期时间")
    revoked_at = models.DateTimeField("吊销时间", null=True, blank=True)

    class Meta:
        verbose_name = "API 令牌"
        verbose_name_plural = "API 令牌"
        indexes = [models.Index(fields=["user", "-created_at"], name="apitoken_user_created")]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    def is_active(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now


class LegalDocumentKind(models.TextChoices):
    USER_AGREEMENT = "user_agreement", "用户协议"
    PRIVACY_POLICY = "privacy_policy", "隐私政策"


class LegalDocument(models.Model):
    """One published version of the user agreement or the privacy policy (PIPL: what a customer
    consented to is kept word for word). Never edited once published: a change is a new version,
    and every customer is asked to consent again at their next log-in."""

    kind = models.CharField("文本类型", max_length=32, choices=LegalDocumentKind.choices)
    version = models.PositiveIntegerField("版本")
    title = models.CharField("标题", max_length=100)
    body = models.TextField("正文")
    sha256 = models.CharField("正文 SHA-256", max_length=64, editable=False)
    published_at = models.DateTimeField("发布时间", default=timezone.now)

    class Meta:
        verbose_name = "协议与政策文本"
        verbose_name_plural = "协议与政策文本"
        constraints = [
            models.UniqueConstraint(fields=["kind", "version"], name="legaldocument_one_per_version"),
            models.CheckConstraint(
                condition=models.Q(kind__in=["user_agreement", "privacy_policy"]),
                name="legaldocument_kind_valid",
            ),
        ]
        ordering = ["kind", "-version"]

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"


class Consent(models.Model):
    """A customer's consent to one version of a legal document: when, to which text (its hash),
    and from where (the client address as a keyed hash, never in the clear)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="consents")
    kind = models.CharField("文本类型", max_length=32, choices=LegalDocumentKind.choices)
    version = models.PositiveIntegerField("版本")
    document_sha256 = models.CharField("正文 SHA-256", max_length=64)
    consented_at = models.DateTimeField("同意时间")
    ip_hash = models.CharField("IP 哈希", max_length=64, blank=True, default="")

    class Meta:
        verbose_name = "同意记录"
        verbose_name_plural = "同意记录"
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "version"], name="consent_once_per_version"),
        ]
        indexes = [models.Index(fields=["user", "kind", "-version"], name="consent_user_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} v{self.version}"
