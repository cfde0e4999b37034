"""Closing an application unissued: expiry and cancellation."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from huibao.application.evidence.trace import record_step
from huibao.application.models import Application
from huibao.application.selectors import Target
from huibao.application.services._common import _is_owner, _locked, _move, _require_open
from huibao.application.states import OPEN_STATUSES, ApplicationStatus
from huibao.core.errors import Conflict, PermissionDenied
from huibao.payment import selectors as payments
from huibao.underwriting.services import withdraw_open_cases


def _payment_ended_unpaid(app: Application) -> bool:
    """True when the application's current payment ended without the money being kept (failed,
    expired, or refused and refunded), or there is none: nothing can still confirm it."""
    return payments.ended_unpaid(payments.status_of(app.payment_id))


def expire_applications(now: datetime.datetime | None = None) -> int:
    """Open applications past their time expire. One awaiting payment expires only once its
    payment has ended unpaid (an open payment expires first; a paid one is issued, or recovered)."""
    now = now or timezone.now()
    count = 0
    ids = Application.objects.filter(status__in=OPEN_STATUSES, expires_at__lte=now).values_list(
        "pk", flat=True
    )
    for pk in list(ids):
        with transaction.atomic():
            app = Application.objects.select_for_update().get(pk=pk)
            if app.status not in OPEN_STATUSES or app.expires_at > now:
                continue
            if app.status == ApplicationStatus.AWAITING_PAYMENT and not _payment_ended_unpaid(app):
                continue
            _move(app, ApplicationStatus.EXPIRED)
            app.save(update_fields=["status", "retention_until", "updated_at"])
            withdraw_open_cases(app)
            record_step(app, "expired", actor="system")
            count += 1
    return count


def cancel(
    application: Application | Target, *, user: Any, request: HttpRequest | None = None
) -> Application:
    with transaction.atomic():
        app = _locked(application)
        if not (
            _is_owner(app, user)
            or (app.started_by_id is not None and app.started_by_id == getattr(user, "pk", None))
        ):
            raise PermissionDenied("无权撤销此投保单", code="not_allowed")
        if app.status == ApplicationStatus.AWAITING_PAYMENT and not _payment_ended_unpaid(app):
            raise Conflict("支付进行中，不能撤销", code="payment_in_progress")
        _require_open(app)
        _move(app, ApplicationStatus.CANCELLED)
        app.save(update_fields=["status", "retention_until", "updated_at"])
        withdraw_open_cases(app)
        record_step(app, "cancelled", actor=user, request=request)
    return app
