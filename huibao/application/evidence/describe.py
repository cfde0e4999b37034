"""How each step of an application's audit trail reads, in Chinese: labels, formatting, descriptions."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from huibao.application.states import Channel, SignatureMethod, SignerRole, UnderwritingOutcome
from huibao.catalog.models import Product
from huibao.core.models import AuditEntry
from huibao.policy.models import PolicyStatus

if TYPE_CHECKING:  # only for annotations: the timeline builds on these descriptions
    from huibao.application.evidence.timeline import _Context


# Object types whose entries belong to an application's replay, besides the application itself.
IDENTITY_CHECK_TYPE = "identity_check"


FACE_CHECK_TYPE = "face_check"


PAYMENT_TYPE = "payment"


POLICY_TYPE = "policy"


# The underwriting service records on the application itself; changes made through an audited
# back-office form would be on the case's model label.
UNDERWRITING_TYPES = ("underwriting.underwritingcase",)


ACTOR_KINDS: dict[str, str] = {
    "customer": "客户",
    "visitor": "访客（未登录）",
    "agent": "代理人",
    "underwriter": "核保员",
    "auditor": "审计人员",
    "staff": "员工",
    "system": "系统",
}


PAGE_LABELS: dict[str, str] = {
    "application/data.html": "填写投保信息",
    "application/review.html": "确认投保信息",
    "application/identity.html": "实名认证",
    "application/terms.html": "确认核保结论",
    "application/document.html": "阅读文件",
    "application/clause.html": "重要条款确认",
    "application/face.html": "人脸识别",
    "application/sign.html": "签名",
    "application/pay.html": "支付",
}


_IDENTITY_RESULTS = {
    "verified": "一致",
    "mismatch": "不一致",
    "no_record": "查无此身份证号",
    "unavailable": "服务暂不可用",
}


_FACE_RESULTS = {"passed": "通过", "failed": "未通过", "expired": "超时", "pending": "进行中"}


_FACE_REASONS = {"not_live": "活体检测未通过", "not_same_person": "与身份证照片不一致"}


_PAYMENT_STEPS = {
    "created": "创建支付单",
    "pending": "打开收银台",
    "succeeded": "支付成功",
    "failed": "支付失败",
    "expired": "支付超时失效",
    "refused": "付款人非投保人本人或金额不符，已拒收并全额退款",
    "refunded": "已退款",
    "partially_refunded": "部分退款",
}


_CLAUSE_KINDS = {
    "exclusion": "责任免除",
    "waiting_period": "等待期",
    "cooling_off": "犹豫期",
    "surrender_loss": "退保损失",
    "other": "重要条款",
}


def format_duration(seconds: float | None) -> str:
    """62 -> '1分02秒'; '' for None."""
    if seconds is None:
        return ""
    if seconds < 1:
        return "不足1秒"
    total = int(seconds)
    if total < 60:
        return f"{total}秒"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}分{secs:02d}秒"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}小时{minutes:02d}分"
    days, hours = divmod(hours, 24)
    return f"{days}天{hours}小时"


def format_money(value: Any) -> str:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return f"¥{value}"
    return f"¥{amount:,.2f}"


def _label(choices: Any, value: Any) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value or "")


def _mask_text(value: str) -> str:
    """Free text that may identify someone (address, plate number): the start only."""
    value = str(value or "").strip()
    if len(value) <= 2:
        return "*" * len(value)
    keep = min(6, len(value) // 3 or 1)
    return value[:keep] + "*" * min(len(value) - keep, 8)


def _items_summary(after: Mapping[str, Any]) -> str:
    codes = [str(c) for c in after.get("products") or []]
    names = dict(Product.objects.filter(code__in=codes).values_list("code", "name"))
    return "、".join(names.get(c, c) for c in codes)


def _describe(entry: AuditEntry, ctx: _Context) -> tuple[str, list[str]]:
    """(description, detail lines) of one entry, in Chinese."""
    after: dict[str, Any] = entry.after if isinstance(entry.after, dict) else {}
    action = entry.action
    details: list[str] = []
    if action.startswith("underwriting."):
        return _describe_underwriting(action, after)
    if entry.object_type == "application" and action.startswith("application."):
        return _describe_application(action.removeprefix("application."), after, ctx)
    if entry.object_type == PAYMENT_TYPE and action.startswith("payment."):
        status = action.removeprefix("payment.")
        text = _PAYMENT_STEPS.get(status, f"支付：{status}")
        if status in ("created", "succeeded", "refunded", "partially_refunded") and after.get("amount"):
            text = f"{text} {format_money(after['amount'])}"
        if after.get("reason"):
            details.append(f"原因：{after['reason']}")
        if after.get("provider_txn_id"):
            details.append(f"支付渠道流水号：{after['provider_txn_id']}")
        return text, details
    if entry.object_type == IDENTITY_CHECK_TYPE and action.startswith("identity.real_name."):
        status = action.removeprefix("identity.real_name.")
        details.append(f"核验服务：{after.get('provider', '')}，查询{after.get('attempts', 1)}次")
        if after.get("provider_ref"):
            details.append(f"核验流水号：{after['provider_ref']}")
        return f"实名核验服务返回：{_IDENTITY_RESULTS.get(status, status)}", details
    if entry.object_type == FACE_CHECK_TYPE and action.startswith("identity.face."):
        status = action.removeprefix("identity.face.")
        if status == "started":
            return "人脸识别会话已创建", [f"服务：{after.get('provider', '')}"]
        text = f"人脸识别服务返回：{_FACE_RESULTS.get(status, status)}"
        reason = str(after.get("failure_reason") or "")
        if reason:
            text += f"（{_FACE_REASONS.get(reason, reason)}）"
        if after.get("similarity") is not None:
            details.append(f"相似度：{after['similarity']}，活体分：{after.get('liveness_score')}")
        return text, details
    if action == "policy.nps_recorded":
        return f"客户评价本次投保体验：{after.get('score', '')}分", details
    if entry.object_type == POLICY_TYPE:
        return _describe_policy(entry.object_id, action.removeprefix("policy."), after)
    return action, details


def _describe_policy(number: str, step: str, after: Mapping[str, Any]) -> tuple[str, list[str]]:
    if step == "issued":
        details = []
        if after.get("effective_at"):
            details.append(f"生效时间：{after['effective_at']}")
        if after.get("retention_until"):
            details.append(f"保存至：{after['retention_until']}")
        premium = after.get("premium")
        return f"出单：保单号{number}" + (f"，保费{format_money(premium)}" if premium else ""), details
    if step == "status_changed" and after.get("status") in PolicyStatus.values:
        return f"保单{number}：{_label(PolicyStatus, after['status'])}", []
    if step in PolicyStatus.values:  # entries written before the lifecycle (policy.<status>)
        return f"保单{number}：{_label(PolicyStatus, step)}", []
    return f"保单{number}：{step}", []


def _describe_underwriting(action: str, after: Mapping[str, Any]) -> tuple[str, list[str]]:
    """Entries of `huibao.underwriting`: automatic outcome per item, case decided or withdrawn."""
    step = action.removeprefix("underwriting.")
    item = after.get("item", "")
    details: list[str] = []
    loading = str(after.get("loading_percent", after.get("loading")) or "0")
    try:
        loaded = Decimal(loading) > 0
    except InvalidOperation:
        loaded = False
    if loaded:
        details.append(f"加费{loading}%")
    details += [f"除外责任：{x}" for x in after.get("exclusions") or []]
    if step == "case_decided":
        if after.get("reasons"):
            details.append(f"决定理由：{after['reasons']}")
        return f"人工核保决定（第{item}项）：{_label(UnderwritingOutcome, after.get('decision'))}", details
    if step == "case_withdrawn":
        return f"核保案件撤回（第{item}项，投保单已修改或关闭）", details
    details += [str(r.get("message", "")) for r in after.get("reasons") or [] if isinstance(r, dict)]
    if step == UnderwritingOutcome.REFER:
        return f"自动核保（第{item}项）：转人工核保", details
    return f"自动核保（第{item}项）：{_label(UnderwritingOutcome, step)}", details


def _describe_application(step: str, after: Mapping[str, Any], ctx: _Context) -> tuple[str, list[str]]:
    details: list[str] = []
    match step:
        case "started":
            channel = _label(Channel, after.get("channel"))
            return f"发起投保（{channel}）：{_items_summary(after)}", details
        case "invitation_sent":
            return "代理人生成投保邀请链接，由客户本人完成投保", details
        case "invitation_opened":
            return "客户本人打开代理人的投保邀请链接", details
        case "data_saved" | "amended":
            text = "填写投保信息" if step == "data_saved" else "修改投保信息（确认后修改，退回重新确认）"
            if after.get("by_agent"):
                text += "（代理人录入，须客户本人确认）"
            details.append(
                f"数据版本：第{after.get('revision', '')}版，被保险人{after.get('insured_count', '')}人"
            )
            return text, details
        case "identity_checked":
            result = str(after.get("result") or "")
            return f"实名认证：{_IDENTITY_RESULTS.get(result, result)}", details
        case "confirmed":
            outcome = str(after.get("underwriting") or "")
            details.append(f"保费合计：{format_money(after.get('total_premium', '0'))}")
            return f"确认投保信息，自动核保结论：{_label(UnderwritingOutcome, outcome)}", details
        case "underwriting_decided":
            return f"人工核保完成：{_label(UnderwritingOutcome, after.get('outcome'))}", details
        case "terms_agreed":
            for term in after.get("terms") or []:
                parts = []
                loading = str(term.get("loading_percent") or "0")
                if Decimal(loading or "0") > 0:
                    parts.append(f"加费{loading}%")
                parts += [f"除外：{x}" for x in term.get("exclusions") or []]
                if parts:
                    details.append(f"第{term.get('item')}项：" + "，".join(str(p) for p in parts))
            return "同意核保条件（加费/除外责任）", details
        case "document_opened":
            return f"打开《{after.get('title', '')}》", details
        case "document_read":
            doc_id = after.get("document")
            required = ctx.min_read.get(doc_id) if isinstance(doc_id, int) else None
            if required is None and isinstance(doc_id, int) and doc_id in ctx.documents:
                required = ctx.documents[doc_id].min_read_seconds
            text = f"阅读《{after.get('title', '')}》用时{after.get('seconds_open', 0)}秒"
            if required is not None:
                text += f"（要求≥{required}秒）"
            details.append("已滑动至文末")
            return text, details
        case "clause_shown":
            return f"单独展示重要条款：{after.get('title', '')}", details
        case "clause_confirmed":
            if after.get("seconds_shown") is not None:
                details.append(f"条款展示{after['seconds_shown']}秒后确认")
            return f"逐条确认：{after.get('title', '')}", details
        case "face_check_started":
            return "发起人脸识别", details
        case "face_checked":
            result = str(after.get("result") or "")
            text = f"人脸识别：{_FACE_RESULTS.get(result, result)}"
            reason = str(after.get("reason") or "")
            if reason:
                text += f"（{_FACE_REASONS.get(reason, reason)}）"
            return text, details
        case "signed":
            role = _label(SignerRole, after.get("role"))
            if after.get("role") == SignerRole.INSURED and after.get("insured"):
                role = f"{role}{after['insured']}"
            if after.get("method") == SignatureMethod.HANDWRITTEN:
                return f"手写签名（{role}）", details
            return f"勾选确认签署（{role}）", details
        case "signing_complete":
            return "签署完成，生成电子投保单", details
        case "payment_opened":
            return f"发起支付 {format_money(after.get('amount', '0'))}", details
        case "payment_failed":
            return "支付未成功，投保单回到待支付", details
        case "payment_refused":
            return "支付到账时投保单已失效或已变更，退款", details
        case "issued":
            numbers = "、".join(str(n) for n in after.get("policies") or [])
            return f"出单：保单号{numbers}", [f"实收保费：{format_money(after.get('amount', '0'))}"]
        case "expired":
            return "投保单超时未完成，已失效", details
        case "cancelled":
            return "撤销投保", details
        case "page_viewed":
            page = str(after.get("page") or "")
            return f"查看页面：{PAGE_LABELS.get(page, page)}", details
        case "evidence_exported":
            return f"导出回溯证据（{str(after.get('format', '')).upper()}）", [
                f"文件SHA-256：{after.get('sha256', '')}"
            ]
        case "purged":
            return "保存期届满，投保单数据已删除（审计记录保留）", details
    if step.startswith("underwriting_"):
        outcome = after.get("outcome") or after.get("underwriting") or ""
        return f"核保：{_label(UnderwritingOutcome, outcome) if outcome else step}", details
    return f"application.{step}", details
