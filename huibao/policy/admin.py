"""Back office for policies: the policy register (read-only, personal data masked), the insurer
delivery queue with "立即重试", and the NPS responses with the report by product and channel.

Nothing here edits a policy: deliveries are retried through `delivery.retry_now` (audited), and
every page needs a verified back-office session (password + TOTP) and the model's view permission.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from huibao.core.admin import ReadOnlyModelAdmin
from huibao.core.masking import mask_name
from huibao.policy import cancellation as cancellation_service
from huibao.policy import delivery as delivery_service
from huibao.policy import rules
from huibao.policy.models import (
    Cancellation,
    CancellationRefund,
    Endorsement,
    InsurerDelivery,
    NpsResponse,
    Policy,
)
from huibao.policy.states import CancellationStatus, Channel, DeliveryKind, DeliveryStatus


@admin.register(Policy)
class PolicyAdmin(ReadOnlyModelAdmin):
    list_display = (
        "number",
        "status",
        "insurer",
        "product_name",
        "masked_holder",
        "masked_insured",
        "premium",
        "effective_at",
        "expires_at",
        "epolicy_ready",
        "delivery_status",
    )
    list_filter = ("status", "insurer", "channel")
    search_fields = ("number", "application_number")
    search_help_text = _("按保单号或投保单号搜索")
    date_hierarchy = "issued_at"
    list_select_related = ("insurer", "product_version__product")
    fields = (
        "number",
        "public_id",
        "status",
        "insurer",
        "product_name",
        "plan",
        "application_number",
        "channel",
        "masked_holder",
        "masked_insured",
        "premium",
        "sum_insured",
        "death_benefit",
        "effective_at",
        "expires_at",
        "issued_at",
        "cooling_off_until",
        "retention_until",
        "epolicy_ready",
        "epolicy_sha256",
        "delivery_status",
    )
    readonly_fields = fields
    actions = None

    @admin.display(description=_("产品"))
    def product_name(self, obj: Policy) -> str:
        return obj.product_version.product.name

    @admin.display(description=_("投保人"))
    def masked_holder(self, obj: Policy) -> str:
        return mask_name(obj.holder_name)

    @admin.display(description=_("被保险人"))
    def masked_insured(self, obj: Policy) -> str:
        return mask_name(obj.insured_name)

    @admin.display(description=_("电子保单"), boolean=True)
    def epolicy_ready(self, obj: Policy) -> bool:
        return obj.epolicy_id is not None

    def get_queryset(self, request: HttpRequest) -> QuerySet[Policy]:
        # The status of the policy's own delivery (承保信息回传), read with the list.
        own = InsurerDelivery.objects.filter(policy=OuterRef("pk"), kind=DeliveryKind.POLICY)
        return super().get_queryset(request).annotate(own_delivery_status=Subquery(own.values("status")[:1]))

    @admin.display(description=_("回传状态"))
    def delivery_status(self, obj: Policy) -> str:
        status = getattr(obj, "own_delivery_status", None)
        return str(DeliveryStatus(status).label) if status else "—"


@admin.register(InsurerDelivery)
class InsurerDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "policy_number",
        "kind",
        "reference",
        "insurer",
        "status",
        "attempts",
        "next_attempt_at",
        "last_attempt_at",
        "last_error",
        "insurer_ref",
        "acknowledged_at",
    )
    list_filter = ("status", "kind", ("policy__insurer", admin.RelatedOnlyFieldListFilter), "connector")
    search_fields = ("policy__number", "endorsement__number", "insurer_ref")
    search_help_text = _("按保单号、批单号或保险公司回执号搜索")
    list_select_related = ("policy__insurer", "endorsement", "cancellation")
    ordering = ("-updated_at",)
    fields = (
        "policy_number",
        "kind",
        "reference",
        "insurer",
        "connector",
        "status",
        "attempts",
        "next_attempt_at",
        "last_attempt_at",
        "last_error",
        "insurer_ref",
        "acknowledged_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    actions = ("retry_now",)

    @admin.display(description=_("保单号"), ordering="policy__number")
    def policy_number(self, obj: InsurerDelivery) -> str:
        return obj.policy.number

    @admin.display(description=_("回传单据"))
    def reference(self, obj: InsurerDelivery) -> str:
        # the endorsement's number, the cancellation's kind and reference, or the policy's number
        return delivery_service.reference_of(obj)

    @admin.display(description=_("保险公司"), ordering="policy__insurer__name")
    def insurer(self, obj: InsurerDelivery) -> str:
        return obj.policy.insurer.short_name or obj.policy.insurer.name

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The change permission only enables the retry action on the list; a delivery's own page
        # stays read-only (it changes through the delivery service, never a form).
        if obj is not None:
            return False
        return bool(request.user.has_perm("policy.change_insurerdelivery"))

    @admin.action(description=_("立即重试"), permissions=["change"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[InsurerDelivery]) -> None:
        results: dict[str, int] = {}
        skipped = 0
        for row in queryset.select_related("policy", "endorsement"):
            if row.status == DeliveryStatus.ACKNOWLEDGED:
                skipped += 1
                continue
            status = delivery_service.retry_now(row, actor=request.user, request=request)
            results[status] = results.get(status, 0) + 1
        if results:
            summary = "，".join(f"{DeliveryStatus(s).label} {n} 条" for s, n in sorted(results.items()))
            self.message_user(request, f"已重试：{summary}", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"{skipped} 条已确认，无需重试", messages.INFO)


@admin.register(NpsResponse)
class NpsResponseAdmin(ReadOnlyModelAdmin):
    """NPS responses with, above the list, the report by product and by channel of the responses
    the filters select (NPS = % promoters 9–10 − % detractors 0–6)."""

    list_display = (
        "created_at",
        "application_number",
        "product",
        "channel",
        "score",
        "category",
        "comment_short",
    )
    list_filter = ("channel", "score", ("product", admin.RelatedOnlyFieldListFilter))
    search_fields = ("application_number",)
    date_hierarchy = "created_at"
    list_select_related = ("product",)
    readonly_fields = (
        "application_number",
        "product",
        "channel",
        "score",
        "category",
        "comment",
        "created_at",
    )
    fields = readonly_fields
    actions = None

    @admin.display(description=_("类别"))
    def category(self, obj: NpsResponse) -> str:
        return {"promoter": "推荐者", "passive": "中立者", "detractor": "贬损者"}[
            rules.nps_category(obj.score)
        ]

    @admin.display(description=_("评价"))
    def comment_short(self, obj: NpsResponse) -> str:
        return obj.comment if len(obj.comment) <= 40 else obj.comment[:39] + "…"

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        if isinstance(response, TemplateResponse) and response.context_data and "cl" in response.context_data:
            queryset = response.context_data["cl"].queryset
            response.context_data["nps_report"] = nps_report(queryset)
        return response


def _summaries(queryset: QuerySet[NpsResponse], key: str, label_of: dict[Any, str]) -> list[rules.NpsSummary]:
    rows = (
        queryset.order_by()
        .values(key)
        .annotate(
            n=Count("id"),
            promoters=Count("id", filter=Q(score__gte=rules.PROMOTER_MIN)),
            detractors=Count("id", filter=Q(score__lte=rules.DETRACTOR_MAX)),
        )
        .order_by("-n", key)
    )
    return [
        rules.nps_summary(label_of.get(r[key], str(r[key])), r["n"], r["promoters"], r["detractors"])
        for r in rows
    ]


def nps_report(queryset: QuerySet[NpsResponse]) -> dict[str, Any]:
    """NPS overall, by product and by channel, for the responses in `queryset`."""
    from huibao.catalog.models import Product

    totals = queryset.aggregate(
        n=Count("id"),
        promoters=Count("id", filter=Q(score__gte=rules.PROMOTER_MIN)),
        detractors=Count("id", filter=Q(score__lte=rules.DETRACTOR_MAX)),
    )
    product_ids = set(queryset.values_list("product_id", flat=True))
    products = dict(Product.objects.filter(pk__in=product_ids).values_list("pk", "name"))
    channels = {value: str(label) for value, label in Channel.choices}
    return {
        "overall": rules.nps_summary("全部", totals["n"], totals["promoters"], totals["detractors"]),
        "by_product": _summaries(queryset, "product_id", products),
        "by_channel": _summaries(queryset, "channel", channels),
    }


@admin.register(Endorsement)
class EndorsementAdmin(ReadOnlyModelAdmin):
    """The endorsements (批改), read-only: changes are decided on the approval page
    (/policy/staff/endorsements/) or the API, never edited here. The requested change and the
    values it replaced are encrypted and not shown."""

    list_display = (
        "number",
        "kind",
        "status",
        "premium_delta",
        "needs_approval",
        "requested_at",
        "effective_at",
    )
    list_filter = ("status", "kind", "needs_approval")
    search_fields = ("number",)
    search_help_text = _("按批单号搜索")
    date_hierarchy = "requested_at"
    fields = (
        "number",
        "kind",
        "status",
        "version",
        "needs_approval",
        "old_premium",
        "new_premium",
        "premium_delta",
        "payment_ref",
        "refund_ref",
        "requested_at",
        "confirm_by",
        "confirmed_at",
        "decided_at",
        "decision_reason",
        "effective_at",
    )


class CancellationRefundInline(admin.TabularInline):
    model = CancellationRefund
    fields = ("payment_ref", "amount", "status", "attempts", "last_error", "updated_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description=_("原支付"))
    def payment_ref(self, obj: CancellationRefund) -> str:
        return obj.payment.merchant_ref

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Cancellation)
class CancellationAdmin(admin.ModelAdmin):
    """Cancellations with their refund status; "重试退款" for a failed refund and "立即通知保险公司"
    for a notice the insurer has not taken (both through the cancellation service, audited)."""

    list_display = (
        "policy_number",
        "kind",
        "status",
        "amount",
        "refunded",
        "refund_error",
        "confirmed_at",
        "insurer_told",
    )
    list_filter = ("status", "kind", "method")
    search_fields = ("policy__number",)
    search_help_text = _("按保单号搜索")
    ordering = ("-created_at",)
    fields = (
        "policy_number",
        "kind",
        "method",
        "status",
        "request_date",
        "paid",
        "amount",
        "refunded",
        "lines",
        "reason",
        "reason_text",
        "created_at",
        "confirmed_at",
        "completed_at",
        "refund_attempts",
        "refund_error",
        "insurer_delivery",
    )
    readonly_fields = fields
    inlines = (CancellationRefundInline,)
    actions = ("retry_refund", "notify_insurer_now")
    list_select_related = ("policy", "delivery")

    @admin.display(description=_("保单号"), ordering="policy__number")
    def policy_number(self, obj: Cancellation) -> str:
        return obj.policy.number

    @admin.display(description=_("已通知保险公司"), boolean=True)
    def insurer_told(self, obj: Cancellation) -> bool:
        d = getattr(obj, "delivery", None)
        return d is not None and d.status == DeliveryStatus.ACKNOWLEDGED

    @admin.display(description=_("退保信息回传"))
    def insurer_delivery(self, obj: Cancellation) -> str:
        d = getattr(obj, "delivery", None)
        if d is None:
            return "—"
        return f"{d.get_status_display()} · {d.attempts} · {d.insurer_ref or '—'} · {d.last_error or ''}"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Only the actions on the list; a cancellation's page stays read-only.
        if obj is not None:
            return False
        return bool(request.user.has_perm("policy.change_cancellation"))

    @admin.action(description=_("重试退款"), permissions=["change"])
    def retry_refund(self, request: HttpRequest, queryset: QuerySet[Cancellation]) -> None:
        done = skipped = 0
        for row in queryset.select_related("policy"):
            if row.status != CancellationStatus.REFUND_FAILED:
                skipped += 1
                continue
            status = cancellation_service.retry_refund(row, actor=request.user)
            done += status == CancellationStatus.COMPLETED
        self.message_user(request, f"已重试退款：{done} 笔退款完成", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"{skipped} 笔不是“退款失败”状态，无需重试", messages.INFO)

    @admin.action(description=_("立即通知保险公司"), permissions=["change"])
    def notify_insurer_now(self, request: HttpRequest, queryset: QuerySet[Cancellation]) -> None:
        sent = sum(
            1
            for row in queryset.select_related("delivery")
            if cancellation_service.notify_insurer_now(row, actor=request.user, request=request)
        )
        self.message_user(request, f"已发送至保险公司：{sent} 笔", messages.SUCCESS)
