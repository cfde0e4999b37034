"""Read access to accounts."""

from __future__ import annotations

from huibao.account.models import PHONE_CONTEXT, User, UserKind
from huibao.core.fields import lookup_hash


def phone_hash_of(phone: str) -> str:
    return lookup_hash(phone, context=PHONE_CONTEXT)


def customer_by_phone(phone: str) -> User | None:
    """The customer with this (normalised) mobile number, found by its keyed hash."""
    return User.objects.filter(phone_hash=phone_hash_of(phone), kind=UserKind.CUSTOMER).first()


def phone_is_registered(phone: str) -> bool:
    return User.objects.filter(phone_hash=phone_hash_of(phone)).exists()
