"""Retention of application records: what may be deleted once its keeping period has passed.

An application is kept until `Application.retention_until` (see docs/traceability.md for how it
is computed) and `Application.delete()` refuses before that date. `purge_candidates` lists the
applications whose date has passed and says, for each, whether it may go now; `purge` deletes
those that may, in one transaction each: the application with its own rows (items, insured
persons, beneficiaries, readings, clause confirmations, signatures) and the records other apps
keep only because of it, each deleted by the app that owns it (`purge_related`) — payments with
their events, refunds and provider notifications, real-name and face checks with the face-provider
notifications, underwriting cases, the signed application form and evidence files. Each deletion
is recorded in the audit chain with the counts per kind. Audit entries are never deleted.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from huibao.application.evidence.trace import record_step
from huibao.application.models import Application
from huibao.application.selectors import REFERENCE_KIND
from huibao.application.states import FINAL_STATUSES, ApplicationStatus
from huibao.core.errors import Conflict
from huibao.esign import services as esign_services
from huibao.esign.models import SignedDocumentKind
from huibao.identity import services as identity_services
from huibao.payment import services as payment_services
from huibao.underwriting import services as underwriting_services

PURGE_ACTOR = "system:retention"
# An application that never became a contract is kept this long after it closed.
YEARS_WITHOUT_CONTRACT = 5


def _add_years(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def retention_until_for(app: Application) -> datetime.date | None:
    """The date `app` must be kept until: for an issued application the latest retention date of
    its policies; for one closed without a contract (declined, expired, cancelled)
    `YEARS_WITHOUT_CONTRACT` years after it closed; None while it is open."""
    if app.status == ApplicationStatus.ISSUED:
        dates = [d for d in app.policies.values_list("retention_until", flat=True) if d is not None]
        return max(dates) if dates else None
    if app.status in FINAL_STATUSES:
        # Counted from now: this runs as the application closes, before the move is saved, when
        # `updated_at` still holds the last change before it (possibly weeks earlier).
        return _add_years(timezone.localdate(), YEARS_WITHOUT_CONTRACT)
    return None


@dataclass(frozen=True, slots=True)
class PurgeCandidate:
    pk: int
    number: str
    status: str
    retention_until: datetime.date
    deletable: bool
    reason: str  # why it is kept, when it is not deletable
    # What goes with it (would go, in a dry run), per kind of `PURGED_KINDS`; empty when kept.
    counts: Mapping[str, int] = dataclasses.field(default_factory=dict)


# Every kind of record deleted with an application, in report order, with its label.
PURGED_KINDS: dict[str, str] = {
    "payments": "支付记录",
    "payment_events": "支付事件",
    "refunds": "退款记录",
    "payment_notifications": "支付通知",
    "identity_checks": "实名认证记录",
    "face_checks": "人脸识别记录",
    "face_notifications": "人脸识别通知",
    "underwriting_cases": "人工核保案件",
    "signed_documents": "电子投保单及回溯证据文件",
}


def purge_related(app: Application, *, dry_run: bool = False) -> dict[str, int]:
    """Deletes (counts, with `dry_run`) the records other apps keep only because of `app`, each
    through the app that owns them; the signed documents are left for after the application row
    (it points at its form), see `purge`. Raises `Conflict` while one of them is still needed (a
    payment the payer may still complete, or money not returned); nothing is deleted then.

    Links, none of them a foreign key: payments, real-name and face checks by
    (`REFERENCE_KIND`, `app.public_id`); underwriting cases by the application's items."""
    ref = str(app.public_id)
    counts: dict[str, int] = {}
    counts.update(payment_services.purge_for_reference(REFERENCE_KIND, ref, dry_run=dry_run))
    counts.update(identity_services.purge_for_reference(REFERENCE_KIND, ref, dry_run=dry_run))
    counts.update(underwriting_services.purge_for_application(app.pk, dry_run=dry_run))
    return counts


def _purge_documents(app_number: str, form_id: int | None, *, dry_run: bool) -> dict[str, int]:
    """The signed application form(s) and the evidence files exported for the application."""
    return esign_services.purge_for_reference(
        app_number,
        [SignedDocumentKind.APPLICATION_FORM, SignedDocumentKind.EVIDENCE],
        also=[form_id] if form_id is not None else [],
        dry_run=dry_run,
    )


def _counted(app: Application) -> tuple[dict[str, int], str]:
    """What would go with `app`, or why it must stay: (counts, "") or ({}, reason)."""
    try:
        counts = purge_related(app, dry_run=True)
    except Conflict as exc:
        return {}, "；".join(e.message for e in exc.errors) or exc.message
    counts.update(_purge_documents(app.number, app.application_form_id, dry_run=True))
    return {kind: counts.get(kind, 0) for kind in PURGED_KINDS}, ""


def _why_kept(app: Application, today: datetime.date) -> str:
    if app.retention_until is None or app.retention_until >= today:
        return f"保存期至{app.retention_until}，未届满"
    if app.status not in FINAL_STATUSES:
        return f"投保单状态为“{ApplicationStatus(app.status).label}”，尚未结束"
    numbers = list(app.policies.values_list("number", flat=True))
    if numbers:
        # Policies have their own keeping period and are purged by the policy records first.
        return f"仍有保单记录（{'、'.join(numbers)}），须先按保单保存期清理"
    return ""


def purge_candidates(today: datetime.date | None = None) -> list[PurgeCandidate]:
    """Applications whose retention date is past (strictly before `today`), oldest first, with
    what would be deleted with each that may go."""
    today = today or timezone.localdate()
    out: list[PurgeCandidate] = []
    for app in Application.objects.filter(retention_until__lt=today).order_by("retention_until", "id"):
        reason = _why_kept(app, today)
        counts: dict[str, int] = {}
        if not reason:
            counts, reason = _counted(app)
        assert app.retention_until is not None
        out.append(
            PurgeCandidate(
                pk=app.pk,
                number=app.number,
                status=app.status,
                retention_until=app.retention_until,
                deletable=not reason,
                reason=reason,
                counts=counts,
            )
        )
    return out


def purge(today: datetime.date | None = None) -> list[PurgeCandidate]:
    """Deletes every deletable candidate (each in its own transaction, checked again under a row
    lock) with the records that go with it; returns the candidates with what happened to each
    (`counts`: what was deleted per kind)."""
    today = today or timezone.localdate()
    results: list[PurgeCandidate] = []
    for candidate in purge_candidates(today):
        if not candidate.deletable:
            results.append(candidate)
            continue
        try:
            with transaction.atomic():
                app = Application.objects.select_for_update().get(pk=candidate.pk)
                reason = _why_kept(app, today)
                if reason:
                    results.append(_with(candidate, deletable=False, reason=reason))
                    continue
                number, form_id, retention_until = app.number, app.application_form_id, app.retention_until
                counts = purge_related(app)
                # Items first: an item's link to its insured person is PROTECT, and a single
                # cascade from the application would reach the person before the item.
                app.items.all().delete()
                app.delete()
                counts.update(_purge_documents(number, form_id, dry_run=False))
                counts = {kind: counts.get(kind, 0) for kind in PURGED_KINDS}
                # One entry per purged application: its number and the counts, no personal data.
                # `app` is still in memory (public id, status), so the entry is filed under it.
                record_step(
                    app,
                    "purged",
                    actor=PURGE_ACTOR,
                    detail={"number": number, "retention_until": retention_until, "deleted": counts},
                )
        except Conflict as exc:
            why = "；".join(e.message for e in exc.errors) or exc.message
            results.append(_with(candidate, deletable=False, reason=why))
            continue
        except ProtectedError as exc:
            kinds = sorted({str(obj._meta.verbose_name) for obj in exc.protected_objects})
            results.append(_with(candidate, deletable=False, reason=f"仍被其他记录引用：{'、'.join(kinds)}"))
            continue
        results.append(dataclasses.replace(candidate, counts=counts))
    return results


def _with(candidate: PurgeCandidate, *, deletable: bool, reason: str) -> PurgeCandidate:
    return dataclasses.replace(candidate, deletable=deletable, reason=reason, counts={})
