"""Endorsements on the policy's hub and in the staff servicing queue (registered in
`PolicyConfig.ready()`): the "保单变更" action of a policy whose product allows changes online,
and the section of changes waiting for a staff decision."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from huibao.policy import endorsements
from huibao.policy.actions import register_action
from huibao.policy.endorsement_rules import KIND_LABELS
from huibao.policy.models import Endorsement, Policy
from huibao.policy.queue import ROW_LIMIT, register_queue_section
from huibao.policy.states import COVERED_STATUSES, EndorsementStatus


def can_change(policy: Policy, user: Any) -> bool:
    return policy.status in COVERED_STATUSES and bool(endorsements.allowed_kinds(policy))


def pending_rows(user: Any) -> list[dict[str, Any]]:
    return [
        {
            "number": e.number,
            "policy_number": e.policy.number,
            "kind_label": KIND_LABELS[e.kind],
            "premium_delta": e.premium_delta,
            "confirmed_at": e.confirmed_at,
        }
        for e in endorsements.pending_approvals()[:ROW_LIMIT]
    ]


def pending_count(user: Any) -> int:
    return Endorsement.objects.filter(status=EndorsementStatus.PENDING_APPROVAL).count()


def register() -> None:
    register_action(
        "endorse",
        label=_("保单变更"),
        url_name="policy:endorse",
        order=200,
        available=can_change,
        icon="edit",
        group="servicing",
        api_url_name="api:policy_endorsements",
    )
    register_queue_section(
        "approvals",
        label=_("待审批的批改"),
        order=40,
        rows=pending_rows,
        count=pending_count,
        template="policy/staff/partials/approvals.html",
        permission=endorsements.APPROVE_PERMISSION,
    )
