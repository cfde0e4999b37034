"""Payment of the total premium and issuance from the payment's paid hook; recovery."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from huibao.application.evidence.trace import record_step
from huibao.application.models import Application, ApplicationItem
from huibao.application.premium import due_at_checkout
from huibao.application.selectors import REFERENCE_KIND, Target, with_beneficiaries_known
from huibao.application.services._common import _locked, _move, _require_acting, _require_not_expired
from huibao.application.services.issuance import issue_policies, items_to_issue
from huibao.application.states import ApplicationStatus
from huibao.billing.rules import INSTALMENT_MODES
from huibao.catalog.models import Product
from huibao.core import audit
from huibao.core.errors import Conflict
from huibao.distribution import selectors as distribution_selectors
from huibao.payment import selectors as payments
from huibao.payment.models import Payment
from huibao.payment.services import create_payment, refund
from huibao.policy.services import IssuanceRecovery


def payment_ttl() -> datetime.timedelta:
    return datetime.timedelta(minutes=int(getattr(settings, "HUIBAO_PAYMENT_TTL_MINUTES", 30)))


# Computed by the locked read: whether an item is paid in instalments (then its first is due).
_IN_INSTALMENTS: dict[str, Any] = {
    "in_instalments": Exists(
        ApplicationItem.objects.filter(
            application=OuterRef("pk"), quote__inputs__payment_mode__in=sorted(INSTALMENT_MODES)
        )
    )
}


def _due_at_checkout(app: Application) -> Decimal:
    """The first payment: the total premium or, when an item is paid monthly, the items' first
    instalments (billing collects the rest through a payment mandate). The annual path reads
    nothing more than the locked application."""
    if not getattr(app, "in_instalments", False):
        return app.total_premium
    rows = ApplicationItem.objects.filter(application=app).values_list(
        "premium", "underwriting_outcome", "quote__inputs__payment_mode"
    )
    return due_at_checkout(rows)


def pay(application: Application | Target, *, user: Any, request: HttpRequest | None = None) -> Any:
    """Opens (or returns the open) real-name payment of the applicant for the total premium.
    Retries and double clicks return the same payment; a failed or expired one is replaced."""
    with transaction.atomic(), audit.batched():
        app = _locked(application, **_IN_INSTALMENTS)
        _require_acting(app, user, open=False)
        if app.status == ApplicationStatus.AWAITING_PAYMENT:
            current = Payment.objects.filter(pk=app.payment_id).first() if app.payment_id else None
            if current is not None and payments.is_open(current):
                return current
            if current is not None and current.status == "succeeded":
                raise Conflict("已支付成功，正在出单", code="already_paid")
            _move(app, ApplicationStatus.SIGNED)
        if app.status != ApplicationStatus.SIGNED:
            raise Conflict(
                f"投保单当前状态为“{ApplicationStatus(app.status).label}”，不能支付", code="not_payable"
            )
        _require_not_expired(app)
        payment = create_payment(
            amount=_due_at_checkout(app),
            payer_name=app.applicant_name,
            payer_id_number=app.applicant_id_number,
            reference_kind=REFERENCE_KIND,
            reference_id=str(app.public_id),
            expires_in=payment_ttl(),
            # The provider's page sends the payer back to our pay page, which shows the result.
            return_url=reverse("application:pay", args=[app.public_id]),
        )
        _move(app, ApplicationStatus.AWAITING_PAYMENT)
        app.payment_id = payment.pk
        app.save(update_fields=["status", "payment_id", "updated_at"])
        record_step(
            app,
            "payment_opened",
            actor=user,
            request=request,
            page="application/pay.html",
            detail={
                "payment": str(payment.public_id),
                "amount": payment.amount,
                "provider": payment.provider,
            },
        )
    return payment


def on_payment_confirmed(payment: Any) -> None:
    """Paid hook: runs inside the transaction that marks the payment succeeded (exactly once per
    payment). Issues the policies; money for an application that can no longer be issued (it
    expired, was cancelled or changed meanwhile) is refunded at once."""
    # Knowing whether it has named beneficiaries: the issuance reads none when there is none.
    app = (
        with_beneficiaries_known(Application.objects.select_for_update())
        .filter(public_id=payment.reference_id)
        .first()
    )
    if app is None:
        return
    if app.status != ApplicationStatus.AWAITING_PAYMENT or app.payment_id != payment.pk:
        record_step(
            app,
            "payment_refused",
            actor="system",
            detail={"payment": str(payment.public_id), "status": app.status},
        )
        transaction.on_commit(lambda: refund(payment, payment.amount, "投保单已失效或已变更"))
        return
    _issue(app, payment)


def _issue(
    app: Application,
    payment: Any,
    *,
    now: datetime.datetime | None = None,
    paid_at: datetime.datetime | None = None,
) -> None:
    # One read of the items for the agreement check and for the issuance.
    product_table = connection.ops.quote_name(Product._meta.db_table)  # joined without an alias
    items = items_to_issue(app, product_covered=distribution_selectors.covered_today(product_table))
    refused = _not_sellable(app, items)
    if refused:
        _refuse_issuance(app, payment, refused)
        return
    with audit.batched():  # the policies' entries and the application's: one insert
        _issue_policies(app, payment, items, now=now, paid_at=paid_at)


def _not_sellable(app: Application, items: list[ApplicationItem]) -> list[Any]:
    """The products of `app` that may no longer be sold (no active agreement covers them
    today: `product_covered`, read with its items) and were not sellable either when the
    customer signed. A product whose agreement was active at signing is issued anyway: the
    customer paid for what they were offered, and a suspension afterwards is between the agency
    and the insurer (docs/distribution.md). No query of its own when everything sells."""
    refused = [i.product_version.product for i in items if not getattr(i, "product_covered", True)]
    products = list({p.pk: p for p in refused}.values())
    if not products or app.signed_at is None:
        return products
    return [p for p in products if not distribution_selectors.was_sellable_at(p, app.signed_at)]


def _refuse_issuance(app: Application, payment: Any, products: list[Any]) -> None:
    """No policy: the application is cancelled and the payment refunded in full after commit
    (the refusal path of a payment for an application that can no longer be issued)."""
    reasons = [distribution_selectors.sellable(p) for p in products]
    _move(app, ApplicationStatus.CANCELLED)
    app.save(update_fields=["status", "retention_until", "updated_at"])
    record_step(
        app,
        "issuance_refused",
        actor="system",
        detail={
            "payment": str(payment.public_id),
            "products": [p.code for p in products],
            "reasons": [r.code for r in reasons if r is not None],
        },
    )
    transaction.on_commit(lambda: refund(payment, payment.amount, "产品暂停销售，保费全额退还"))


def _issue_policies(
    app: Application,
    payment: Any,
    items: list[ApplicationItem],
    *,
    now: datetime.datetime | None = None,
    paid_at: datetime.datetime | None = None,
) -> None:
    now = now or timezone.now()
    app.paid_at = paid_at or payment.paid_at or now
    # `app` was read under its lock in this transaction; the save below writes its retention.
    policies = issue_policies(app, payment, now=now, locked=True, paid_at=app.paid_at, items=items)
    _move(app, ApplicationStatus.ISSUED)
    app.issued_at = now
    # What issuance changes (`issue_policies` set the retention): one UPDATE of those columns.
    app.save(update_fields=["paid_at", "status", "issued_at", "retention_until", "updated_at"])
    record_step(
        app,
        "issued",
        actor="system",
        detail={
            "payment": str(payment.public_id),
            "amount": payment.amount,
            "policies": [p.number for p in policies],
        },
    )


def recover_paid_applications() -> list[str]:
    """Issues every application whose payment succeeded but which is not issued (e.g. the process
    died, or a hook was not registered, between the payment and the issuance). Idempotent."""
    issued: list[str] = []
    paid = Payment.objects.filter(reference_kind=REFERENCE_KIND, status="succeeded").values_list(
        "pk", "reference_id"
    )
    candidates = {ref: pk for pk, ref in paid}
    stuck = Application.objects.filter(
        public_id__in=list(candidates), status=ApplicationStatus.AWAITING_PAYMENT
    ).values_list("public_id", flat=True)
    for public_id in stuck:
        with transaction.atomic():
            payment = Payment.objects.select_for_update().get(pk=candidates[str(public_id)])
            app = Application.objects.select_for_update().get(public_id=public_id)
            if app.status == ApplicationStatus.AWAITING_PAYMENT and app.payment_id == payment.pk:
                _issue(app, payment)
                issued.append(app.number)
    return issued


def issue_paid_as_of(
    application: Application, payment: Payment, *, paid_at: datetime.datetime, now: datetime.datetime
) -> Application:
    """Issues the policies of an application whose payment succeeded while its paid hook did
    not run (what `recover_paid_applications` finds), as of a past business time: paid at
    `paid_at`, issued at `now` — the steps and audit entries of the paid hook, the entries
    recorded today. The demo set-up tells its customer's policy history this way
    (`sandbox/demo.py`). Raises Conflict unless the application awaits this very payment."""
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        app = with_beneficiaries_known(Application.objects.select_for_update()).get(pk=application.pk)
        if (
            locked.status != "succeeded"
            or app.status != ApplicationStatus.AWAITING_PAYMENT
            or app.payment_id != locked.pk
        ):
            raise Conflict(
                f"application {app.number} does not await payment {locked.public_id}", code="not_issuable"
            )
        _issue(app, locked, now=now, paid_at=paid_at)
    return app


def on_issuance_recovery(run: IssuanceRecovery) -> list[str]:
    """Policy recovery hook: issues what was paid but not issued (`recover_paid_applications`)."""
    return recover_paid_applications()


def on_payment_failed(payment: Any) -> None:
    """Failed hook: the current payment of an application ended without the money being kept
    (declined, cancelled, expired, or refused and refunded). The application is back to signed,
    waiting for a new payment: it never reads 支付中 while nothing is being paid."""
    app = Application.objects.select_for_update().filter(public_id=payment.reference_id).first()
    if app is None or app.status != ApplicationStatus.AWAITING_PAYMENT or app.payment_id != payment.pk:
        return
    _move(app, ApplicationStatus.SIGNED)
    app.save(update_fields=["status", "updated_at"])
    record_step(
        app,
        "payment_failed",
        actor="system",
        detail={
            "payment": str(payment.public_id),
            "status": payment.status,
            "reason": payment.failure_reason,
        },
    )
