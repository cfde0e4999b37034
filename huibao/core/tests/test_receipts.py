"""What is kept of a refused signed notification (`core.receipts`)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from huibao.core.receipts import keep_refused, notify_id_of
from huibao.policy.models import InsurerAckReceipt

WINDOW = datetime.timedelta(minutes=10)


def test_the_notify_id_is_read_from_any_senders_header_in_any_case() -> None:
    assert notify_id_of({"Huibao-Insurer-Notify-Id": "A1"}) == "A1"
    assert notify_id_of({"content-type": "x", "x-gateway-notify-id": "B2"}) == "B2"
    assert notify_id_of({"Notify-Id-Extra": "no", "Signature": "s"}) == ""
    assert notify_id_of({}) == ""


@pytest.mark.django_db
def test_refused_messages_are_kept_up_to_the_budget_of_the_window() -> None:
    now = timezone.now()

    def keep(n: int) -> bool:
        return keep_refused(
            InsurerAckReceipt,
            now=now,
            window=WINDOW,
            budget=2,
            connector="sandbox",
            notify_id=f"F{n}",
            raw_body="{}",
            outcome="bad_signature",
        )

    assert [keep(1), keep(2), keep(3)] == [True, True, False]
    kept = InsurerAckReceipt.objects.order_by("notify_id")
    assert [(r.notify_id, r.signature_ok, r.outcome) for r in kept] == [
        ("F1", False, "bad_signature"),
        ("F2", False, "bad_signature"),
    ]
    # Verified receipts do not count against it, and the window moves on.
    InsurerAckReceipt.objects.create(connector="sandbox", notify_id="OK", raw_body="{}", signature_ok=True)
    assert not keep(4)
    InsurerAckReceipt.objects.filter(signature_ok=False).update(received_at=now - WINDOW - WINDOW)
    assert keep(5)
    assert InsurerAckReceipt.objects.filter(signature_ok=False).count() == 3
