"""Accounts: one user model for customers and staff.

Customers log in with a mainland mobile number (stored encrypted, found by its keyed hash);
staff log in with a username, a password and a TOTP code, and act through their role groups
(see `roles.py`).
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models

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
                condition=models.Q(purpose__in=["login", "signup"]), name="phonecode_purpose_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} code for {self.phone_hash[:8]}…"
