"""Claims in the back office, read-only until the adjudication desk (wave 2) changes them through
the use-cases: the payee's account shown masked, the description not listed, no raw file URL."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from huibao.claim.models import Claim, ClaimMaterial, ClaimStatusChange, ClaimTriage
from huibao.core.admin import ReadOnlyModelAdmin
from huibao.core.masking import mask_bank_card


class StatusChangeInline(admin.TabularInline):
    model = ClaimStatusChange
    extra = 0
    can_delete = False
    fields = ("at", "from_status", "to_status", "actor", "line", "note")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MaterialInline(admin.TabularInline):
    model = ClaimMaterial
    extra = 0
    can_delete = False
    fields = (
        "kind",
        "content_type",
        "size",
        "sha256",
        "invoice_number",
        "duplicate_of",
        "duplicate_reason",
        "uploaded_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TriageInline(admin.StackedInline):
    """The fraud screen (its id, route, score), the hold, and why the fast track did not decide."""

    model = ClaimTriage
    extra = 0
    can_delete = False
    fields = (
        "screening_id",
        "route",
        "score",
        "held",
        "fraud_outcome",
        "fast_tracked",
        "reason",
        "reason_codes",
        "screened_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Claim)
class ClaimAdmin(ReadOnlyModelAdmin):
    list_display = ("number", "status", "claim_type", "insurer", "amount_claimed", "reported_at")
    list_filter = ("status", "claim_type", "insurer", "auto_decided")
    search_fields = ("number", "policy__number")
    fields = (
        "number",
        "policy",
        "insurer",
        "claim_type",
        "coverage_codes",
        "incident_date",
        "region_code",
        "place",
        "cause_code",
        "amount_claimed",
        "social_insurance_settled",
        "payee_name",
        "masked_account",
        "status",
        "reported_at",
        "materials_complete_at",
        "decided_at",
        "paid_at",
        "decision_kind",
        "approved_amount",
        "reason_code",
        "clause",
        "auto_decided",
    )
    readonly_fields = fields
    inlines = [TriageInline, MaterialInline, StatusChangeInline]

    @admin.display(description="收款账户")
    def masked_account(self, obj: Claim) -> str:
        return mask_bank_card(obj.payee_account)


# The insurers' side (deliveries, notices, chases, overdue flags) and the event-triggered payouts
# (events, their payouts, the index): their own modules.
from huibao.claim import events_admin, insurer_admin  # noqa: E402, F401
