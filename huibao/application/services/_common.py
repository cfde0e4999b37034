"""What every application use-case shares: the locked read, the state move, the owner checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from huibao.application.models import Application, ApplicationItem
from huibao.application.retention import retention_until_for
from huibao.application.selectors import Target
from huibao.application.states import OPEN_STATUSES, TRANSITIONS, ApplicationStatus
from huibao.catalog.models import ProductStatus, VersionStatus
from huibao.core.errors import Conflict, FieldError, NotFound, PermissionDenied
from huibao.core.states import check_transition


def _locked(application: Application | Target, **annotations: Any) -> Application:
    """The application under its row lock; `annotations` are computed by the same query."""
    rows = Application.objects.select_for_update().annotate(**annotations)
    if isinstance(application, Target):
        app = rows.filter(application.access, public_id=application.public_id).first()
        if app is None:
            raise NotFound("投保单不存在", code="application_not_found")
        return app
    return rows.get(pk=application.pk)


def _move(app: Application, target: str) -> None:
    check_transition(TRANSITIONS, app.status, target, what="application")
    app.status = target
    if target in (ApplicationStatus.DECLINED, ApplicationStatus.EXPIRED, ApplicationStatus.CANCELLED):
        # Kept 5 years after it closed unissued (issued ones: per policy term, set at issuance).
        app.retention_until = retention_until_for(app)


def _is_owner(app: Application, user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and app.customer_id == user.pk)


def _require_owner(app: Application, user: Any) -> None:
    """Only the customer who owns the application may act on it (never the agent)."""
    if not _is_owner(app, user):
        raise PermissionDenied("只有投保人本人可以进行此操作", code="not_applicant")


def _require_not_expired(app: Application) -> None:
    """Past its time an application takes no further step, even before the sweep closes it."""
    if app.expires_at <= timezone.now():
        raise Conflict("投保单已过期，请重新投保", code="application_expired")


def _require_open(app: Application) -> None:
    if app.status not in OPEN_STATUSES:
        raise Conflict(
            f"投保单当前状态为“{ApplicationStatus(app.status).label}”，不能再操作",
            code="application_closed",
        )


def _on_sale(version: Any) -> bool:
    """The version is the one on sale: published, and its product on sale with it as current."""
    product = version.product
    return (
        version.status == VersionStatus.PUBLISHED
        and product.status == ProductStatus.ON_SALE
        and product.current_version_id in (None, version.pk)
    )


def _not_on_sale(items: Sequence[ApplicationItem]) -> list[FieldError]:
    return [
        FieldError(
            "items",
            "version_not_on_sale",
            f"“{i.product_version.product.name}”已更新或停售，本投保单不能继续，请重新报价投保",
        )
        for i in items
        if not _on_sale(i.product_version)
    ]
