"""Back office: the outbox, filtered to failed and given-up sends by default, with "重新发送"
(through `services.resend`, audited). What a message said is not shown: it may name the
insured; the template, channel, reference and error tell the operator what went wrong."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from huibao.core.errors import DomainError
from huibao.notification import services
from huibao.notification.models import OutboxMessage
from huibao.notification.states import NEEDS_ATTENTION, OutboxStatus


class AttentionFilter(admin.SimpleListFilter):
    title = _("需要处理")
    parameter_name = "attention"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", str(_("发送失败或已放弃"))), ("all", str(_("全部")))]

    def choices(self, changelist: Any) -> Any:
        # "yes" is the default view (what an operator opens this page for), so the filter's
        # first, unfiltered "All" choice would lie: "全部" stands for it.
        choices = iter(super().choices(changelist))
        next(choices, None)
        yield from choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> QuerySet[OutboxMessage]:
        if self.value() == "all":
            return queryset
        return queryset.filter(status__in=NEEDS_ATTENTION)


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "template",
        "channel",
        "status",
        "attempts",
        "next_attempt_at",
        "reference",
        "last_error",
        "sent_at",
    )
    list_filter = (AttentionFilter, "status", "channel", "category", "template")
    search_fields = ("reference", "template", "dedup_key")
    ordering = ("-created_at",)
    fields = (
        "public_id",
        "user",
        "template",
        "category",
        "channel",
        "dedup_key",
        "reference",
        "status",
        "attempts",
        "next_attempt_at",
        "claimed_at",
        "attempt_id",
        "sent_at",
        "provider_ref",
        "last_error",
        "created_at",
    )
    readonly_fields = fields
    actions = ("resend",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Enables the action on the list only; a message's own page stays read-only.
        if obj is not None:
            return False
        return bool(request.user.has_perm("notification.change_outboxmessage"))

    @admin.action(description=_("重新发送"), permissions=["change"])
    def resend(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        done = refused = 0
        for row in queryset:
            if row.status not in (OutboxStatus.FAILED, OutboxStatus.GAVE_UP):
                refused += 1
                continue
            try:
                services.resend(row, actor=request.user, request=request)
            except DomainError:
                refused += 1
            else:
                done += 1
        if done:
            self.message_user(request, f"已重新排队发送 {done} 条", messages.SUCCESS)
        if refused:
            self.message_user(request, f"{refused} 条不是失败或已放弃的消息，未重新发送", messages.WARNING)
