"""The back office's names in the user's language: the admin's apps, models and list columns.

Most models name their fields in English by default (`created_at` reads "created at"); the admin
showed those words as column headers to Chinese staff. The labels here are translatable
(`pgettext_lazy`, contexts "admin app" / "admin model" / "admin field") and are applied to the
admin's registered models when the admin site is set up (`label_admin_models`).

They change only what the admin displays: a field's `verbose_name` is set on the live field, its
declared `_verbose_name` (what migrations record) is left alone, so no migration follows; a field
or model that already declares a Chinese name keeps it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.utils.translation import pgettext_lazy

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise as Label
else:
    from django.utils.functional import Promise as Label

_HAN = re.compile(r"[\u4e00-\u9fff]")

APP_LABELS: dict[str, Label] = {
    "application": pgettext_lazy("admin app", "投保"),
    "axes": pgettext_lazy("admin app", "登录防护"),
    "billing": pgettext_lazy("admin app", "缴费"),
    "catalog": pgettext_lazy("admin app", "产品目录"),
    "claim": pgettext_lazy("admin app", "理赔"),
    "core": pgettext_lazy("admin app", "审计与基础"),
    "django_tasks_database": pgettext_lazy("admin app", "后台任务"),
    "otp_totp": pgettext_lazy("admin app", "身份验证器"),
    "payment": pgettext_lazy("admin app", "支付与退款"),
    "policy": pgettext_lazy("admin app", "保单服务"),
    "provider": pgettext_lazy("admin app", "服务商网络"),
    "rating": pgettext_lazy("admin app", "报价与费率"),
    "renewal": pgettext_lazy("admin app", "续保"),
    "report": pgettext_lazy("admin app", "报表"),
}

MODEL_LABELS: dict[str, Label] = {
    "jobs.JobRun": pgettext_lazy("admin model", "每日任务运行记录"),
    "account.User": pgettext_lazy("admin model", "用户"),
    "otp_totp.TOTPDevice": pgettext_lazy("admin model", "身份验证器"),
    "axes.AccessAttempt": pgettext_lazy("admin model", "登录尝试"),
    "axes.AccessLog": pgettext_lazy("admin model", "登录日志"),
    "axes.AccessFailureLog": pgettext_lazy("admin model", "登录失败记录"),
    "django_tasks_database.DBTaskResult": pgettext_lazy("admin model", "后台任务"),
    "catalog.Insurer": pgettext_lazy("admin model", "保险公司"),
    "catalog.Crowd": pgettext_lazy("admin model", "人群"),
    "catalog.Scenario": pgettext_lazy("admin model", "场景"),
    "catalog.Product": pgettext_lazy("admin model", "产品"),
    "catalog.ProductVersion": pgettext_lazy("admin model", "产品版本"),
    "catalog.Plan": pgettext_lazy("admin model", "方案"),
    "catalog.Coverage": pgettext_lazy("admin model", "保障责任"),
    "catalog.Document": pgettext_lazy("admin model", "产品文件"),
    "rating.Quote": pgettext_lazy("admin model", "报价"),
    "payment.Payment": pgettext_lazy("admin model", "支付记录"),
    "payment.ProviderNotification": pgettext_lazy("admin model", "支付通知"),
    "payment.Payout": pgettext_lazy("admin model", "付款"),
    "payment.PayoutNotification": pgettext_lazy("admin model", "付款通知"),
    "billing.PremiumSchedule": pgettext_lazy("admin model", "缴费计划"),
    "billing.PaymentMandate": pgettext_lazy("admin model", "自动扣款授权"),
    "billing.Collection": pgettext_lazy("admin model", "扣款记录"),
    "identity.IdentityCheck": pgettext_lazy("admin model", "实名核验"),
    "identity.FaceCheck": pgettext_lazy("admin model", "人脸核验"),
    "identity.FaceProviderNotification": pgettext_lazy("admin model", "人脸核验通知"),
    "application.Application": pgettext_lazy("admin model", "投保单"),
}

# Column names by field name, whatever the model (a `status` is 状态 everywhere).
FIELD_LABELS: dict[str, Label] = {
    "accepted": pgettext_lazy("admin field", "已受理"),
    "acknowledged_at": pgettext_lazy("admin field", "回执时间"),
    "action": pgettext_lazy("admin field", "操作"),
    "actor_label": pgettext_lazy("admin field", "操作人"),
    "amount": pgettext_lazy("admin field", "金额"),
    "amount_claimed": pgettext_lazy("admin field", "申请金额"),
    "answer": pgettext_lazy("admin field", "答复"),
    "assigned_to": pgettext_lazy("admin field", "经办人"),
    "at": pgettext_lazy("admin field", "时间"),
    "attempt_time": pgettext_lazy("admin field", "尝试时间"),
    "attempts": pgettext_lazy("admin field", "尝试次数"),
    "auto_renew": pgettext_lazy("admin field", "自动续保"),
    "bank_name": pgettext_lazy("admin field", "开户银行"),
    "channel": pgettext_lazy("admin field", "渠道"),
    "claim": pgettext_lazy("admin field", "理赔案件"),
    "claim_number": pgettext_lazy("admin field", "理赔案号"),
    "claim_status": pgettext_lazy("admin field", "案件状态"),
    "claim_type": pgettext_lazy("admin field", "理赔类型"),
    "code": pgettext_lazy("admin field", "代码"),
    "confirmed": pgettext_lazy("admin field", "已确认"),
    "confirmed_at": pgettext_lazy("admin field", "确认时间"),
    "connector": pgettext_lazy("admin field", "对接系统"),
    "created_at": pgettext_lazy("admin field", "创建时间"),
    "deductible": pgettext_lazy("admin field", "免赔额"),
    "delay_minutes": pgettext_lazy("admin field", "延误分钟数"),
    "display_name": pgettext_lazy("admin field", "显示名称"),
    "done": pgettext_lazy("admin field", "已完成"),
    "due_at": pgettext_lazy("admin field", "截止时间"),
    "effective_at": pgettext_lazy("admin field", "生效时间"),
    "enqueued_at": pgettext_lazy("admin field", "入队时间"),
    "event": pgettext_lazy("admin field", "事件"),
    "expires_at": pgettext_lazy("admin field", "到期时间"),
    "expires_on": pgettext_lazy("admin field", "到期日"),
    "face_check": pgettext_lazy("admin field", "人脸核验"),
    "failure_reason": pgettext_lazy("admin field", "失败原因"),
    "failures_since_start": pgettext_lazy("admin field", "失败次数"),
    "finished_at": pgettext_lazy("admin field", "完成时间"),
    "flagged_at": pgettext_lazy("admin field", "标记时间"),
    "guaranteed": pgettext_lazy("admin field", "保证续保"),
    "heartbeat_at": pgettext_lazy("admin field", "心跳时间"),
    "hotline": pgettext_lazy("admin field", "客服电话"),
    "id": pgettext_lazy("admin field", "ID"),
    "insurer": pgettext_lazy("admin field", "保险公司"),
    "insurer_attempts": pgettext_lazy("admin field", "报送保险公司次数"),
    "insurer_ref": pgettext_lazy("admin field", "保险公司编号"),
    "ip": pgettext_lazy("admin field", "IP地址"),
    "ip_address": pgettext_lazy("admin field", "IP地址"),
    "is_active": pgettext_lazy("admin field", "启用"),
    "is_recommended": pgettext_lazy("admin field", "推荐"),
    "job": pgettext_lazy("admin field", "任务"),
    "key": pgettext_lazy("admin field", "匹配键"),
    "kind": pgettext_lazy("admin field", "类型"),
    "lapsed_on": pgettext_lazy("admin field", "失效日"),
    "last_attempt_at": pgettext_lazy("admin field", "最近尝试时间"),
    "last_error": pgettext_lazy("admin field", "最近错误"),
    "last_used_at": pgettext_lazy("admin field", "最近使用时间"),
    "licence_number": pgettext_lazy("admin field", "许可证号"),
    "line": pgettext_lazy("admin field", "险种"),
    "locked_out": pgettext_lazy("admin field", "已锁定"),
    "logout_time": pgettext_lazy("admin field", "退出时间"),
    "masked_account": pgettext_lazy("admin field", "账户（脱敏）"),
    "max_sum_insured": pgettext_lazy("admin field", "最高保额"),
    "merchant_ref": pgettext_lazy("admin field", "商户订单号"),
    "min_read_seconds": pgettext_lazy("admin field", "最短阅读秒数"),
    "min_sum_insured": pgettext_lazy("admin field", "最低保额"),
    "mode": pgettext_lazy("admin field", "缴费方式"),
    "name": pgettext_lazy("admin field", "名称"),
    "needs_approval": pgettext_lazy("admin field", "需审批"),
    "next_attempt_at": pgettext_lazy("admin field", "下次尝试时间"),
    "notify_id": pgettext_lazy("admin field", "通知编号"),
    "number": pgettext_lazy("admin field", "编号"),
    "object_id": pgettext_lazy("admin field", "对象ID"),
    "object_type": pgettext_lazy("admin field", "对象类型"),
    "occurred_at": pgettext_lazy("admin field", "发生时间"),
    "out_trade_no": pgettext_lazy("admin field", "扣款单号"),
    "outcome": pgettext_lazy("admin field", "处理结果"),
    "overdue_at": pgettext_lazy("admin field", "超时时间"),
    "path_info": pgettext_lazy("admin field", "路径"),
    "payer": pgettext_lazy("admin field", "付款方"),
    "payment": pgettext_lazy("admin field", "支付单"),
    "payout": pgettext_lazy("admin field", "付款"),
    "payouts_made": pgettext_lazy("admin field", "已赔付笔数"),
    "plan": pgettext_lazy("admin field", "方案"),
    "plan_code": pgettext_lazy("admin field", "方案代码"),
    "policy": pgettext_lazy("admin field", "保单"),
    "premium": pgettext_lazy("admin field", "保费"),
    "premium_delta": pgettext_lazy("admin field", "保费变化"),
    "premium_from": pgettext_lazy("admin field", "起价"),
    "priority": pgettext_lazy("admin field", "优先级"),
    "product": pgettext_lazy("admin field", "产品"),
    "product_version": pgettext_lazy("admin field", "产品版本"),
    "provider": pgettext_lazy("admin field", "服务商"),
    "public_id": pgettext_lazy("admin field", "公开编号"),
    "published_at": pgettext_lazy("admin field", "发布时间"),
    "queue_name": pgettext_lazy("admin field", "队列"),
    "rating_avg": pgettext_lazy("admin field", "平均评分"),
    "reason": pgettext_lazy("admin field", "原因"),
    "received_at": pgettext_lazy("admin field", "接收时间"),
    "reference": pgettext_lazy("admin field", "业务编号"),
    "reference_id": pgettext_lazy("admin field", "业务编号"),
    "reference_kind": pgettext_lazy("admin field", "业务类型"),
    "refund_error": pgettext_lazy("admin field", "退款错误"),
    "refunded": pgettext_lazy("admin field", "已退款"),
    "refunded_amount": pgettext_lazy("admin field", "已退款金额"),
    "reimbursement_ratio": pgettext_lazy("admin field", "赔付比例"),
    "reported_at": pgettext_lazy("admin field", "报案时间"),
    "requested_at": pgettext_lazy("admin field", "申请时间"),
    "resolved_at": pgettext_lazy("admin field", "解决时间"),
    "revoked_at": pgettext_lazy("admin field", "撤销时间"),
    "run_date": pgettext_lazy("admin field", "运行日期"),
    "sales_count": pgettext_lazy("admin field", "销量"),
    "score": pgettext_lazy("admin field", "评分"),
    "seq": pgettext_lazy("admin field", "序号"),
    "service_rating": pgettext_lazy("admin field", "监管服务评级"),
    "short_name": pgettext_lazy("admin field", "简称"),
    "signature_ok": pgettext_lazy("admin field", "签名有效"),
    "signed_at": pgettext_lazy("admin field", "签约时间"),
    "solvency_ratio": pgettext_lazy("admin field", "综合偿付能力充足率（%）"),
    "sort_order": pgettext_lazy("admin field", "排序"),
    "started_at": pgettext_lazy("admin field", "开始时间"),
    "status": pgettext_lazy("admin field", "状态"),
    "subject_reference": pgettext_lazy("admin field", "标的编号"),
    "sum_insured": pgettext_lazy("admin field", "保额"),
    "task_name": pgettext_lazy("admin field", "任务名称"),
    "title": pgettext_lazy("admin field", "标题"),
    "total": pgettext_lazy("admin field", "合计"),
    "total_premium": pgettext_lazy("admin field", "总保费"),
    "user": pgettext_lazy("admin field", "用户"),
    "user_agent": pgettext_lazy("admin field", "浏览器标识"),
    "version": pgettext_lazy("admin field", "版本"),
    "waiting_period_days": pgettext_lazy("admin field", "等待期（天）"),
}


def _declared_chinese(value: Any) -> bool:
    return value is not None and bool(_HAN.search(str(value)))


def label_app(app_label: str) -> None:
    config = apps.get_app_config(app_label)
    if app_label in APP_LABELS and not _declared_chinese(config.verbose_name):
        config.verbose_name = APP_LABELS[app_label]


def label_model(model: Any) -> None:
    """The Chinese (translatable) names of one model and of its fields the admin may show."""
    meta = model._meta
    label_app(meta.app_label)
    name = MODEL_LABELS.get(meta.label)
    if name is not None and not _declared_chinese(meta.verbose_name):
        meta.verbose_name = name
        meta.verbose_name_plural = name  # Chinese has no plural; the English one is the list's
    for field in meta.get_fields():
        label = FIELD_LABELS.get(field.name)
        if label is not None and hasattr(field, "verbose_name") and not _declared_chinese(field.verbose_name):
            field.verbose_name = label


def label_admin_models(models: Iterable[Any]) -> None:
    for model in models:
        label_model(model)
