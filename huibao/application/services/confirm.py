"""Confirmation and the underwriting outcome: accepted, referred, declined; terms and declined items."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models.fields.json import KeyTextTransform
from django.http import HttpRequest
from django.utils import timezone

from huibao.application.evidence.trace import record_step
from huibao.application.journey import missing_for_confirmation
from huibao.application.models import Application, ApplicationItem
from huibao.application.premium import total_premium
from huibao.application.selectors import (
    Target,
    data_digest,
    declined_items,
    insured_persons,
    items_of,
    rules_of,
)
from huibao.application.services._common import (
    _acting,
    _known_empty,
    _locked,
    _move,
    _not_on_sale,
    _require_not_expired,
)
from huibao.application.services.loaded import _remember_loaded
from huibao.application.services.underwriting import underwrite_application
from huibao.application.states import ApplicationStatus, UnderwritingOutcome
from huibao.core import audit
from huibao.core.errors import Conflict, ValidationFailed

# What `confirm` changes on the application row: its own columns, the underwriting's total
# premium and what `_apply_outcome` sets (status, terms agreed when accepted without terms, and
# the retention date when declined).
CONFIRMED_FIELDS = [
    "confirmed_revision",
    "confirmed_at",
    "confirmed_digest",
    "total_premium",
    "face_required",
    "status",
    "terms_agreed_at",
    "retention_until",
    "updated_at",
]


def confirm(
    application: Application | Target,
    *,
    user: Any,
    request: HttpRequest | None = None,
    expected_revision: int | None = None,
) -> Application:
    """The customer confirms the data they checked: it is locked and underwritten.
    `expected_revision`: the data revision the customer was shown; if the data changed since
    (another tab, the agent), nothing is confirmed."""
    with transaction.atomic(), audit.batched():
        # Knowing whether it has open underwriting cases: none is read to be withdrawn otherwise.
        # And how many insured persons: those the items were read with then are all of them.
        app = _acting(application, user, open=False, knowing=("has_open_cases", "persons_count"))
        if app.status != ApplicationStatus.DRAFT:
            raise Conflict("投保信息已确认", code="already_confirmed")
        _require_not_expired(app)
        if expected_revision is not None and expected_revision != app.data_revision:
            raise Conflict("投保信息刚刚有修改，请重新核对后再确认", code="data_changed")
        # Locked here for the underwriting, which writes their outcomes and premiums in place.
        items = list(
            app.items.select_for_update(of=("self",))
            .select_related("product_version__product__insurer", "plan", "insured")
            .annotate(payment_mode=KeyTextTransform("payment_mode", "quote__inputs"))
            .order_by("position")
        )
        errors = missing_for_confirmation(app, items) + _not_on_sale(items)
        if errors:
            raise ValidationFailed("cannot confirm yet", errors=errors)
        app.confirmed_revision = app.data_revision
        app.confirmed_at = timezone.now()
        # Sets the items' outcomes and premiums and `app.total_premium`, in the rows and here.
        underwrite_application(app, actor=user, request=request, items=items, locked=True)
        outcome = overall_outcome(i.underwriting_outcome for i in items)
        persons = insured_persons(app, items=items)
        # The confirmed data with the premiums as underwritten (a loading changes them; the
        # customer accepts it separately in `agree_terms`).
        app.confirmed_digest = data_digest(app, items=items, persons=persons)
        app.face_required = any(rules_of(i).face_check_required(app.total_premium) for i in items)
        _apply_outcome(app, outcome)
        # One UPDATE of what confirming changes (the underwriting's total premium included).
        app.save(update_fields=CONFIRMED_FIELDS)
        record_step(
            app,
            "confirmed",
            actor=user,
            request=request,
            page="application/review.html",
            detail={
                "digest": app.confirmed_digest,
                "underwriting": outcome,
                "total_premium": app.total_premium,
            },
        )
        # Confirmed from a draft, which has no signature (`_back_to_draft` deletes them).
        _remember_loaded(app, items=items, persons=persons, signatures=[], **_known_empty(app))
    return app


def overall_outcome(outcomes: Iterable[str]) -> str:
    """The application's outcome from its items'. A bundle is declined only when every product
    is: otherwise the others decide (refer while one waits for an underwriter, terms when one has
    a loading or an exclusion), and the declined products wait for the customer's choice —
    continue without them (`drop_declined_items`) or stop (`cancel`); signing waits until then."""
    values = list(outcomes)
    kept = [o for o in values if o != UnderwritingOutcome.DECLINE]
    if not kept:
        return UnderwritingOutcome.DECLINE
    if UnderwritingOutcome.REFER in kept or UnderwritingOutcome.PENDING in kept:
        return UnderwritingOutcome.REFER
    if UnderwritingOutcome.ACCEPT_WITH_TERMS in kept:
        return UnderwritingOutcome.ACCEPT_WITH_TERMS
    return UnderwritingOutcome.ACCEPT


def _apply_outcome(app: Application, outcome: str) -> None:
    if outcome == UnderwritingOutcome.DECLINE:
        _move(app, ApplicationStatus.DECLINED)
    elif outcome == UnderwritingOutcome.REFER:
        _move(app, ApplicationStatus.REFERRED)
    else:
        _move(app, ApplicationStatus.ACCEPTED)
        if outcome == UnderwritingOutcome.ACCEPT:
            app.terms_agreed_at = app.confirmed_at


def resume_after_referral(
    application: Application, *, actor: Any, request: HttpRequest | None = None
) -> Application:
    """Called when an underwriter decided the last open case of the application."""
    with transaction.atomic():
        app = _locked(application)
        if app.status != ApplicationStatus.REFERRED:
            return app
        outcomes = [i.underwriting_outcome for i in app.items.all()]
        if UnderwritingOutcome.REFER in outcomes or UnderwritingOutcome.PENDING in outcomes:
            return app
        app.total_premium = total_premium(app.items.all())
        overall = overall_outcome(outcomes)
        if app.is_confirmed:
            # The underwriter's terms changed the premiums of the data the customer confirmed.
            app.confirmed_digest = data_digest(app)
        app.face_required = any(rules_of(i).face_check_required(app.total_premium) for i in items_of(app))
        _apply_outcome(app, overall)
        app.save()
        record_step(app, "underwriting_decided", actor=actor, request=request, detail={"outcome": overall})
    return app


def drop_declined_items(
    application: Application | Target, *, user: Any, request: HttpRequest | None = None
) -> Application:
    """The customer continues without the products of the bundle the underwriting declined: those
    items (and an insured person left without any) are removed, the total is re-computed, and
    the reduced application is what the customer now confirms (they chose it on this step)."""
    with transaction.atomic():
        app = _acting(application, user, open=False)
        items = items_of(app)
        declined = declined_items(items)
        if app.status != ApplicationStatus.ACCEPTED or not declined:
            raise Conflict("当前没有需要移除的拒保产品", code="nothing_declined")
        kept = [i for i in items if i not in declined]
        removed = [
            {
                "item": i.position,
                "product": i.product_version.product.code,
                "product_version": i.product_version_id,
                "insured": i.insured.position if i.insured else None,
                "reasons": i.underwriting_reasons,
                "cases": list(
                    i.cases.values("id", "status", "decision", "decision_reasons", "decided_by_id")
                ),
            }
            for i in declined
        ]
        before = {"status": app.status, "revision": app.data_revision, "total_premium": app.total_premium}
        ApplicationItem.objects.filter(pk__in=[i.pk for i in declined]).delete()
        keep_persons = {i.insured_id for i in kept if i.insured_id is not None}
        app.insured_persons.exclude(pk__in=keep_persons).delete()
        app.total_premium = total_premium(kept)
        app.face_required = any(rules_of(i).face_check_required(app.total_premium) for i in kept)
        app.signatures.all().delete()
        app.signed_at = None
        app.application_form = None
        app.data_revision += 1
        app.confirmed_revision = app.data_revision
        app.confirmed_digest = data_digest(app, items=kept)
        app.confirmed_at = timezone.now()
        app.save()
        record_step(
            app,
            "declined_items_removed",
            actor=user,
            request=request,
            page="application/review.html",
            before=before,
            detail={
                "removed": removed,
                "digest": app.confirmed_digest,
                "total_premium": app.total_premium,
            },
        )
    return app


def agree_terms(
    application: Application | Target, *, user: Any, request: HttpRequest | None = None
) -> Application:
    """The customer accepts the loading and/or exclusions the underwriting set."""
    with transaction.atomic():
        app = _acting(application, user, open=False)
        if app.status != ApplicationStatus.ACCEPTED:
            raise Conflict("当前无需确认核保条件", code="no_terms")
        if app.terms_agreed_at is None:
            app.terms_agreed_at = timezone.now()
            app.save(update_fields=["terms_agreed_at", "updated_at"])
            terms = [
                {"item": i.position, "loading_percent": i.loading_percent, "exclusions": i.exclusions}
                for i in app.items.all()
            ]
            record_step(
                app,
                "terms_agreed",
                actor=user,
                request=request,
                page="application/terms.html",
                detail={"terms": terms},
            )
    return app
