from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import pgettext_lazy

from huibao.account import consent
from huibao.account.models import ApiToken, Consent, LegalDocument, User
from huibao.account.tokens import revoke_token
from huibao.core.admin import ReadOnlyModelAdmin


@admin.register(User)
class HuibaoUserAdmin(UserAdmin):
    list_display = ("username", "display_name", "kind", "phone_masked", "is_staff", "is_active", "last_login")
    list_filter = ("kind", "is_staff", "is_active", "groups")
    search_fields = ("username", "display_name")
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        ("汇保", {"fields": ("kind", "display_name")}),
    )
    readonly_fields = ("last_login", "date_joined")

    @admin.display(description=pgettext_lazy("admin field", "手机号（脱敏）"))
    def phone_masked(self, obj: User) -> str:
        return obj.masked_phone


REVOKE_PERMISSION = "account.change_apitoken"


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyModelAdmin):
    """Personal API tokens: read-only (the secret is not kept, only its prefix and hash), with one
    action, "吊销", for those who may change tokens (the admin role)."""

    list_display = ("key_prefix", "name", "user", "created_at", "last_used_at", "expires_at", "state")
    list_filter = ("revoked_at", "expires_at")
    search_fields = ("=key_prefix", "name", "user__username", "user__display_name")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    list_select_related = ("user",)
    fields = ("user", "name", "key_prefix", "created_at", "last_used_at", "expires_at", "revoked_at")
    readonly_fields = fields
    actions = ("revoke_action",)

    @admin.display(description="状态")
    def state(self, obj: ApiToken) -> str:
        if obj.revoked_at is not None:
            return "已吊销"
        return "有效" if obj.is_active() else "已过期"

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.has_perm(REVOKE_PERMISSION))

    @admin.action(description="吊销所选令牌", permissions=["revoke"])
    def revoke_action(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        revoked = 0
        for token in queryset.select_related("user").filter(revoked_at__isnull=True):
            revoked += revoke_token(token, actor=request.user, request=request)
        self.message_user(request, f"已吊销 {revoked} 个令牌", messages.SUCCESS)


@admin.register(LegalDocument)
class LegalDocumentAdmin(admin.ModelAdmin):
    """The operator publishes a new version of the user agreement or the privacy policy by adding
    one (its version number and hash are set here); a published version is never edited, so that
    what each customer agreed to stays word for word."""

    list_display = ("title", "kind", "version", "published_at", "sha256")
    list_filter = ("kind",)
    fields = ("kind", "title", "body")
    readonly_fields = ()

    def has_change_permission(self, request: HttpRequest, obj: LegalDocument | None = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: LegalDocument | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: LegalDocument, form: Any, change: bool) -> None:
        published = consent.publish(obj.kind, title=obj.title, body=obj.body)
        obj.pk, obj.version, obj.sha256 = published.pk, published.version, published.sha256


@admin.register(Consent)
class ConsentAdmin(ReadOnlyModelAdmin):
    list_display = ("user", "kind", "version", "consented_at", "document_sha256")
    list_filter = ("kind", "version")
