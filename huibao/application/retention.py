"""Retention of application records: what may be deleted once its keeping period has passed.

An application is kept until `Application.retention_until` (see docs/traceability.md for how it
is computed) and `Application.delete()` refuses before that date. `purge_candidates` lists the
applications whose date has passed and says, for each, whether it may go now; `purge` deletes
those that may (the application, its own rows — items, insured persons, beneficiaries, readings,
clause confirmations, signatures — and its signed application form and evidence files) and
records each deletion in the audit chain. Audit entries are never deleted.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import transaction
from django.db.models import ProtectedError, Q
from django.utils import timezone

from huibao.application.models import Application
from huibao.application.states import FINAL_STATUSES, ApplicationStatus
from huibao.application.trace import record_step

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
    """Applications whose retention date is past (strictly before `today`), oldest first."""
    today = today or timezone.localdate()
    out: list[PurgeCandidate] = []
    for app in Application.objects.filter(retention_until__lt=today).order_by("retention_until", "id"):
        reason = _why_kept(app, today)
        assert app.retention_until is not None
        out.append(
            PurgeCandidate(
                pk=app.pk,
                number=app.number,
                status=app.status,
                retention_until=app.retention_until,
                deletable=not reason,
                reason=reason,
            )
        )
    return out


def purge(today: datetime.date | None = None) -> list[PurgeCandidate]:
    """Deletes every deletable candidate (each in its own transaction, checked again under a row
    lock); returns the candidates with what happened to each."""
    from huibao.esign.models import SignedDocument, SignedDocumentKind

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
                number, form_id = app.number, app.application_form_id
                record_step(
                    app,
                    "purged",
                    actor=PURGE_ACTOR,
                    detail={"number": app.number, "retention_until": app.retention_until},
                )
                app.delete()
                # The signed application form(s) and the evidence files exported for it.
                files = Q(
                    reference=number,
                    kind__in=[SignedDocumentKind.APPLICATION_FORM, SignedDocumentKind.EVIDENCE],
                )
                if form_id is not None:
                    files |= Q(pk=form_id)
                SignedDocument.objects.filter(files).delete()
        except ProtectedError as exc:
            kinds = sorted({str(obj._meta.verbose_name) for obj in exc.protected_objects})
            results.append(_with(candidate, deletable=False, reason=f"仍被其他记录引用：{'、'.join(kinds)}"))
            continue
        results.append(candidate)
    return results


def _with(candidate: PurgeCandidate, *, deletable: bool, reason: str) -> PurgeCandidate:
    return PurgeCandidate(
        pk=candidate.pk,
        number=candidate.number,
        status=candidate.status,
        retention_until=candidate.retention_until,
        deletable=deletable,
        reason=reason,
    )
