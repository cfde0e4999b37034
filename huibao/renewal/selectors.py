"""The customer's view of renewal offers: owner-only (another customer's policy is not found)."""

from __future__ import annotations

import uuid
from typing import Any

from huibao.core.errors import NotFound
from huibao.policy.models import Policy
from huibao.renewal.models import RenewalOffer


def owned_policy(user: Any, policy_public_id: uuid.UUID | str) -> Policy:
    if not getattr(user, "is_authenticated", False):
        raise NotFound("保单不存在", code="policy_not_found")
    policy = (
        Policy.objects.select_related("product_version__product", "plan", "insurer")
        .filter(public_id=policy_public_id, customer_id=user.pk)
        .first()
    )
    if policy is None:
        raise NotFound("保单不存在", code="policy_not_found")
    return policy


def offer_for_owner(user: Any, policy_public_id: uuid.UUID | str) -> RenewalOffer:
    policy = owned_policy(user, policy_public_id)
    offer = (
        RenewalOffer.objects.select_related("product_version__product", "plan", "renewal_policy", "mandate")
        .filter(policy=policy)
        .first()
    )
    if offer is None:
        raise NotFound("该保单暂无续保要约", code="renewal_offer_not_found")
    offer.policy = policy
    return offer
