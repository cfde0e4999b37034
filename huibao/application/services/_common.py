"""What every application use-case shares: the locked read, the state move, the owner checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Exists, OuterRef
from django.utils import timezone

from huibao.application.models import (
    Application,
    ApplicationItem,
    ClauseConfirmation,
    DisclosureReading,
    InsuredPerson,
    Signature,
)
from huibao.application.retention import retention_until_for
from huibao.application.selectors import (
    Target,
    keep_identity_check,
    persons_count,
    with_beneficiaries_known,
    with_identity_check,
)
from huibao.application.states import OPEN_STATUSES, TRANSITIONS, ApplicationStatus
from huibao.catalog.models import ProductStatus, VersionStatus
from huibao.core.errors import Conflict, FieldError, NotFound, PermissionDenied
from huibao.core.states import check_transition
from huibao.underwriting.models import UnderwritingCase
from huibao.underwriting.states import CaseStatus


def _locked_rows() -> Any:
    """The application rows read under their lock, each with whether it has any reading, clause
    row or named beneficiary yet, and its identity check's status (index look-ups in the same
    statement): a step then reads none of these tables when there is nothing in them, and no
    step reads the identity check again. Built once per process (resolving the subqueries costs
    more CPU than the statement's round trip); every use clones it."""
    global _LOCKED_ROWS
    if _LOCKED_ROWS is None:
        rows = with_beneficiaries_known(with_identity_check(Application.objects.select_for_update()))
        _LOCKED_ROWS = rows.annotate(
            has_readings=Exists(DisclosureReading.objects.filter(application=OuterRef("pk"))),
            has_clause_rows=Exists(ClauseConfirmation.objects.filter(application=OuterRef("pk"))),
        )
    return _LOCKED_ROWS.all()


_LOCKED_ROWS: Any = None

# What a step may ask the locked read to tell as well (`knowing`), each an index look-up in the
# same statement, so that it does not read a table that has nothing for it: whether the
# application has insured persons, signatures, open underwriting cases, and how many persons.
KNOWABLE: dict[str, Any] = {
    "has_persons": lambda: Exists(InsuredPerson.objects.filter(application=OuterRef("pk"))),
    "has_signatures": lambda: Exists(Signature.objects.filter(application=OuterRef("pk"))),
    # how many insured persons (`selectors.insured_persons` then takes them from the items)
    "persons_count": persons_count,
    "has_open_cases": lambda: Exists(
        UnderwritingCase.objects.filter(item__application=OuterRef("pk"), status=CaseStatus.OPEN)
    ),
}
_KNOWING_ROWS: dict[tuple[str, ...], Any] = {}


def _locked_rows_knowing(knowing: tuple[str, ...]) -> Any:
    """`_locked_rows()` with the `KNOWABLE` annotations named, built once per process each."""
    rows = _KNOWING_ROWS.get(knowing)
    if rows is None:
        rows = _locked_rows().annotate(**{name: KNOWABLE[name]() for name in knowing})
        _KNOWING_ROWS[knowing] = rows
    return rows.all()


def _locked(
    application: Application | Target, *, knowing: tuple[str, ...] = (), **annotations: Any
) -> Application:
    """The application read once, under its row lock; a `Target` that is not the caller's is
    `NotFound` (before anything else is read or checked). `knowing` (names of `KNOWABLE`) and
    `annotations` are computed by the same statement."""
    rows = _locked_rows_knowing(knowing) if knowing else _locked_rows()
    if annotations:
        rows = rows.annotate(**annotations)
    if isinstance(application, Target):
        app = rows.filter(application.access, public_id=application.public_id).first()
        if app is None:
            raise NotFound("投保单不存在", code="application_not_found")
        return keep_identity_check(app)
    return keep_identity_check(rows.get(pk=application.pk))


def _acting(
    application: Application | Target,
    user: Any,
    *,
    open: bool = True,
    owner: bool = True,
    not_expired: bool = False,
    knowing: tuple[str, ...] = (),
) -> Application:
    """The prelude of a step: the application read once under its lock (`_locked`: a stranger's
    404 comes first), then, in this order, still open (`open`), acted on by its own customer
    (`owner`) and not past its time (`not_expired`). One statement, whatever is checked, and
    whatever it is `knowing` (`KNOWABLE`)."""
    app = _locked(application, knowing=knowing)
    _require_acting(app, user, open=open, owner=owner, not_expired=not_expired)
    return app


def _require_acting(
    app: Application, user: Any, *, open: bool = True, owner: bool = True, not_expired: bool = False
) -> None:
    """The checks of `_acting` on an application already locked (for a step that checks its
    input first)."""
    if open:
        _require_open(app)
    if owner:
        _require_owner(app, user)
    if not_expired:
        _require_not_expired(app)


def _known_empty(app: Application) -> dict[str, list[Any]]:
    """The parts of the state answer (`loaded.Loaded`) that `_locked` found empty: readings and
    clause rows, unless the application has some. For a step that writes neither."""
    parts: dict[str, list[Any]] = {}
    if getattr(app, "has_readings", True) is False:
        parts["readings"] = []
    if getattr(app, "has_clause_rows", True) is False:
        parts["confirmations"] = []
    return parts


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
