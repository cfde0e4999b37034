"""The insurers' side of claims in the admin, read-only: deliveries, the insurers' notices (the
refused ones too, as evidence), chases and overdue flags. Changes go through the use-cases
(`insurer.py`: the chase board's 催办, the settings page)."""

from __future__ import annotations

from django.contrib import admin

from huibao.claim.insurer_models import ClaimChase, ClaimOverdue, InsurerClaimDelivery, InsurerClaimNotice
from huibao.core.admin import ReadOnlyModelAdmin


@admin.register(InsurerClaimDelivery)
class InsurerClaimDeliveryAdmin(ReadOnlyModelAdmin):
    list_display = ("claim", "connector", "status", "payer", "attempts", "next_attempt_at", "insurer_ref")
    list_filter = ("status", "connector", "payer")
    search_fields = ("claim__number", "insurer_ref", "payment_ref")


@admin.register(InsurerClaimNotice)
class InsurerClaimNoticeAdmin(ReadOnlyModelAdmin):
    list_display = ("received_at", "connector", "kind", "claim_number", "signature_ok", "outcome")
    list_filter = ("signature_ok", "outcome", "kind")
    search_fields = ("claim_number", "notify_id")


@admin.register(ClaimChase)
class ClaimChaseAdmin(ReadOnlyModelAdmin):
    list_display = ("at", "claim", "action", "claim_status", "answer")
    list_filter = ("action",)
    search_fields = ("claim__number",)


@admin.register(ClaimOverdue)
class ClaimOverdueAdmin(ReadOnlyModelAdmin):
    list_display = ("claim", "due_at", "flagged_at", "resolved_at")
    list_filter = ("resolved_at",)
    search_fields = ("claim__number",)
