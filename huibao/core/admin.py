"""Admin: every change made through the Django admin lands in the audit log; the log itself is
read-only there."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from huibao.core.audit import record, snapshot
from huibao.core.models import AuditEntry


class AuditedModelAdmin(admin.ModelAdmin):
    """Records create, update and delete done in the admin, with before/after snapshots.

    Each entry is written in the admin's own transaction, so it exists exactly when the change
    does. Rows removed by a cascade are not recorded one by one.
    """

    audit_exclude: set[str] = set()

    def _object_type(self, obj: models.Model) -> str:
        return obj._meta.label_lower

    def _snapshot(self, obj: models.Model) -> dict[str, Any]:
        return snapshot(obj, exclude=self.audit_exclude)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = None
        if change and obj.pk is not None:
            stored = type(obj)._default_manager.filter(pk=obj.pk).first()
            before = self._snapshot(stored) if stored is not None else None
        super().save_model(request, obj, form, change)
        record(
            "update" if change else "create",
            self._object_type(obj),
            str(obj.pk),
            actor=request.user,
            before=before,
            after=self._snapshot(obj),
            request=request,
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        before, pk = self._snapshot(obj), obj.pk
        super().delete_model(request, obj)
        record("delete", self._object_type(obj), str(pk), actor=request.user, before=before, request=request)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        doomed = [(obj.pk, self._object_type(obj), self._snapshot(obj)) for obj in queryset]
        super().delete_queryset(request, queryset)
        for pk, object_type, before in doomed:
            record("delete", object_type, str(pk), actor=request.user, before=before, request=request)


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """Records that are written by the platform only and never edited by hand (audit entries,
    quotes): no add, change or delete in the back office."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyModelAdmin):
    list_display = ("seq", "occurred_at", "actor_label", "action", "object_type", "object_id", "ip")
    list_filter = ("action", "object_type")
    search_fields = ("object_id", "actor_label")
    ordering = ("-id",)
    readonly_fields = tuple(f.name for f in AuditEntry._meta.fields)
    actions = None

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        user = request.user
        return bool(user.is_active and (user.is_superuser or user.has_perm("core.view_auditentry")))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)
