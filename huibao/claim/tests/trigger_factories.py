"""Builders for event-triggered payouts: a flight-delay product (3-hour threshold, a 2-hour plan,
cancellation pays), its policies issued through the real issuance, signed deliveries."""

from __future__ import annotations

import datetime
import json
import secrets
from typing import Any

from django.utils import timezone

from huibao.account.models import User
from huibao.catalog.models import ProductVersion
from huibao.claim.event_models import PayoutAccount
from huibao.claim.events_intake import HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP
from huibao.claim.tests.factories import GOOD_CARD
from huibao.claim.triggers_rules import sign
from huibao.policy.models import Policy
from huibao.policy.tests.factories import Person, application, customer, issue, product_version

FLIGHT_RULES: dict[str, Any] = {
    "signature": "confirmation",
    "effective": {"rule": "same_day"},
    "subject": [
        {"code": "flight_number", "label": "航班号", "pattern": "^[A-Z0-9]{2}[0-9]{1,4}$", "required": True}
    ],
}
FLIGHT_CLAIMS: dict[str, Any] = {
    "trigger": {"kind": "flight_delay", "delay_hours": 3, "pays_on_cancellation": True},
}
SOURCE = "feedco"
KEY = "feedco-test-key"


def flight_version(claims: dict[str, Any] | None = None) -> ProductVersion:
    version = product_version(
        name="准点保航班延误险",
        line="flight_delay",
        coverages=(("delay", "航班延误3小时及以上", 200, False), ("cancel", "航班取消", 100, False)),
        term_options=[{"code": "flight", "label": "单个航段", "days": 1}],
        cooling_off_days=0,
        rules=FLIGHT_RULES,
        min_sum=200,
        max_sum=200,
    )
    version.claims = FLIGHT_CLAIMS if claims is None else claims
    version.save(update_fields=["claims"])
    return version


def flight_policy(
    version: ProductVersion, flight: str = "MU5101", *, owner: User | None = None, account: bool = True
) -> Policy:
    owner = owner or customer()
    if account:
        PayoutAccount.objects.update_or_create(
            user=owner,
            defaults={"payee_name": "李春花", "account_number": GOOD_CARD, "account_last4": GOOD_CARD[-4:]},
        )
    app = application(
        [(version, Person(), 200, "20.00", {"term": "flight"})],
        customer=owner,
        subject={"flight_number": flight},
    )
    return issue(app)[0]


def departure(policy: Policy) -> datetime.date:
    return timezone.localdate(policy.effective_at)


def flight_body(policy_or_date: Policy | datetime.date, flight: str = "MU5101", **fields: Any) -> bytes:
    day = departure(policy_or_date) if isinstance(policy_or_date, Policy) else policy_or_date
    body = {
        "event_id": fields.pop("event_id", f"EV{secrets.token_hex(4)}"),
        "flight_number": flight,
        "flight_date": day.isoformat(),
        "status": "delayed",
        "delay_minutes": 240,
        **fields,
    }
    return json.dumps(body).encode()


def signed(
    body: bytes, *, key: str = KEY, nonce: str | None = None, at: datetime.datetime | None = None
) -> dict[str, str]:
    timestamp = str(int((at or timezone.now()).timestamp()))
    nonce = nonce or secrets.token_hex(8)
    return {
        "HTTP_" + HEADER_TIMESTAMP.upper().replace("-", "_"): timestamp,
        "HTTP_" + HEADER_NONCE.upper().replace("-", "_"): nonce,
        "HTTP_" + HEADER_SIGNATURE.upper().replace("-", "_"): sign(key.encode(), timestamp, nonce, body),
    }


def return_policy(order_number: str) -> Policy:
    """A return-shipping (退货运费险) policy on one order, its customer with a stored account."""
    version = product_version(
        name="退货无忧运费险",
        line="return_shipping",
        coverages=(("return_freight", "退货运费", 12, False),),
        term_options=[{"code": "order", "label": "单笔订单", "days": 90}],
        cooling_off_days=0,
        rules={
            "signature": "confirmation",
            "effective": {"rule": "same_day"},
            "subject": [{"code": "order_number", "label": "订单号", "pattern": "^[0-9A-Za-z-]{6,32}$"}],
        },
        min_sum=12,
        max_sum=12,
    )
    version.claims = {"trigger": {"kind": "return_shipping"}}
    version.save(update_fields=["claims"])
    owner = customer()
    PayoutAccount.objects.create(
        user=owner, payee_name="李春花", account_number=GOOD_CARD, account_last4=GOOD_CARD[-4:]
    )
    app = application(
        [(version, Person(), 12, "1.50", {"term": "order"})],
        customer=owner,
        subject={"order_number": order_number},
    )
    return issue(app)[0]
