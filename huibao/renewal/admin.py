from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from huibao.core.admin import ReadOnlyModelAdmin
from huibao.renewal.models import RenewalOffer, RenewalReminder


class ReminderInline(admin.TabularInline):
    model = RenewalReminder
    extra = 0
    can_delete = False
    readonly_fields = ("days_before", "sent_on", "created_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RenewalOffer)
class RenewalOfferAdmin(ReadOnlyModelAdmin):
    list_display = ("policy", "status", "expires_on", "premium", "guaranteed", "auto_renew", "attempts")
    list_filter = ("status", "guaranteed", "auto_renew", "expires_on")
    search_fields = ("policy__number",)
    raw_id_fields = ("policy", "renewal_policy", "customer", "mandate")
    inlines = [ReminderInline]
