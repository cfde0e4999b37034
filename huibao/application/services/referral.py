"""A referred application: the underwriter decides each referred item through the application,
which locks it first, hands underwriting the item as a typed value, writes what the item becomes
and, after the last open case, resumes the application (`confirm.resume_after_referral`)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from huibao.application.models import Application, ApplicationItem
from huibao.application.premium import total_premium
from huibao.application.services.confirm import resume_after_referral
from huibao.application.services.underwriting import ITEM_OUTCOME_FIELDS
from huibao.underwriting import services as underwriting
from huibao.underwriting.models import UnderwritingCase


def decide_case(
    case: UnderwritingCase,
    *,
    decision: str,
    underwriter: Any,
    reasons: str,
    loading_percent: Decimal | int | str = 0,
    exclusions: Sequence[str] = (),
    request: HttpRequest | None = None,
) -> UnderwritingCase:
    """An underwriter decides an open case: the item gets the outcome, terms and premium; when it
    was the application's last open case, the application resumes (`resume_after_referral`)."""
    underwriting.check_decision(underwriter, decision, reasons, loading_percent, exclusions)
    with transaction.atomic():
        # The application first, then the item, then the case: the order every application
        # use-case locks in.
        application_id = ApplicationItem.objects.values_list("application_id", flat=True).get(pk=case.item_id)
        application = Application.objects.select_for_update().get(pk=application_id)
        item = ApplicationItem.objects.select_for_update().get(pk=case.item_id)
        decided = underwriting.decide_case(
            case,
            subject=application,
            item=underwriting.CaseItem(position=item.position, base_premium=item.base_premium),
            decision=decision,
            underwriter=underwriter,
            reasons=reasons,
            loading_percent=loading_percent,
            exclusions=exclusions,
            request=request,
        )
        item.underwriting_outcome = decided.outcome
        item.loading_percent = decided.loading_percent
        item.exclusions = decided.exclusions
        item.premium = decided.premium
        item.underwriting_reasons = decided.reasons
        item.save(update_fields=ITEM_OUTCOME_FIELDS)
        application.total_premium = total_premium(ApplicationItem.objects.filter(application=application))
        application.save(update_fields=["total_premium", "updated_at"])
        if not decided.still_open:
            resume_after_referral(application, actor=underwriter, request=request)
    decided.case.item = item
    return decided.case
