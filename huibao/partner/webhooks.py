"""What partners hear by webhook: the engines' hooks, turned into `webhook.services.publish`
calls to every partner a record concerns (registered in `PartnerConfig.ready()`), inside the
announcing transaction (the webhook app enqueues the delivery after the commit).

- `policy.services.policies_issued` → `policy.issued`
- `policy.cancellation.cancellation_confirmed` → `policy.cancelled`
- `claim.lifecycle.claim_status_changed` (to paid) → `claim.paid`
- `payment.payouts.payout_succeeded["claim"]` and `["trigger"]` → `payout.made`
- `embedded.services.embedded_batch_done` → `batch.completed`, to the channel partner of the
  batch's channel

The partners concerned by a policy: its insurer's partner, and the channel partners of the
seller's unit and of every unit above it.

An embedded issuance (`embedded_issued`, up to 1,000 policies a call) publishes nothing: the
channel has every policy in its answer (or in the batch's status and `batch.completed`), and
one webhook per policy would swamp the partners at the volumes embedded sale runs at; an
insurer partner reads them with `GET /policies` (docs/partner-api.md).

The active partners come from `roster.roster()` (cached): a policy issued while no partner
exists costs no query here.

Each event's `ref` makes a re-announcement publish nothing twice (`policy.issued:<number>`…).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.urls import reverse

from huibao.claim.decisions import PAYOUT_KIND as CLAIM_PAYOUT_KIND
from huibao.claim.event_models import TriggeredPayout
from huibao.claim.lifecycle import ClaimStatusChanged
from huibao.claim.models import Claim
from huibao.claim.states import ClaimStatus
from huibao.claim.triggers import PAYOUT_KIND as TRIGGER_PAYOUT_KIND
from huibao.distribution.models import SalesUnit
from huibao.embedded.services import EmbeddedBatchDone
from huibao.partner.roster import RosterEntry, roster
from huibao.partner.states import PartnerKind
from huibao.payment.models import Payout
from huibao.policy.cancellation import CancellationConfirmed
from huibao.policy.models import Policy
from huibao.policy.services import PoliciesIssued
from huibao.webhook.services import publish


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def concerned(policy: Policy, partners: Iterable[RosterEntry], seller: SalesUnit | None) -> list[str]:
    """The codes of the partners `policy` concerns: its insurer's, and the channels whose unit
    is the seller's or above it."""
    codes = []
    for partner in partners:
        if partner.kind == PartnerKind.INSURER and partner.insurer_id == policy.insurer_id:
            codes.append(partner.code)
        elif partner.kind == PartnerKind.CHANNEL and partner.unit_path and seller is not None:
            unit_path = partner.unit_path
            if seller.path == unit_path or seller.path.startswith(unit_path + "/"):
                codes.append(partner.code)
    return codes


def _seller(policy: Policy) -> SalesUnit | None:
    return SalesUnit.objects.filter(pk=policy.seller_id).first() if policy.seller_id else None


def _policy_payload(policy: Policy) -> dict[str, Any]:
    return {
        "policy_number": policy.number,
        "status": policy.status,
        "product_code": policy.product_version.product.code,
        "premium": _money(policy.premium),
        "effective_at": policy.effective_at,
        "expires_at": policy.expires_at,
        "issued_at": policy.issued_at,
    }


def _publish(policy: Policy, event_type: str, payload: dict[str, Any], ref: str) -> None:
    partners = roster()
    if not partners:
        return
    for code in concerned(policy, partners, _seller(policy)):
        publish(code, event_type, payload, ref=ref)


def on_policies_issued(event: PoliciesIssued) -> None:
    partners = roster()
    if not partners:
        return
    sellers = SalesUnit.objects.in_bulk({i.policy.seller_id for i in event.issued if i.policy.seller_id})
    for issued in event.issued:
        policy = issued.policy
        seller = sellers.get(policy.seller_id) if policy.seller_id else None
        for code in concerned(policy, partners, seller):
            publish(code, "policy.issued", _policy_payload(policy), ref=f"policy.issued:{policy.number}")


def on_cancellation_confirmed(event: CancellationConfirmed) -> None:
    policy = event.policy
    payload = {
        **_policy_payload(policy),
        "refund": _money(event.refund),
        "cancellation": str(event.cancellation.pk),
    }
    _publish(policy, "policy.cancelled", payload, ref=f"policy.cancelled:{policy.number}")


def on_claim_status_changed(event: ClaimStatusChanged) -> None:
    if event.to_status != ClaimStatus.PAID:
        return
    claim = Claim.objects.select_related("policy__product_version__product").filter(pk=event.claim_id).first()
    if claim is None:
        return
    payload = {
        "claim_number": claim.number,
        "policy_number": claim.policy.number,
        "approved_amount": _money(claim.approved_amount),
        "paid_at": claim.paid_at or event.at,
    }
    _publish(claim.policy, "claim.paid", payload, ref=f"claim.paid:{claim.number}:{event.at.isoformat()}")


def _payout_payload(payout: Payout, policy: Policy, **extra: Any) -> dict[str, Any]:
    return {
        "payout": str(payout.public_id),
        "kind": payout.kind,
        "policy_number": policy.number,
        "amount": _money(payout.amount),
        **extra,
    }


def on_claim_payout_succeeded(payout: Payout) -> None:
    number = payout.reference.split("-", 1)[0]
    claim = Claim.objects.select_related("policy__product_version__product").filter(number=number).first()
    if claim is not None:
        payload = _payout_payload(payout, claim.policy, claim_number=claim.number)
        _publish(claim.policy, "payout.made", payload, ref=f"payout.made:{payout.public_id}")


def on_trigger_payout_succeeded(payout: Payout) -> None:
    benefit = (
        TriggeredPayout.objects.select_related("policy__product_version__product", "event")
        .filter(payout=payout)
        .first()
    )
    if benefit is not None:
        payload = _payout_payload(
            payout, benefit.policy, event=str(benefit.event.public_id), line=benefit.line
        )
        _publish(benefit.policy, "payout.made", payload, ref=f"payout.made:{payout.public_id}")


def on_embedded_batch_done(event: EmbeddedBatchDone) -> None:
    """`batch.completed` to the channel partners of the batch's channel (the partner that
    submitted it through the API is one)."""
    codes = [p.code for p in roster() if p.kind == PartnerKind.CHANNEL and p.unit_id == event.channel_id]
    if not codes:
        return
    batch_id = str(event.batch_id)
    payload = {
        "batch": batch_id,
        "status": event.status,
        "total": event.total,
        "accepted": event.accepted,
        "refused": event.refused,
        "premium_total": _money(event.premium_total),
        "status_url": reverse("api:partner_embedded_batch", kwargs={"batch_id": batch_id}),
    }
    for code in codes:
        publish(code, "batch.completed", payload, ref=f"batch.completed:{batch_id}")


def register() -> None:
    from huibao.claim.lifecycle import claim_status_changed
    from huibao.embedded.services import embedded_batch_done
    from huibao.payment.payouts import payout_succeeded
    from huibao.policy.cancellation import cancellation_confirmed
    from huibao.policy.services import policies_issued

    policies_issued.register(on_policies_issued)
    cancellation_confirmed.register(on_cancellation_confirmed)
    claim_status_changed.register(on_claim_status_changed)
    payout_succeeded.register(CLAIM_PAYOUT_KIND, on_claim_payout_succeeded)
    payout_succeeded.register(TRIGGER_PAYOUT_KIND, on_trigger_payout_succeeded)
    embedded_batch_done.register(on_embedded_batch_done)
