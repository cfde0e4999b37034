"""Template filters of the insurer deliveries (承保/批改/退保信息回传) shown to operators."""

from __future__ import annotations

from django import template

from huibao.policy import delivery
from huibao.policy.models import InsurerDelivery

register = template.Library()


@register.filter
def delivery_reference(d: InsurerDelivery) -> str:
    """What the delivery is about (`delivery.reference_of`): 批单号, 退保 and its reference, or 保单号."""
    return delivery.reference_of(d)
