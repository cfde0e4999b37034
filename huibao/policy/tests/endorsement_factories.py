"""Builders for endorsement tests: a covered policy whose product allows every change, its
holder's SMS codes, a paid checkout payment to refund from, and paying a premium delta."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.utils import timezone

from huibao.account.sms import get_sms_backend
from huibao.catalog.models import ProductVersion
from huibao.catalog.tests.factories import PlanFactory
from huibao.payment import services as payment_services
from huibao.payment.models import Payment
from huibao.payment.states import PaymentStatus
from huibao.policy import endorsements
from huibao.policy.models import Endorsement, Policy
from huibao.policy.tests import factories as f
from huibao.sandbox import payment as sandbox

HOLDER_PHONE = "13900001111"  # the application factory's applicant phone
GOOD_CARD = "4242424242424242"
ALL_KINDS = ["contact", "beneficiaries", "insured_correction", "plan", "sum_insured"]
SERVICING: dict[str, Any] = {
    "endorsements": {
        "allowed": ALL_KINDS,
        "needs_approval": [],
        "confirmation": "sms",
        "sum_insured": {"increase": True, "decrease": True},
    }
}


def with_approval(*kinds: str) -> dict[str, Any]:
    """Every change allowed, `kinds` needing staff approval."""
    return {**SERVICING, "endorsements": {**SERVICING["endorsements"], "needs_approval": list(kinds)}}


# Priced on the sum insured and the insured's age: corrections of the birth date are re-rated.
AGE_PRICING: dict[str, Any] = {
    "inputs": {},
    "tables": {},
    "constants": {"rate": "0.001"},
    "steps": [{"name": "premium", "label": "应缴保费", "expr": "sum_insured * rate + age * 2"}],
    "result": "premium",
}


def covered_policy(
    *,
    servicing: dict[str, Any] | None = None,
    named: bool = True,
    customer: Any = None,
    pricing: dict[str, Any] | None = None,
    quote_inputs: dict[str, Any] | None = None,
    premium: str = "320.00",
    term_options: list[dict[str, Any]] | None = None,
) -> Policy:
    """A one-year policy in force (sum insured 500,000, premium 320.00), with a named child
    beneficiary unless `named` is False; a second plan "plus" in its version. `term_options`: the
    version's terms (a term of several years is paid over every policy year)."""
    user = customer or f.customer()
    version = f.product_version(term_options=term_options)
    updates: dict[str, Any] = {
        "servicing": servicing if servicing is not None else SERVICING,
        "payment_modes": ["single", "annual", "monthly"],
    }
    if pricing is not None:
        updates["pricing"] = pricing
    ProductVersion.objects.filter(pk=version.pk).update(**updates)
    version.refresh_from_db()
    person = f.Person(beneficiaries=[("李小宝", "child", Decimal(100))] if named else [])
    inputs = quote_inputs if quote_inputs is not None else {"term": "1y"}
    app = f.application([(version, person, 500_000, premium, inputs)], customer=user)
    policy = f.issue(app)[0]
    PlanFactory(
        version=version,
        code="plus",
        name="升级版",
        min_sum_insured=Decimal(200_000),
        max_sum_insured=Decimal(2_000_000),
        sort_order=2,
    )
    Policy.objects.filter(pk=policy.pk).update(status="in_force")
    return Policy.objects.get(pk=policy.pk)


def code_to(phone: str = HOLDER_PHONE) -> str:
    backend: Any = get_sms_backend()
    text = backend.last_text_to(phone)
    assert text is not None, f"no SMS to {phone}"
    match = re.search(r"(?<!\d)(\d{6})(?!\d)", text)
    assert match, text
    return match.group(1)


def confirm(endorsement: Endorsement, actor: Any) -> Endorsement:
    endorsements.send_confirmation_code(endorsement, actor=actor)
    return endorsements.confirm_endorsement(endorsement, code_to(), actor=actor)


def checkout_payment(policy: Policy, amount: str | Decimal) -> Payment:
    """The paid checkout payment the policy was issued from (reference: its application)."""
    holder = policy.parties.get(role="holder")
    p = payment_services.create_payment(
        amount=Decimal(amount),
        payer_name=holder.name,
        payer_id_number=holder.id_number,
        reference_kind=endorsements.APPLICATION_REFERENCE_KIND,
        reference_id=str(policy.application_public_id),
        expires_in=timezone.timedelta(minutes=30),
    )
    sandbox.submit_payment(
        p.provider_txn_id,
        payer_name=holder.name,
        id_number=holder.id_number,
        card_number=GOOD_CARD,
        action="pay",
    )
    Payment.objects.filter(pk=p.pk).update(status=PaymentStatus.SUCCEEDED, paid_at=timezone.now())
    p.refresh_from_db()
    return p


def pay_delta(endorsement: Endorsement) -> Payment:
    """The customer pays the premium delta on the sandbox page; its notification is delivered."""
    endorsement.refresh_from_db()
    p = Payment.objects.get(public_id=endorsement.payment_ref)
    holder = endorsement.policy.parties.get(role="holder")
    sandbox.submit_payment(
        p.provider_txn_id,
        payer_name=holder.name,
        id_number=holder.id_number,
        card_number=GOOD_CARD,
        action="pay",
    )
    assert sandbox.deliver(p.provider_txn_id)
    p.refresh_from_db()
    return p
