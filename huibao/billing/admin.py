"""Back office: schedules, instalments, mandates and collections, read-only (changes go through
the use-cases, which write the audit chain)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from huibao.billing.models import Collection, Instalment, PaymentMandate, PremiumSchedule


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class InstalmentInline(admin.TabularInline):
    model = Instalment
    fields = ("number", "due_on", "amount", "status", "paid_at", "payment_reference")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(PremiumSchedule)
class PremiumScheduleAdmin(ReadOnly):
    list_display = ("reference_kind", "reference_id", "mode", "total", "status", "lapsed_on")
    list_filter = ("status", "mode")
    search_fields = ("reference_id",)
    inlines = [InstalmentInline]


@admin.register(PaymentMandate)
class PaymentMandateAdmin(ReadOnly):
    list_display = ("provider", "masked_account", "status", "signed_at", "revoked_at")
    exclude = ("payer_name", "payer_id_number")


@admin.register(Collection)
class CollectionAdmin(ReadOnly):
    list_display = ("out_trade_no", "amount", "status", "reason", "created_at")
    list_filter = ("status",)
    search_fields = ("out_trade_no",)
