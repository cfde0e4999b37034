"""What the policy pages and the API show: plain dicts built from a policy and its schedule.

`public_view` is all a stranger holding a verification code may learn: no ID number, phone,
birth date, address or sum of another person's health — only that the policy exists, what it
covers in name, its dates and status, and the parties' names masked (张*).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from huibao.core.masking import mask_id_number, mask_name
from huibao.core.money import format_cny
from huibao.core.premium import shown
from huibao.policy import schedule as schedule_mod
from huibao.policy.documents import verification_url
from huibao.policy.models import Policy, PolicyParty
from huibao.policy.rules import period_bounds
from huibao.policy.states import PartyRole, PolicyStatus, Relation


def _local(value: datetime.datetime | None) -> datetime.datetime | None:
    return timezone.localtime(value) if value is not None else None


def status_label(policy: Policy) -> str:
    return str(PolicyStatus(policy.status).label)


def public_view(policy: Policy) -> dict[str, Any]:
    """The verification answer: genuine, and the policy's public facts with names masked."""
    product = policy.product_version.product
    return {
        "genuine": True,
        "number": policy.number,
        "product_name": product.name,
        "plan_name": policy.plan.name,
        "insurer_name": policy.insurer.name,
        "status": policy.status,
        "status_label": status_label(policy),
        "effective_at": _local(policy.effective_at),
        "expires_at": _local(policy.expires_at),
        "period": _period(policy),
        "issued_at": _local(policy.issued_at),
        "holder_name": mask_name(policy.holder_name),
        "insured_name": mask_name(policy.insured_name),
        "epolicy_sha256": policy.epolicy_sha256,
    }


def card(policy: Policy) -> dict[str, Any]:
    """A line of "my policies"."""
    product = policy.product_version.product
    return {
        "public_id": policy.public_id,
        "number": policy.number,
        "product_name": product.name,
        "plan_name": policy.plan.name,
        "insurer_name": policy.insurer.short_name or policy.insurer.name,
        "status": policy.status,
        "status_label": status_label(policy),
        "insured_name": policy.insured_name,
        "premium": format_cny(policy.premium),
        # Per month with the yearly total when paid monthly (`huibao.core.premium`).
        "premium_shown": shown(policy.premium, _payment_mode(policy)),
        "effective_at": _local(policy.effective_at),
        "expires_at": _local(policy.expires_at),
        "period": _period(policy),
        "epolicy_ready": policy.epolicy_id is not None,
    }


def _period(policy: Policy) -> tuple[str, str]:
    """(start, end) of the cover as every page shows it (`rules.period_bounds`; end "" = 终身)."""
    effective_at = _local(policy.effective_at)
    assert effective_at is not None
    return period_bounds(effective_at, _local(policy.expires_at))


def _payment_mode(policy: Policy) -> str | None:
    mode = schedule_mod.loads(policy.schedule).get("premium", {}).get("payment_mode")
    return str(mode) if mode else None


def _money(value: str | None) -> str:
    return format_cny(Decimal(value)) if value not in (None, "") else "—"


def _relation_label(value: str) -> str:
    try:
        return str(Relation(value).label)
    except ValueError:
        return value


def detail(policy: Policy) -> dict[str, Any]:
    """The customer's own policy: full names, ID numbers masked. The parties and beneficiaries
    are the policy's own rows (what servicing changes); coverages and terms its schedule."""
    s = schedule_mod.loads(policy.schedule)
    parties: dict[str, PolicyParty] = {p.role: p for p in policy.parties.all()}
    holder, insured = parties.get(PartyRole.HOLDER), parties.get(PartyRole.INSURED)
    return {
        **card(policy),
        "period": s.get("period", ""),
        "issued_at": _local(policy.issued_at),
        "cooling_off_until": policy.cooling_off_until,
        "sum_insured": format_cny(policy.sum_insured) if policy.sum_insured is not None else "—",
        "holder": {
            "name": holder.name if holder else "",
            "id_number": mask_id_number(holder.id_number if holder else None),
        },
        "insured": {
            "name": insured.name if insured else "",
            "id_number": mask_id_number(insured.id_number if insured else None),
            "relation": _relation_label(insured.relation) if insured else "",
        },
        "beneficiary_mode": policy.beneficiary_mode,
        "beneficiaries": [
            {
                "name": b.name,
                "id_number": mask_id_number(b.id_number),
                "relation": _relation_label(b.relation),
                "order": b.order,
                "share_percent": str(b.share_percent),
            }
            for b in policy.beneficiaries.all()
        ],
        "subject": s.get("subject", []),
        "coverages": [
            {
                "code": c["code"],
                "name": c["name"],
                "description": c.get("description", ""),
                "sum_insured": _money(c.get("sum_insured")),
                "amount": str(c.get("sum_insured", "")),
                "waiting_period_days": c.get("waiting_period_days", 0),
                "optional": c.get("optional", False),
            }
            for c in s.get("coverages", [])
        ],
        "premium_detail": {
            "base": _money(s.get("premium", {}).get("base")),
            "loading_percent": s.get("premium", {}).get("loading_percent", "0"),
            # the policy's current premium (an endorsement may have re-rated it since issuance)
            "premium": format_cny(policy.premium),
            "payment_mode": s.get("premium", {}).get("payment_mode_label", ""),
        },
        "exclusions": s.get("exclusions", []),
        "key_clauses": s.get("key_clauses", []),
        "hotline": s.get("hotline", ""),
        "insurer_full_name": policy.insurer.name,
        "verification_code": policy.verification_code,
        "verification_url": verification_url(policy),
        "application_public_id": policy.application_public_id,
    }
