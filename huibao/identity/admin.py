"""Back office for identity checks: read-only, ID numbers masked, notifications kept as evidence."""

from __future__ import annotations

from django.contrib import admin

from huibao.core.admin import ReadOnlyModelAdmin
from huibao.core.masking import mask_id_number, scrub
from huibao.identity.models import FaceCheck, FaceProviderNotification, IdentityCheck


@admin.register(IdentityCheck)
class IdentityCheckAdmin(ReadOnlyModelAdmin):
    list_display = ("public_id", "created_at", "name", "masked_id_number", "status", "attempts", "provider")
    list_filter = ("status", "provider", "reference_kind")
    search_fields = ("=public_id", "=reference_id", "=provider_ref")
    date_hierarchy = "created_at"
    fields = (
        "public_id",
        "created_at",
        "reference_kind",
        "reference_id",
        "name",
        "masked_id_number",
        "status",
        "attempts",
        "provider",
        "provider_ref",
    )
    readonly_fields = fields
    actions = None

    @admin.display(description="身份证号")
    def masked_id_number(self, obj: IdentityCheck) -> str:
        return mask_id_number(obj.id_number)


@admin.register(FaceCheck)
class FaceCheckAdmin(ReadOnlyModelAdmin):
    list_display = (
        "public_id",
        "created_at",
        "name",
        "masked_id_number",
        "status",
        "failure_reason",
        "provider",
    )
    list_filter = ("status", "failure_reason", "provider", "reference_kind")
    search_fields = ("=public_id", "=reference_id", "=provider_ref")
    date_hierarchy = "created_at"
    fields = (
        "public_id",
        "created_at",
        "reference_kind",
        "reference_id",
        "name",
        "masked_id_number",
        "status",
        "failure_reason",
        "liveness_score",
        "similarity",
        "provider",
        "provider_ref",
        "expires_at",
        "completed_at",
        "return_url",
    )
    readonly_fields = fields
    actions = None

    @admin.display(description="身份证号")
    def masked_id_number(self, obj: FaceCheck) -> str:
        return mask_id_number(obj.id_number)


@admin.register(FaceProviderNotification)
class FaceProviderNotificationAdmin(ReadOnlyModelAdmin):
    list_display = (
        "received_at",
        "provider",
        "notify_id",
        "signature_ok",
        "accepted",
        "outcome",
        "face_check",
    )
    list_filter = ("provider", "signature_ok", "accepted", "outcome")
    search_fields = ("=notify_id",)
    fields = (
        "received_at",
        "processed_at",
        "provider",
        "notify_id",
        "signature_ok",
        "accepted",
        "outcome",
        "face_check",
        "body",
    )
    readonly_fields = fields
    actions = None

    @admin.display(description="通知内容")
    def body(self, obj: FaceProviderNotification) -> str:
        # Forged bodies may carry anything: personal numbers are masked even here.
        return scrub(obj.raw_body)
