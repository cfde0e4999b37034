"""Risk control in the back office: read-only (auditors and analysts look; every change goes
through the analysts' pages and API, which write the audit chain)."""

from django.contrib import admin

from huibao.core.admin import ReadOnlyModelAdmin
from huibao.fraud.models import BlacklistEntry, FraudCase, FraudHold, FraudPolicy, FraudRule, Screening


@admin.register(FraudRule)
class FraudRuleAdmin(ReadOnlyModelAdmin):
    list_display = ("code", "version", "is_current", "enabled", "score", "route", "created_at")
    list_filter = ("subject_kind", "is_current", "enabled", "route")
    search_fields = ("code", "name")


@admin.register(Screening)
class ScreeningAdmin(ReadOnlyModelAdmin):
    list_display = ("public_id", "claim", "score", "route", "created_at")
    list_filter = ("route", "subject_kind")
    search_fields = ("claim__reference",)
    raw_id_fields = ("claim",)


@admin.register(FraudCase)
class FraudCaseAdmin(ReadOnlyModelAdmin):
    list_display = ("public_id", "claim", "status", "assigned_to", "resolved_at")
    list_filter = ("status",)
    search_fields = ("claim__reference",)
    raw_id_fields = ("claim", "screening")


@admin.register(BlacklistEntry)
class BlacklistEntryAdmin(ReadOnlyModelAdmin):
    list_display = (
        "name_masked",
        "id_masked",
        "source",
        "insurer_code",
        "valid_from",
        "valid_until",
        "removed_at",
    )
    list_filter = ("source", "removed_at")
    exclude = ("id_hash",)


@admin.register(FraudPolicy)
class FraudPolicyAdmin(ReadOnlyModelAdmin):
    list_display = (
        "version",
        "status",
        "review_at",
        "block_at",
        "hold_enabled",
        "effective_from",
        "decided_at",
    )
    list_filter = ("status",)


@admin.register(FraudHold)
class FraudHoldAdmin(ReadOnlyModelAdmin):
    list_display = ("public_id", "claim", "status", "then_route", "released_to", "created_at")
    list_filter = ("status",)
    search_fields = ("claim__reference",)
    raw_id_fields = ("claim", "screening")
