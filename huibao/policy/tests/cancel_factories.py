"""Policies paid for real on the sandbox gateway (so that they can be refunded), and the SMS
code of a cancellation read from the console backend."""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import time_machine
from django.utils import timezone

from huibao.account.sms import ConsoleSmsBackend, get_sms_backend
from huibao.application.services.pay import pay
from huibao.application.states import ApplicationStatus
from huibao.billing import services as billing
from huibao.billing.models import PremiumSchedule
from huibao.billing.tests import factories as billing_factories
from huibao.payment.tests.factories import GOOD_CARD
from huibao.policy.models import Policy
from huibao.policy.tests import factories as f
from huibao.sandbox import payment as sandbox_payment

TZ = timezone.get_default_timezone()
HOLDER_PHONE = "13900001111"  # the applicant's phone of `factories.application`


def at(d: datetime.date, hour: int = 10, minute: int = 0) -> time_machine.travel:
    return time_machine.travel(datetime.datetime(d.year, d.month, d.day, hour, minute, tzinfo=TZ), tick=False)


def paid_policies(
    user: Any,
    items: Sequence[tuple[Any, Any, Any, Any, dict[str, Any]]],
) -> list[Policy]:
    """Signs, pays on the sandbox gateway and issues (through the real paid hook)."""
    app = f.application(items, customer=user, status=ApplicationStatus.SIGNED)
    payment = pay(app, user=user)
    sandbox_payment.submit_payment(
        payment.provider_txn_id,
        payer_name=app.applicant_name,
        id_number=app.applicant_id_number,
        card_number=GOOD_CARD,
        action="pay",
    )
    assert sandbox_payment.deliver(payment.provider_txn_id)
    return list(Policy.objects.filter(application=app).order_by("item__position"))


def one_policy(
    user: Any,
    *,
    premium: str = "320.00",
    mode: str = "annual",
    servicing: dict[str, Any] | None = None,
    cooling_off_days: int = 15,
    term: list[dict[str, Any]] | None = None,
) -> Policy:
    version = f.product_version(cooling_off_days=cooling_off_days, term_options=term)
    if servicing is not None:
        version.servicing = servicing
        version.save(update_fields=["servicing"])
    inputs = {"term": (term or [{"code": "1y"}])[0]["code"], "payment_mode": mode}
    return paid_policies(user, [(version, f.Person(), 500_000, Decimal(premium), inputs)])[0]


def collect_instalments(policy: Policy, count: int) -> None:
    """Collects the next `count` instalments through a mandate, on their due dates."""
    schedule = PremiumSchedule.objects.get(reference_kind="policy", reference_id=policy.number)
    if schedule.mandate is None:
        billing.attach_mandate(schedule, billing_factories.mandate(policy.customer_id))
    due = list(schedule.instalments.filter(status="due").order_by("number")[:count])
    for inst in due:
        with at(inst.due_on, 9):
            billing.collect_due(inst.due_on)
            billing_factories.deliver_owed()


def sms_code(phone: str = HOLDER_PHONE) -> str:
    backend = get_sms_backend()
    assert isinstance(backend, ConsoleSmsBackend)
    text = backend.last_text_to(phone)
    assert text is not None, f"no SMS to {phone}"
    match = re.search(r"(?<!\d)(\d{6})(?!\d)", text)
    assert match, text
    return match.group(1)


def confirmed_cooling_off(policy: Policy, amount: Decimal) -> Any:
    """A confirmed cooling-off cancellation of `policy` refunding `amount`, as a hook's event names
    it (for listeners tested without running the cancellation itself)."""
    from huibao.policy.models import Cancellation
    from huibao.policy.states import CancellationKind, CancellationReason, CancellationStatus

    return Cancellation.objects.create(
        policy=policy,
        kind=CancellationKind.COOLING_OFF,
        status=CancellationStatus.CONFIRMED,
        method="cooling_off",
        request_date=timezone.localdate(),
        paid=amount,
        amount=amount,
        reason=CancellationReason.NO_LONGER_NEEDED,
        confirmed_at=timezone.now(),
    )
