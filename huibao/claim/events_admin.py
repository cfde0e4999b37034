"""Event-triggered payouts in the back office: each event with the payouts it caused (event →
payouts), each payout with its event and the payment's payout (payout → event). Read-only: events
change only through the intake, payouts through the payout port."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from huibao.claim.event_models import TriggerCorrection, TriggeredPayout, TriggerEvent, TriggerIndex
from huibao.core.admin import ReadOnlyModelAdmin


def _payout_link(obj: TriggeredPayout) -> str:
    if obj.payout_id is None:
        return "待领取"
    url = reverse("admin:payment_payout_change", args=[obj.payout_id])
    return format_html('<a href="{}">{}</a>', url, obj.payout_id)


class TriggeredPayoutInline(admin.TabularInline):
    model = TriggeredPayout
    extra = 0
    can_delete = False
    fields = ("policy", "coverage_code", "amount", "status", "payout_link", "created_at")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="付款")
    def payout_link(self, obj: TriggeredPayout) -> str:
        return _payout_link(obj)


@admin.register(TriggerEvent)
class TriggerEventAdmin(ReadOnlyModelAdmin):
    list_display = (
        "received_at",
        "source",
        "event_id",
        "kind",
        "key",
        "status",
        "delay_minutes",
        "payouts_made",
    )
    list_filter = ("kind", "status", "channel", "source")
    search_fields = ("event_id", "key", "flight_number", "order_number")
    fields = (
        "public_id",
        "source",
        "event_id",
        "channel",
        "kind",
        "key",
        "status",
        "flight_number",
        "flight_date",
        "delay_minutes",
        "order_number",
        "returned_at",
        "payload_sha256",
        "received_at",
        "policies_found",
        "payouts_made",
        "note",
    )
    readonly_fields = fields
    inlines = [TriggeredPayoutInline]


class TriggerCorrectionInline(admin.TabularInline):
    """A corrected flight's top-ups and overpayments of this benefit, each with its event."""

    model = TriggerCorrection
    extra = 0
    can_delete = False
    fields = ("created_at", "event", "kind", "amount", "total_after", "status", "payout", "line")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TriggeredPayout)
class TriggeredPayoutAdmin(ReadOnlyModelAdmin):
    inlines = [TriggerCorrectionInline]
    list_display = ("created_at", "key", "policy", "amount", "status", "event")
    list_filter = ("status",)
    search_fields = ("key", "policy__number", "event__event_id")
    fields = (
        "public_id",
        "event_link",
        "policy",
        "key",
        "coverage_code",
        "amount",
        "line",
        "status",
        "payout_link",
        "benefit",
        "created_at",
    )
    readonly_fields = fields

    @admin.display(description="触发事件")
    def event_link(self, obj: TriggeredPayout) -> str:
        url = reverse("admin:claim_triggerevent_change", args=[obj.event_id])
        return format_html('<a href="{}">{}:{}</a>', url, obj.event.source, obj.event.event_id)

    @admin.display(description="付款")
    def payout_link(self, obj: TriggeredPayout) -> str:
        return _payout_link(obj)


@admin.register(TriggerIndex)
class TriggerIndexAdmin(ReadOnlyModelAdmin):
    list_display = ("key", "kind", "policy", "plan_code", "created_at")
    list_filter = ("kind",)
    search_fields = ("key", "policy__number")
