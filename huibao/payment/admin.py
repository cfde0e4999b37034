"""Back office for payments: read-only records (payer ID masked, history and refunds inline), the
provider notifications kept as evidence, and one action for finance: "退款" with a reason.

A refund goes through `services.refund` (provider call, refund row, status move, audit row); the
admin adds an audit row naming the staff member who asked for it and why.

Payouts (money out to customers): listed by status, failed ones with their reason, attempts
inline; finance may send a failed one again at once ("立即重试付款", `payouts.retry_by_hand`, which
writes an audit row naming them).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from huibao.core import audit
from huibao.core.admin import ReadOnlyModelAdmin
from huibao.core.errors import DomainError
from huibao.core.masking import mask_id_number, mask_name, scrub
from huibao.core.money import FEN, MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from huibao.payment import payouts, rules, services
from huibao.payment.models import (
    Payment,
    PaymentEvent,
    Payout,
    PayoutAttempt,
    PayoutNotification,
    ProviderNotification,
    Refund,
)
from huibao.payment.states import PayoutStatus

REFUND_PERMISSION = "payment.change_payment"
PAYOUT_RETRY_PERMISSION = "payment.change_payout"
MAX_REFUND = Decimal(10) ** (MONEY_MAX_DIGITS - MONEY_DECIMAL_PLACES)


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The history and refunds are part of the payment: whoever may see it sees them.
        return bool(request.user.is_active and request.user.has_perm("payment.view_payment"))


class PaymentEventInline(_ReadOnlyInline):
    model = PaymentEvent
    fields = ("created_at", "kind", "from_status", "to_status", "detail")
    readonly_fields = fields
    verbose_name = "支付记录"
    verbose_name_plural = "支付记录（只增不改）"


class RefundInline(_ReadOnlyInline):
    model = Refund
    fields = ("created_at", "public_id", "amount", "reason", "status", "provider_refund_id")
    readonly_fields = fields
    verbose_name = "退款"
    verbose_name_plural = "退款"


class RefundForm(forms.Form):
    reason = forms.CharField(label="退款原因", max_length=200, widget=forms.Textarea(attrs={"rows": 3}))
    amount = forms.CharField(
        label="退款金额（元）",
        required=False,
        help_text="留空则退还全部可退金额；仅选择一笔支付时可填写部分金额",
    )
    # What was already refunded of each payment when the page was shown ("pk:amount,…"): a
    # second submission of the same page (double click, browser resend) finds it changed and
    # refunds nothing more.
    seen = forms.CharField(widget=forms.HiddenInput)

    def clean_amount(self) -> Decimal | None:
        raw = (self.cleaned_data.get("amount") or "").strip()
        if not raw:
            return None
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise forms.ValidationError("请填写数字金额") from None
        if not value.is_finite():
            raise forms.ValidationError("请填写数字金额")
        if value <= 0:
            raise forms.ValidationError("退款金额须大于0")
        if value >= MAX_REFUND or value != value.quantize(FEN):
            raise forms.ValidationError("退款金额最多精确到分（两位小数）")
        return value

    def clean_seen(self) -> dict[int, Decimal]:
        seen: dict[int, Decimal] = {}
        try:
            for part in (self.cleaned_data.get("seen") or "").split(","):
                pk, _, refunded = part.partition(":")
                seen[int(pk)] = Decimal(refunded)
        except (ValueError, InvalidOperation):
            raise forms.ValidationError("页面已失效，请重新选择支付后再退款") from None
        return seen


def refunded_snapshot(payments: list[Payment]) -> str:
    return ",".join(f"{p.pk}:{p.refunded_amount}" for p in payments)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyModelAdmin):
    list_display = (
        "merchant_ref",
        "created_at",
        "reference_kind",
        "reference_id",
        "amount",
        "refunded_amount",
        "status",
        "masked_payer_name",
        "masked_payer_id",
        "masked_paid_by",
        "provider",
    )
    list_filter = ("status", "provider", "reference_kind")
    search_fields = ("=merchant_ref", "=public_id", "=reference_id", "=provider_txn_id")
    date_hierarchy = "created_at"
    fields = (
        "public_id",
        "merchant_ref",
        "reference_kind",
        "reference_id",
        "amount",
        "refunded_amount",
        "status",
        "failure_reason",
        "masked_payer_name",
        "masked_payer_id",
        "masked_paid_by",
        "masked_paid_by_id",
        "provider",
        "provider_txn_id",
        "checkout_url",
        "created_at",
        "expires_at",
        "paid_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = (PaymentEventInline, RefundInline)
    actions = ("refund_action",)

    @admin.display(description="应付款人（投保人）")
    def masked_payer_name(self, obj: Payment) -> str:
        return mask_name(obj.payer_name) if obj.payer_name else "—"

    @admin.display(description="应付款人证件号")
    def masked_payer_id(self, obj: Payment) -> str:
        return mask_id_number(obj.payer_id_number)

    @admin.display(description="实际付款人")
    def masked_paid_by(self, obj: Payment) -> str:
        """Who paid, as the provider reported it (the applicant, or someone else: refused)."""
        if not obj.paid_by_name:
            return "—"
        differs = obj.failure_reason == "payer_not_applicant"
        return mask_name(obj.paid_by_name) + ("（非投保人本人）" if differs else "")

    @admin.display(description="实际付款人证件号")
    def masked_paid_by_id(self, obj: Payment) -> str:
        return mask_id_number(obj.paid_by_id_number) if obj.paid_by_id_number else "—"

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.has_perm(REFUND_PERMISSION))

    @admin.action(description="退款", permissions=["refund"])
    def refund_action(self, request: HttpRequest, queryset: QuerySet[Payment]) -> HttpResponse | None:
        payments = list(queryset.order_by("id"))
        form = RefundForm(
            request.POST if "apply" in request.POST else None,
            initial={"seen": refunded_snapshot(payments)},
        )
        if form.is_bound and form.is_valid():
            amount = form.cleaned_data["amount"]
            if amount is not None and len(payments) != 1:
                form.add_error("amount", "选择了多笔支付时只能全额退款")
            else:
                self._refund_each(
                    request, payments, form.cleaned_data["reason"], amount, form.cleaned_data["seen"]
                )
                return None
        context = {
            **self.admin_site.each_context(request),
            "title": "退款",
            "opts": self.model._meta,
            "payments": payments,
            "form": form,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/payment/payment/refund.html", context)

    def _refund_each(
        self,
        request: HttpRequest,
        payments: list[Payment],
        reason: str,
        amount: Decimal | None,
        seen: dict[int, Decimal],
    ) -> None:
        for payment in payments:
            try:
                with transaction.atomic():
                    # Locked until the refund is recorded: a concurrent or repeated submission of
                    # the same page waits here, then finds the refunded amount changed.
                    locked = Payment.objects.select_for_update().get(pk=payment.pk)
                    if seen.get(payment.pk) != locked.refunded_amount:
                        self.message_user(
                            request,
                            f"{payment.merchant_ref} 在页面打开后已有退款"
                            f"（已退¥{locked.refunded_amount:.2f}），为避免重复退款本次未执行，请刷新后重新确认",
                            messages.ERROR,
                        )
                        continue
                    value = amount if amount is not None else locked.amount - locked.refunded_amount
                    # The service checks the status and the amount left under the same lock.
                    row = services.refund(locked, value, reason)
                    audit.record(
                        "payment.refund_requested",
                        "payment",
                        str(payment.public_id),
                        actor=request.user,
                        request=request,
                        after={
                            "refund": str(row.public_id),
                            "amount": row.amount,
                            "reason": reason,
                            "status": row.status,
                        },
                    )
            except DomainError as exc:
                details = "；".join(e.message for e in exc.errors) or exc.message
                self.message_user(request, f"{payment.merchant_ref} 退款失败：{details}", messages.ERROR)
                continue
            if row.status == "succeeded":
                self.message_user(
                    request, f"{payment.merchant_ref} 已退款 ¥{row.amount:.2f}", messages.SUCCESS
                )
            else:
                self.message_user(
                    request, f"{payment.merchant_ref} 退款未成功（支付机构拒绝），请稍后重试", messages.ERROR
                )


@admin.register(ProviderNotification)
class ProviderNotificationAdmin(ReadOnlyModelAdmin):
    list_display = ("received_at", "provider", "notify_id", "signature_ok", "outcome", "payment")
    list_filter = ("provider", "signature_ok", "outcome")
    search_fields = ("=notify_id",)
    date_hierarchy = "received_at"
    fields = (
        "received_at",
        "processed_at",
        "provider",
        "notify_id",
        "signature_ok",
        "outcome",
        "payment",
        "body",
    )
    readonly_fields = fields
    actions = None

    @admin.display(description="通知内容")
    def body(self, obj: ProviderNotification) -> str:
        # Bodies carry the payer's ID number (and forged ones anything): masked even here.
        return scrub(obj.raw_body)


class PayoutAttemptInline(_ReadOnlyInline):
    model = PayoutAttempt
    fields = (
        "number",
        "created_at",
        "out_biz_no",
        "provider_trade_no",
        "status",
        "failure_code",
        "failure_reason",
        "requested_by",
        "finished_at",
    )
    readonly_fields = fields
    verbose_name = "付款尝试"
    verbose_name_plural = "付款尝试"

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.has_perm("payment.view_payout"))


@admin.register(Payout)
class PayoutAdmin(ReadOnlyModelAdmin):
    list_display = (
        "requested_at",
        "kind",
        "reference",
        "amount",
        "status",
        "reason",
        "attempts",
        "next_attempt_at",
        "masked_payee",
        "masked_account",
        "bank_name",
        "provider",
    )
    list_filter = ("status", "kind", "provider", "failure_code")
    search_fields = ("=reference", "=public_id", "=provider_trade_no", "=out_biz_no")
    date_hierarchy = "requested_at"
    fields = (
        "public_id",
        "kind",
        "reference",
        "amount",
        "status",
        "masked_payee",
        "masked_account",
        "bank_name",
        "memo",
        "provider",
        "out_biz_no",
        "provider_trade_no",
        "failure_code",
        "failure_reason",
        "retryable",
        "attempts",
        "max_attempts",
        "next_attempt_at",
        "requested_at",
        "submitted_at",
        "succeeded_at",
        "given_up_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = (PayoutAttemptInline,)
    actions = ("retry_action",)

    @admin.display(description="失败原因")
    def reason(self, obj: Payout) -> str:
        if obj.status not in (PayoutStatus.FAILED, PayoutStatus.GIVEN_UP):
            return "—"
        return f"{obj.failure_reason}（{obj.failure_code}）" if obj.failure_code else obj.failure_reason

    @admin.display(description="收款人")
    def masked_payee(self, obj: Payout) -> str:
        return mask_name(obj.payee_name)

    @admin.display(description="收款账户")
    def masked_account(self, obj: Payout) -> str:
        return rules.mask_account(obj.account_last4)

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.has_perm(PAYOUT_RETRY_PERMISSION))

    @admin.action(description="立即重试付款", permissions=["retry"])
    def retry_action(self, request: HttpRequest, queryset: QuerySet[Payout]) -> None:
        for payout in queryset.order_by("id"):
            try:
                outcome = payouts.retry_by_hand(payout, user=request.user, request=request)
            except DomainError as exc:
                details = "；".join(e.message for e in exc.errors) or exc.message
                self.message_user(
                    request, f"{payout.kind} {payout.reference} 未重试：{details}", messages.ERROR
                )
                continue
            payout.refresh_from_db()
            if outcome == "submitted":
                self.message_user(
                    request, f"{payout.kind} {payout.reference} 已重新提交银行", messages.SUCCESS
                )
            else:
                self.message_user(
                    request,
                    f"{payout.kind} {payout.reference} 重试未受理：{payout.failure_reason or outcome}"
                    f"（{payout.get_status_display()}）",
                    messages.WARNING,
                )


@admin.register(PayoutNotification)
class PayoutNotificationAdmin(ReadOnlyModelAdmin):
    list_display = ("received_at", "provider", "notify_id", "signature_ok", "outcome", "payout")
    list_filter = ("provider", "signature_ok", "outcome")
    search_fields = ("=notify_id",)
    fields = ("received_at", "provider", "notify_id", "signature_ok", "outcome", "payout", "body")
    readonly_fields = fields
    actions = None

    @admin.display(description="通知内容")
    def body(self, obj: PayoutNotification) -> str:
        return scrub(obj.raw_body)
