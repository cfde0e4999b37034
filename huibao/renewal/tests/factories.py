"""Renewable policies: a one-year product priced by age band, issued through the real flow."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from huibao.account.models import User
from huibao.billing.tests.factories import deliver_owed
from huibao.catalog.models import ProductVersion
from huibao.payment.models import Payment
from huibao.payment.tests.factories import GOOD_CARD
from huibao.policy.models import Policy, PolicyParty
from huibao.policy.states import PartyRole
from huibao.policy.tests.factories import Person, application, customer, issue, product_version, years_ago
from huibao.sandbox import payment as sandbox_payment

# Base premium per 100,000 of sum insured by age band: 0–30 ¥100, 31–40 ¥150, 41+ ¥200.
AGE_PRICING: dict[str, Any] = {
    "inputs": {},
    "tables": {
        "base": {
            "label": "年龄段基础保费",
            "keys": ["age"],
            "bands": {"age": [0, 31, 41]},
            "values": {"0": "100", "31": "150", "41": "200"},
        }
    },
    "steps": [
        {"name": "base", "label": "年龄段基础保费", "expr": "table('base')"},
        {"name": "premium", "label": "应缴保费", "expr": "base * sum_insured / 100000"},
    ],
    "result": "premium",
}


def renewable_version(
    *, guaranteed_years: int = 0, max_renewal_age: int | None = None, servicing: dict[str, Any] | None = None
) -> ProductVersion:
    version = product_version(line="medical", cooling_off_days=0)
    version.pricing = AGE_PRICING
    version.payment_modes = ["annual"]
    version.renewal = {
        "renewable": True,
        "guaranteed_years": guaranteed_years,
        "max_renewal_age": max_renewal_age,
        "note": "",
    }
    version.servicing = servicing or {"renewal_offer_days": 30, "grace_days": 15, "auto_renewal": True}
    version.save()
    return version


def renewable_policy(
    version: ProductVersion | None = None,
    *,
    owner: User | None = None,
    birth: datetime.date | None = None,
    **version_kwargs: Any,
) -> Policy:
    """A policy of 200,000 paid now, for an insured aged 30 (31 on the renewal's start)."""
    version = version or renewable_version(**version_kwargs)
    person = Person(birth=birth or years_ago(30))
    app = application([(version, person, 200_000, "200.00", {"term": "1y"})], customer=owner or customer())
    return issue(app)[0]


def expiry_date(policy: Policy) -> datetime.date:
    assert policy.expires_at is not None
    return timezone.localtime(policy.expires_at).date()


def pay_at_cashier(payment: Payment, policy: Policy, *, card: str = GOOD_CARD) -> None:
    """The holder pays the sandbox's hosted checkout and the gateway notifies."""
    holder = PolicyParty.objects.get(policy=policy, role=PartyRole.HOLDER)
    sandbox_payment.submit_payment(
        payment.provider_txn_id,
        payer_name=holder.name,
        id_number=holder.id_number,
        card_number=card,
        action="pay",
    )
    deliver_owed()


def money(value: str) -> Decimal:
    return Decimal(value)
