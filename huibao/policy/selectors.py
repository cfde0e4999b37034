"""Read queries and access checkpoints: a customer reaches only their own policies."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from huibao.core.errors import NotFound
from huibao.policy.models import Policy


def policies_of(user: Any) -> QuerySet[Policy]:
    """The customer's policies, newest first (none for anonymous visitors)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Policy.objects.none()
    return (
        Policy.objects.filter(customer_id=user.pk)
        .select_related("insurer", "product_version__product", "plan", "application")
        .order_by("-issued_at", "-id")
    )


def policy_for_customer(user: Any, public_id: Any) -> Policy:
    """The customer's policy by public id; NotFound for anyone else's (no hint that it exists)."""
    policy = policies_of(user).filter(public_id=public_id).first() if public_id else None
    if policy is None:
        raise NotFound("保单不存在", code="policy_not_found")
    return policy
