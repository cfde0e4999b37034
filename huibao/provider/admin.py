"""Read-only admin views (auditors); changes go through the provider pages and services."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from huibao.core.admin import ReadOnlyModelAdmin
from huibao.provider.models import ServiceProvider, ServiceTask, TaskEvent


class EventInline(admin.TabularInline):
    model = TaskEvent
    extra = 0
    can_delete = False
    readonly_fields = ("action", "status", "note", "actor", "created_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ServiceProvider)
class ServiceProviderAdmin(ReadOnlyModelAdmin):
    list_display = ("name", "kind", "status", "licence_number")
    list_filter = ("kind", "status")
    search_fields = ("name", "code", "licence_number")
    exclude = ("contact_name", "contact_phone", "contact_email")


@admin.register(ServiceTask)
class ServiceTaskAdmin(ReadOnlyModelAdmin):
    list_display = ("subject_reference", "kind", "status", "provider", "due_at", "overdue_at")
    list_filter = ("kind", "status")
    search_fields = ("subject_reference",)
    raw_id_fields = ("provider", "reoffer_of")
    inlines = [EventInline]
