"""The customer's policies on the 我的 page (`account.me`): every policy one tap away from there,
so any policy is two taps from any page (the 我的 tab, then the policy)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from huibao.account.me import MeLink, MeSection
from huibao.policy import presenters, selectors
from huibao.policy.states import LIVE_POLICY_STATUSES


def my_policies(user: Any) -> MeSection:
    # Live ones (in force, about to start, in grace) first; newest first within each.
    rows = sorted(selectors.policies_of(user), key=lambda p: p.status not in LIVE_POLICY_STATUSES)
    links = []
    for policy in rows:
        card = presenters.card(policy)
        links.append(
            MeLink(
                label=card["product_name"],
                url=reverse("policy:detail", args=[policy.public_id]),
                detail=_("%(number)s · 被保险人 %(insured)s")
                % {"number": card["number"], "insured": card["insured_name"]},
                status=str(card["status_label"]),
            )
        )
    return MeSection(
        key="policies",
        title=_("我的保单"),
        order=10,
        links=tuple(links),
        more_url=reverse("policy:mine"),
        more_label=_("全部保单与服务"),
        empty_text=_("还没有保单"),
    )
