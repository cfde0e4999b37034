"""Read queries and access checkpoints: a customer reaches only their own policies."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet, Sum

from huibao.core.errors import NotFound
from huibao.policy.models import Policy
from huibao.policy.states import LIVE_POLICY_STATUSES


def policies_of(user: Any) -> QuerySet[Policy]:
    """The customer's policies, newest first (none for anonymous visitors)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Policy.objects.none()
    return (
        Policy.objects.filter(customer_id=user.pk)
        .select_related("insurer", "product_version__product", "plan")
        .order_by("-issued_at", "-id")
    )


def policy_for_customer(user: Any, public_id: Any) -> Policy:
    """The customer's policy by public id, with its parties and beneficiaries; NotFound for
    anyone else's (no hint that it exists)."""
    policy = (
        policies_of(user).filter(public_id=public_id).prefetch_related("parties", "beneficiaries").first()
        if public_id
        else None
    )
    if policy is None:
        raise NotFound("保单不存在", code="policy_not_found")
    return policy


def in_force_death_benefit(id_hashes: Iterable[str]) -> dict[str, Decimal]:
    """Death benefit of the live policies (in force or about to start) per insured person, by
    ID hash: what counts towards an insured person's aggregate limits."""
    totals = (
        Policy.objects.filter(insured_id_hash__in=set(id_hashes), status__in=LIVE_POLICY_STATUSES)
        .values("insured_id_hash")
        .annotate(total=Sum("death_benefit"))
    )
    return {row["insured_id_hash"]: row["total"] or Decimal(0) for row in totals}
