"""Payments and signed sandbox notifications for tests."""

from __future__ import annotations

import datetime
import json
import secrets
from decimal import Decimal
from urllib.parse import urlparse

from django.test import Client
from django.utils import timezone

from huibao.payment import services
from huibao.payment.models import Payment
from huibao.sandbox import notifications
from huibao.sandbox import payment as sandbox

APPLICANT_NAME = "张三"
APPLICANT_ID = "110105199003071239"
OTHER_ID = "110105198511204566"
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
EXPIRING_CARD = "4000000000000069"


def payment(
    amount: str = "128.50",
    *,
    expires_in: datetime.timedelta = datetime.timedelta(minutes=30),
    kind: str = "test_order",
    ref: str = "A1",
) -> Payment:
    return services.create_payment(
        amount=Decimal(amount),
        payer_name=APPLICANT_NAME,
        payer_id_number=APPLICANT_ID,
        reference_kind=kind,
        reference_id=ref,
        expires_in=expires_in,
    )


def notification(
    p: Payment,
    *,
    status: str = "success",
    payer_name: str = APPLICANT_NAME,
    payer_id: str = APPLICANT_ID,
    amount_fen: int | None = None,
    notify_id: str | None = None,
    now: datetime.datetime | None = None,
    txn_id: str | None = None,
) -> tuple[dict[str, str], bytes]:
    """Headers and body exactly as the sandbox gateway signs them."""
    notify_id = notify_id or "N" + secrets.token_hex(16)
    body = json.dumps(
        {
            "notify_id": notify_id,
            "txn_id": p.provider_txn_id if txn_id is None else txn_id,
            "merchant_ref": p.merchant_ref,
            "status": status,
            "amount_fen": int(p.amount * 100) if amount_fen is None else amount_fen,
            "payer_name": payer_name,
            "payer_id_number": payer_id,
            "reason": "",
        }
    ).encode()
    return sandbox.signed_headers(notify_id, body, now or timezone.now()), body


def client_transport(client: Client) -> notifications.HttpPost:
    """Delivers the sandbox's notifications through Django's test client instead of the network."""

    def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        response = client.generic(
            "POST",
            urlparse(url).path,
            body,
            content_type="application/json",
            headers={k: v for k, v in headers.items() if k != "Content-Type"},
        )
        return response.status_code, response.content.decode()

    return post
