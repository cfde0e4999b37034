"""Replay (可回溯) of an application: what the customer saw and did, step by step, from the audit chain.

Every step of the flow is an entry of the tamper-evident audit chain (see `trace.record_step`):
the application's own entries (`application.*`), and those of its payments, identity and face
checks, underwriting cases and policies. `timeline` reads them in chain order (`seq`) and turns
each into a readable Chinese line with its actor, time, IP, user agent, the page and page
version shown, the document version shown, and the time since the step before. `chain_proof`
recomputes the hash of each of these entries, checks each links to the entry before it in the
chain, and verifies the whole chain. `export_json` and `export_pdf` give the evidence as a file
(the PDF PAdES-signed by the platform); every export is itself recorded in the chain.

Personal data never appears in plain text: audit entries hold it masked already, and the data
the customer confirmed is shown through `masked_data`.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from huibao.account.models import User
from huibao.application.models import Application, PageTemplateVersion, Signature
from huibao.application.selectors import data_digest, health_questions, items_of
from huibao.application.states import (
    ApplicationStatus,
    BeneficiaryMode,
    Channel,
    Relation,
    SignatureMethod,
    SignerRole,
    UnderwritingOutcome,
)
from huibao.application.trace import record_step
from huibao.catalog.models import Document, Product
from huibao.catalog.services import document_sha256
from huibao.core import audit
from huibao.core.masking import mask_email, mask_id_number, mask_name, mask_phone, scrub
from huibao.core.models import GENESIS_HASH, AuditEntry
from huibao.esign.models import SignedDocument, SignedDocumentKind
from huibao.esign.pdf import Section, render_pdf, sign_pdf
from huibao.identity.models import FaceCheck, IdentityCheck
from huibao.payment.models import Payment
from huibao.policy.models import Policy, PolicyStatus
from huibao.underwriting.models import UnderwritingCase

EVIDENCE_FORMAT = "huibao.application-evidence/1"
EXPORT_STEP = "evidence_exported"

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


# --- value objects ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DocumentShown:
    """The exact version of a document shown at a step."""

    document_id: int
    kind: str
    title: str
    product_name: str
    version_id: int
    version_number: int
    recorded_sha256: str  # as written in the audit entry at the time
    stored_sha256: str  # the document row's hash
    text_sha256: str  # recomputed from the stored title, body and key clauses
    body: str
    key_clauses: tuple[Mapping[str, Any], ...]
    min_read_seconds: int

    @property
    def text_matches(self) -> bool:
        """The text kept today is the text that was shown (same hash as recorded)."""
        return bool(self.recorded_sha256) and self.text_sha256 == self.recorded_sha256


@dataclass(frozen=True, slots=True)
class ClauseShown:
    code: str
    kind: str
    title: str
    text: str
    recorded_text_sha256: str  # only on confirmation entries

    @property
    def text_matches(self) -> bool | None:
        if not self.recorded_text_sha256:
            return None
        return hashlib.sha256(self.text.encode()).hexdigest() == self.recorded_text_sha256


@dataclass(frozen=True, slots=True)
class SignatureShown:
    role: str
    role_label: str
    method: str
    method_label: str
    image_sha256: str
    image_png_b64: str  # '' for a signature by confirmation, or when the signature was voided
    kept: bool  # the signature row still exists (an amendment voids and removes signatures)


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    seq: int
    occurred_at: datetime.datetime
    action: str
    object_type: str
    object_id: str
    actor_kind: str
    actor: str  # Chinese label of the kind, e.g. 客户
    actor_name: str  # the recorded label, personal numbers masked
    ip: str
    user_agent: str
    description: str
    details: tuple[str, ...]
    page: str
    page_label: str
    page_version: str
    page_version_stored: bool
    document: DocumentShown | None
    clause: ClauseShown | None
    signature: SignatureShown | None
    data_digest: str  # the application data digest recorded at a data step
    data_is_current: bool | None  # the current data still has that digest
    seconds_since_previous: float | None
    seconds_since_start: float
    entry_hash: str
    prev_hash: str

    @property
    def since_previous(self) -> str:
        return format_duration(self.seconds_since_previous)

    @property
    def since_start(self) -> str:
        return format_duration(self.seconds_since_start)


@dataclass(frozen=True, slots=True)
class EntryProof:
    seq: int
    action: str
    object_type: str
    object_id: str
    occurred_at: datetime.datetime
    entry_hash: str
    prev_hash: str
    recomputed_hash: str
    hash_ok: bool
    link_ok: bool  # prev_hash is the hash of the entry before it in the chain (or genesis)


@dataclass(frozen=True, slots=True)
class ChainProof:
    entries: tuple[EntryProof, ...]
    chain: audit.ChainReport
    problems: tuple[str, ...]

    @property
    def entries_ok(self) -> bool:
        return all(p.hash_ok and p.link_ok for p in self.entries)

    @property
    def ok(self) -> bool:
        return self.entries_ok and self.chain.ok


@dataclass(frozen=True, slots=True)
class DataSection:
    heading: str
    rows: tuple[tuple[str, str], ...]


@dataclass(slots=True)
class _Related:
    payments: list[Any] = field(default_factory=list)
    identity_checks: list[Any] = field(default_factory=list)
    face_checks: list[Any] = field(default_factory=list)
    cases: list[Any] = field(default_factory=list)
    policies: list[Any] = field(default_factory=list)


# --- formatting ---------------------------------------------------------------------------------


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


# --- gathering ----------------------------------------------------------------------------------


def _related(app: Application) -> _Related:
    ref = str(app.public_id)
    kind = "application"
    return _Related(
        payments=list(Payment.objects.filter(reference_kind=kind, reference_id=ref).order_by("id")),
        identity_checks=list(
            IdentityCheck.objects.filter(reference_kind=kind, reference_id=ref).order_by("id")
        ),
        face_checks=list(FaceCheck.objects.filter(reference_kind=kind, reference_id=ref).order_by("id")),
        cases=list(UnderwritingCase.objects.filter(item__application=app).order_by("id")),
        policies=list(Policy.objects.filter(application=app).select_related("insurer").order_by("id")),
    )


def _entry_filter(app: Application, rel: _Related) -> Q:
    query = Q(object_type="application", object_id=str(app.public_id))
    if rel.payments:
        query |= Q(object_type=PAYMENT_TYPE, object_id__in=[str(p.public_id) for p in rel.payments])
    if rel.identity_checks:
        query |= Q(
            object_type=IDENTITY_CHECK_TYPE, object_id__in=[str(c.public_id) for c in rel.identity_checks]
        )
    if rel.face_checks:
        query |= Q(object_type=FACE_CHECK_TYPE, object_id__in=[str(c.public_id) for c in rel.face_checks])
    if rel.cases:
        query |= Q(object_type__in=UNDERWRITING_TYPES, object_id__in=[str(c.pk) for c in rel.cases])
    if rel.policies:
        ids = [p.number for p in rel.policies] + [str(p.public_id) for p in rel.policies]
        query |= Q(object_type=POLICY_TYPE, object_id__in=ids)
    return query


def audit_entries(application: Application) -> list[AuditEntry]:
    """Every audit entry of the application and of what belongs to it, in chain order (what is
    still unsealed is sealed first)."""
    audit.seal_pending()
    query = _entry_filter(application, _related(application))
    return list(AuditEntry.objects.filter(query, seq__isnull=False).order_by("seq"))


class _Context:
    """What the descriptions need, loaded once for all entries."""

    def __init__(self, app: Application, entries: Sequence[AuditEntry]) -> None:
        self.app = app
        actor_ids = {e.actor_id for e in entries if e.actor_id is not None}
        self.users = User.objects.filter(pk__in=actor_ids).prefetch_related("groups").in_bulk()
        doc_ids: set[int] = set()
        shas: set[str] = set()
        for e in entries:
            after = e.after if isinstance(e.after, dict) else {}
            if isinstance(after.get("document"), int):
                doc_ids.add(after["document"])
            if after.get("page_version"):
                shas.add(str(after["page_version"]))
        self.documents = Document.objects.select_related("version__product").in_bulk(doc_ids)
        self.stored_pages = set(
            PageTemplateVersion.objects.filter(sha256__in=shas).values_list("sha256", flat=True)
        )
        # The minimum reading time as it was when the document was opened.
        self.min_read: dict[int, int] = {}
        for e in entries:
            after = e.after if isinstance(e.after, dict) else {}
            if e.action == "application.document_opened" and isinstance(after.get("document"), int):
                self.min_read[after["document"]] = int(after.get("min_read_seconds") or 0)
        self.signatures: list[Signature] = list(app.signatures.select_related("insured"))
        self.current_digest = data_digest(app) if app.applicant_name else ""
        self._doc_cache: dict[tuple[int, str], DocumentShown] = {}

    def actor(self, entry: AuditEntry) -> tuple[str, str]:
        """(kind code, recorded name) of who made the entry."""
        name = scrub(entry.actor_label)
        if entry.actor_id is not None:
            user = self.users.get(entry.actor_id)
            if user is None:
                return "staff", name or f"#{entry.actor_id}"
            if user.pk == self.app.customer_id or getattr(user, "is_customer", False):
                return "customer", name
            if user.pk == self.app.started_by_id:
                return "agent", name
            groups = {g.name for g in user.groups.all()}
            if entry.action.startswith("application.evidence") or "auditor" in groups:
                return "auditor", name
            if "underwriter" in groups or entry.action.startswith("underwriting."):
                return "underwriter", name
            return "staff", name
        if entry.actor_label in ("anonymous",):
            return "visitor", ""
        return "system", name

    def document(self, entry: AuditEntry) -> DocumentShown | None:
        after = entry.after if isinstance(entry.after, dict) else {}
        doc_id = after.get("document")
        if not isinstance(doc_id, int):
            return None
        doc = self.documents.get(doc_id)
        recorded = str(after.get("content_sha256") or "")
        if doc is None:
            return None
        key = (doc_id, recorded)
        if key not in self._doc_cache:
            clauses = tuple(doc.key_clauses or [])
            self._doc_cache[key] = DocumentShown(
                document_id=doc.pk,
                kind=doc.kind,
                title=doc.title,
                product_name=doc.version.product.name,
                version_id=doc.version_id,
                version_number=doc.version.number,
                recorded_sha256=recorded or doc.content_sha256,
                stored_sha256=doc.content_sha256,
                text_sha256=document_sha256(doc.title, doc.body, list(clauses)),
                body=doc.body,
                key_clauses=clauses,
                min_read_seconds=self.min_read.get(doc.pk, doc.min_read_seconds),
            )
        return self._doc_cache[key]

    def signature(self, after: Mapping[str, Any]) -> SignatureShown:
        role = str(after.get("role") or SignerRole.APPLICANT)
        method = str(after.get("method") or "")
        image_sha = str(after.get("image_sha256") or "")
        insured = after.get("insured")
        match: Signature | None = None
        for sig in self.signatures:
            if image_sha:
                if hashlib.sha256(sig.image_png_b64.encode()).hexdigest() == image_sha:
                    match = sig
                    break
            elif (
                sig.role == role
                and (sig.insured.position if sig.insured else None) == insured
                and sig.data_digest == after.get("data_digest")
            ):
                match = sig
                break
        role_label = _label(SignerRole, role)
        if role == SignerRole.INSURED and insured:
            role_label = f"{role_label}{insured}"
        return SignatureShown(
            role=role,
            role_label=role_label,
            method=method,
            method_label=_label(SignatureMethod, method),
            image_sha256=image_sha,
            image_png_b64=match.image_png_b64 if match is not None and image_sha else "",
            kept=match is not None,
        )


# --- descriptions -------------------------------------------------------------------------------


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
    if step in PolicyStatus.values:
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


# --- timeline -----------------------------------------------------------------------------------


def _timeline_from(app: Application, entries: Sequence[AuditEntry]) -> list[TimelineEntry]:
    ctx = _Context(app, entries)
    out: list[TimelineEntry] = []
    start = entries[0].occurred_at if entries else None
    previous: datetime.datetime | None = None
    for entry in entries:
        after: dict[str, Any] = entry.after if isinstance(entry.after, dict) else {}
        kind, name = ctx.actor(entry)
        description, details = _describe(entry, ctx)
        page = str(after.get("page") or "") if entry.object_type == "application" else ""
        page_version = str(after.get("page_version") or "") if page else ""
        is_app = entry.object_type == "application"
        step = entry.action.removeprefix("application.")
        document = ctx.document(entry) if is_app else None
        clause: ClauseShown | None = None
        if is_app and step in ("clause_shown", "clause_confirmed") and document is not None:
            code = str(after.get("clause") or "")
            raw = next((c for c in document.key_clauses if c.get("code") == code), {})
            clause = ClauseShown(
                code=code,
                kind=_CLAUSE_KINDS.get(str(after.get("kind") or raw.get("kind") or ""), "重要条款"),
                title=str(after.get("title") or raw.get("title") or ""),
                text=str(raw.get("text") or ""),
                recorded_text_sha256=str(after.get("text_sha256") or ""),
            )
        signature = ctx.signature(after) if is_app and step == "signed" else None
        digest = ""
        if is_app and step in ("data_saved", "amended", "confirmed"):
            digest = str(after.get("digest") or "")
        start_at = start or entry.occurred_at
        seq, prev_hash, entry_hash = audit.chain_fields(entry)
        out.append(
            TimelineEntry(
                seq=seq,
                occurred_at=entry.occurred_at,
                action=entry.action,
                object_type=entry.object_type,
                object_id=entry.object_id,
                actor_kind=kind,
                actor=ACTOR_KINDS[kind],
                actor_name=name,
                ip=entry.ip or "",
                user_agent=entry.user_agent,
                description=description,
                details=tuple(details),
                page=page,
                page_label=PAGE_LABELS.get(page, page),
                page_version=page_version,
                page_version_stored=page_version in ctx.stored_pages,
                document=document,
                clause=clause,
                signature=signature,
                data_digest=digest,
                data_is_current=(digest == ctx.current_digest) if digest else None,
                seconds_since_previous=(
                    (entry.occurred_at - previous).total_seconds() if previous is not None else None
                ),
                seconds_since_start=(entry.occurred_at - start_at).total_seconds(),
                entry_hash=entry_hash,
                prev_hash=prev_hash,
            )
        )
        previous = entry.occurred_at
    return out


def timeline(application: Application) -> list[TimelineEntry]:
    """Every recorded step of the application, its payments, identity and face checks,
    underwriting cases and policies, in chain order, described in Chinese."""
    return _timeline_from(application, audit_entries(application))


# --- chain proof --------------------------------------------------------------------------------


def _proof_of(entries: Sequence[AuditEntry]) -> ChainProof:
    links = [(e, *audit.chain_fields(e)) for e in entries]
    wanted = {seq - 1 for _, seq, _, _ in links if seq > 1}
    predecessors = dict(AuditEntry.objects.filter(seq__in=wanted).values_list("seq", "entry_hash"))
    proofs: list[EntryProof] = []
    problems: list[str] = []
    for e, seq, prev_hash, entry_hash in links:
        recomputed = audit.compute_entry_hash(e)
        hash_ok = recomputed == entry_hash
        expected_prev = GENESIS_HASH if seq == 1 else predecessors.get(seq - 1)
        link_ok = expected_prev is not None and expected_prev == prev_hash
        if not hash_ok:
            problems.append(f"第{seq}条记录（{e.action}）的内容与其哈希不符：记录已被改动")
        if not link_ok:
            problems.append(f"第{seq}条记录与链上前一条记录的哈希链接不符：记录被删除或调换")
        proofs.append(
            EntryProof(
                seq=seq,
                action=e.action,
                object_type=e.object_type,
                object_id=e.object_id,
                occurred_at=e.occurred_at,
                entry_hash=entry_hash,
                prev_hash=prev_hash,
                recomputed_hash=recomputed,
                hash_ok=hash_ok,
                link_ok=link_ok,
            )
        )
    report = audit.verify_chain()
    if not report.ok:
        problems.append(f"全链校验未通过（第{report.first_bad_seq}条）：{report.problem}")
    return ChainProof(entries=tuple(proofs), chain=report, problems=tuple(problems))


def timeline_with_proof(application: Application) -> tuple[list[TimelineEntry], ChainProof]:
    """`timeline` and `chain_proof` from one read of the entries."""
    entries = audit_entries(application)
    return _timeline_from(application, entries), _proof_of(entries)


def chain_proof(application: Application) -> ChainProof:
    """For each entry of the application: its hashes, the recomputed hash and the link to the
    entry before it; and the verification of the whole chain."""
    return _proof_of(audit_entries(application))


# --- masked data --------------------------------------------------------------------------------


def masked_data(application: Application) -> list[DataSection]:
    """The application data as the customer confirmed it, with personal data masked. Health
    answers are not shown (only that each question was answered): they are sensitive and their
    values are covered by the data digest and the signed application form."""
    app = application
    sections: list[DataSection] = [
        DataSection(
            "投保人",
            (
                ("姓名", mask_name(app.applicant_name)),
                ("证件号码", mask_id_number(app.applicant_id_number)),
                ("手机号", mask_phone(app.applicant_phone)),
                ("邮箱", mask_email(app.applicant_email) if app.applicant_email else "—"),
                ("地址", _mask_text(app.applicant_address) if app.applicant_address else "—"),
                ("职业", app.applicant_occupation or "—"),
            ),
        )
    ]
    questions = health_questions(app)
    for person in app.insured_persons.order_by("position").prefetch_related("beneficiaries"):
        answered = set(json.loads(person.health_answers or "{}"))
        rows: list[tuple[str, str]] = [
            ("与投保人关系", _label(Relation, person.relation)),
            ("姓名", mask_name(person.name)),
            ("证件号码", mask_id_number(person.id_number)),
            ("职业类别", str(person.occupation_class or "—")),
        ]
        rows += [
            (f"健康告知：{q['text']}", "已作答" if str(q["code"]) in answered else "未作答")
            for q in questions
        ]
        if app.beneficiary_mode == BeneficiaryMode.NAMED:
            rows += [
                (
                    f"身故受益人（第{b.order}顺位）",
                    f"{mask_name(b.name)} {mask_id_number(b.id_number)} {_label(Relation, b.relation)} "
                    f"{b.share_percent}%",
                )
                for b in person.beneficiaries.all()
            ]
        else:
            rows.append(("身故受益人", "法定"))
        sections.append(DataSection(f"被保险人{person.position}", tuple(rows)))
    if app.subject:
        sections.append(
            DataSection("保险标的", tuple((str(k), _mask_text(str(v))) for k, v in app.subject.items()))
        )
    sections.append(
        DataSection(
            "投保产品",
            tuple(
                (
                    f"{i.position}. {i.product_version.product.name}（第{i.product_version.number}版）",
                    f"{i.plan.name}，保费{format_money(i.premium)}，"
                    f"{_label(UnderwritingOutcome, i.underwriting_outcome)}",
                )
                for i in items_of(app)
            ),
        )
    )
    return sections


# --- evidence -----------------------------------------------------------------------------------


def _iso(value: datetime.datetime | None) -> str | None:
    return value.astimezone(datetime.UTC).isoformat(timespec="microseconds") if value is not None else None


def _from_iso(value: Any) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(value) if value else None


def _entry_record(entry: AuditEntry) -> dict[str, Any]:
    """The entry's hashed fields, exactly as `compute_entry_hash` reads them."""
    return {
        "seq": entry.seq,
        "occurred_at": entry.occurred_at.astimezone(datetime.UTC).isoformat(timespec="microseconds"),
        "actor_id": entry.actor_id,
        "actor_label": entry.actor_label,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "before": entry.before,
        "after": entry.after,
        "ip": entry.ip,
        "user_agent": entry.user_agent,
        "prev_hash": entry.prev_hash,
        "sealed_at": _iso(entry.sealed_at),
        "entry_hash": entry.entry_hash,
    }


def _documents_of(app: Application, steps: Iterable[TimelineEntry]) -> list[DocumentShown]:
    """Every document version shown, each once (by id and recorded hash), in order of first showing."""
    seen: dict[tuple[int, str], DocumentShown] = {}
    for step in steps:
        if step.document is not None:
            seen.setdefault((step.document.document_id, step.document.recorded_sha256), step.document)
    return list(seen.values())


@dataclass(frozen=True, slots=True)
class _Evidence:
    entries: list[AuditEntry]
    steps: list[TimelineEntry]
    proof: ChainProof
    data: dict[str, Any]


def evidence(application: Application) -> dict[str, Any]:
    """The complete, machine-readable evidence of the application (nothing is recorded)."""
    return _gather(application).data


def _gather(application: Application) -> _Evidence:
    app = (
        Application.objects.select_related("application_form")
        .defer("application_form__content_b64")  # the PDF itself is not needed, only its hash
        .get(pk=application.pk)
    )
    rel = _related(app)
    audit.seal_pending()
    entries = list(AuditEntry.objects.filter(_entry_filter(app, rel), seq__isnull=False).order_by("seq"))
    steps = _timeline_from(app, entries)
    proof = _proof_of(entries)
    pages = PageTemplateVersion.objects.filter(sha256__in={s.page_version for s in steps if s.page_version})
    data = {
        "format": EVIDENCE_FORMAT,
        "generated_at": timezone.now(),
        "hash_algorithm": (
            "entry_hash = SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8) of the "
            "record's fields seq, occurred_at, actor_id, actor_label, action, object_type, "
            "object_id, before, after, ip, user_agent, prev_hash, and sealed_at when it is not null "
            "(timestamps as ISO 8601 UTC with microseconds); prev_hash is the entry_hash of the "
            "entry before it in the platform-wide chain"
        ),
        "application": {
            "number": app.number,
            "public_id": app.public_id,
            "status": app.status,
            "status_label": _label(ApplicationStatus, app.status),
            "channel": app.channel,
            "total_premium": app.total_premium,
            "data_revision": app.data_revision,
            "confirmed_revision": app.confirmed_revision,
            "confirmed_digest": app.confirmed_digest,
            "current_data_digest": data_digest(app) if app.applicant_name else "",
            "created_at": app.created_at,
            "confirmed_at": app.confirmed_at,
            "identity_verified_at": app.identity_verified_at,
            "face_passed_at": app.face_passed_at,
            "signed_at": app.signed_at,
            "paid_at": app.paid_at,
            "issued_at": app.issued_at,
            "expires_at": app.expires_at,
            "retention_until": app.retention_until,
            "application_form": (
                {
                    "public_id": app.application_form.public_id,
                    "filename": app.application_form.filename,
                    "sha256": app.application_form.sha256,
                    "created_at": app.application_form.created_at,
                }
                if app.application_form_id and app.application_form
                else None
            ),
            "data_masked": [
                {"heading": s.heading, "rows": [list(r) for r in s.rows]} for s in masked_data(app)
            ],
        },
        "items": [
            {
                "position": i.position,
                "product_code": i.product_version.product.code,
                "product_name": i.product_version.product.name,
                "insurer": i.product_version.product.insurer.name,
                "product_version_id": i.product_version_id,
                "product_version_number": i.product_version.number,
                "plan": i.plan.code,
                "quote": i.quote_id,
                "origin_quote": i.origin_quote_id,
                "sum_insured": i.sum_insured,
                "base_premium": i.base_premium,
                "premium": i.premium,
                "loading_percent": i.loading_percent,
                "exclusions": i.exclusions,
                "underwriting_outcome": i.underwriting_outcome,
            }
            for i in items_of(app)
        ],
        "entries": [_entry_record(e) for e in entries],
        "timeline": [
            {
                "seq": s.seq,
                "occurred_at": s.occurred_at,
                "actor": s.actor,
                "actor_kind": s.actor_kind,
                "actor_name": s.actor_name,
                "ip": s.ip,
                "user_agent": s.user_agent,
                "description": s.description,
                "details": list(s.details),
                "page": s.page,
                "page_version": s.page_version,
                "document": (
                    {"id": s.document.document_id, "content_sha256": s.document.recorded_sha256}
                    if s.document
                    else None
                ),
                "seconds_since_previous": s.seconds_since_previous,
                "seconds_since_start": s.seconds_since_start,
            }
            for s in steps
        ],
        "documents": [
            {
                "id": d.document_id,
                "kind": d.kind,
                "title": d.title,
                "product": d.product_name,
                "product_version_id": d.version_id,
                "product_version_number": d.version_number,
                "content_sha256_recorded": d.recorded_sha256,
                "content_sha256_of_text": d.text_sha256,
                "text_matches": d.text_matches,
                "min_read_seconds": d.min_read_seconds,
                "body": d.body,
                "key_clauses": list(d.key_clauses),
            }
            for d in _documents_of(app, steps)
        ],
        "page_templates": [
            {"template_name": p.template_name, "sha256": p.sha256, "source": p.source} for p in pages
        ],
        "signatures": [
            {
                "role": s.role,
                "insured": s.insured.position if s.insured else None,
                "signer": mask_name(s.signer_name),
                "method": s.method,
                "signed_at": s.signed_at,
                "data_revision": s.data_revision,
                "data_digest": s.data_digest,
                "image_sha256": hashlib.sha256(s.image_png_b64.encode()).hexdigest()
                if s.image_png_b64
                else "",
                "image_png_b64": s.image_png_b64,
                "ip": s.ip,
                "user_agent": s.user_agent,
            }
            for s in app.signatures.select_related("insured").order_by("id")
        ],
        "identity_checks": [
            {
                "public_id": c.public_id,
                "status": c.status,
                "name": mask_name(c.name),
                "id_number": mask_id_number(c.id_number),
                "provider": c.provider,
                "provider_ref": c.provider_ref,
                "attempts": c.attempts,
                "created_at": c.created_at,
            }
            for c in rel.identity_checks
        ],
        "face_checks": [
            {
                "public_id": c.public_id,
                "status": c.status,
                "failure_reason": c.failure_reason,
                "liveness_score": c.liveness_score,
                "similarity": c.similarity,
                "provider": c.provider,
                "provider_ref": c.provider_ref,
                "created_at": c.created_at,
                "completed_at": c.completed_at,
            }
            for c in rel.face_checks
        ],
        "payments": [_payment_facts(p) for p in rel.payments],
        "underwriting_cases": [
            {
                "id": c.pk,
                "item": c.item_id,
                "status": c.status,
                "referral_reasons": c.referral_reasons,
                "decision": c.decision,
                "loading_percent": c.loading_percent,
                "exclusions": c.exclusions,
                "decision_reasons": c.decision_reasons,
                "decided_by": c.decided_by_id,
                "decided_at": c.decided_at,
                "created_at": c.created_at,
            }
            for c in rel.cases
        ],
        "policies": [
            {
                "number": p.number,
                "public_id": p.public_id,
                "insurer": p.insurer.name,
                "item": p.item_id,
                "status": p.status,
                "premium": p.premium,
                "sum_insured": p.sum_insured,
                "effective_at": p.effective_at,
                "expires_at": p.expires_at,
                "issued_at": p.issued_at,
                "cooling_off_until": p.cooling_off_until,
                "retention_until": p.retention_until,
                "epolicy_sha256": p.epolicy_sha256,
            }
            for p in rel.policies
        ],
        "chain_proof": _proof_dict(proof),
    }
    result = audit.json_safe(data)
    assert isinstance(result, dict)
    return _Evidence(entries=entries, steps=steps, proof=proof, data=result)


def _payment_facts(payment: Any) -> dict[str, Any]:
    return {
        "public_id": payment.public_id,
        "merchant_ref": payment.merchant_ref,
        "amount": payment.amount,
        "status": payment.status,
        "failure_reason": payment.failure_reason,
        "payer_name": mask_name(payment.payer_name),
        "provider": payment.provider,
        "provider_txn_id": payment.provider_txn_id,
        "created_at": payment.created_at,
        "paid_at": payment.paid_at,
        "refunds": [
            {
                "public_id": r.public_id,
                "amount": r.amount,
                "reason": r.reason,
                "status": r.status,
                "created_at": r.created_at,
            }
            for r in payment.refunds.order_by("id")
        ],
    }


def _proof_dict(proof: ChainProof) -> dict[str, Any]:
    return {
        "ok": proof.ok,
        "entries_ok": proof.entries_ok,
        "problems": list(proof.problems),
        "entries": [
            {
                "seq": p.seq,
                "entry_hash": p.entry_hash,
                "prev_hash": p.prev_hash,
                "recomputed_hash": p.recomputed_hash,
                "hash_ok": p.hash_ok,
                "link_ok": p.link_ok,
            }
            for p in proof.entries
        ],
        "chain": {
            "ok": proof.chain.ok,
            "checked": proof.chain.checked,
            "first_bad_seq": proof.chain.first_bad_seq,
            "problem": proof.chain.problem,
            "head_seq": proof.chain.head_seq,
            "head_hash": proof.chain.head_hash,
        },
    }


def verify_evidence(data: Mapping[str, Any]) -> list[str]:
    """Checks an exported JSON file on its own: every entry's hash is recomputed from its fields
    (as the platform computes it) and consecutive entries are linked. Returns the problems."""
    problems: list[str] = []
    records = list(data.get("entries") or [])
    by_seq = {int(r["seq"]): r for r in records}
    for record in records:
        entry = AuditEntry(
            seq=record["seq"],
            occurred_at=datetime.datetime.fromisoformat(record["occurred_at"]),
            actor_id=record["actor_id"],
            actor_label=record["actor_label"],
            action=record["action"],
            object_type=record["object_type"],
            object_id=record["object_id"],
            before=record["before"],
            after=record["after"],
            ip=record["ip"],
            user_agent=record["user_agent"],
            prev_hash=record["prev_hash"],
            sealed_at=_from_iso(record.get("sealed_at")),
        )
        if audit.compute_entry_hash(entry) != record["entry_hash"]:
            problems.append(f"entry {record['seq']}: hash mismatch")
        previous = by_seq.get(int(record["seq"]) - 1)
        if previous is not None and previous["entry_hash"] != record["prev_hash"]:
            problems.append(f"entry {record['seq']}: not linked to entry {previous['seq']}")
        if int(record["seq"]) == 1 and record["prev_hash"] != GENESIS_HASH:
            problems.append("entry 1: not linked to the genesis hash")
    return problems


def verify_export(application: Application, raw: bytes) -> list[str]:
    """Checks an exported JSON file of `application` against the audit chain; returns the problems
    (none: the file is exactly as exported and matches the chain).

    Beyond `verify_evidence` (each entry's hash recomputed, consecutive entries linked): every
    entry in the file must be the entry the chain holds at its seq (an entry rewritten with a
    recomputed hash is found), every entry of the application up to the file's last one must be
    in it (a removed entry is found), and the file's SHA-256 must be that of a recorded export of
    this application (any changed byte — also in the timeline, facts or documents — is found)."""
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        problems = verify_evidence(data)
        exported = {int(r["seq"]): str(r["entry_hash"]) for r in data.get("entries") or []}
    except (ValueError, KeyError, TypeError) as exc:
        return [f"not an evidence file of this platform: {exc}"]
    facts = data.get("application")
    app_id = facts.get("public_id") if isinstance(facts, dict) else None
    if app_id != str(application.public_id):
        problems.append(f"the file is the evidence of application {app_id}, not {application.public_id}")
    stored = dict(AuditEntry.objects.filter(seq__in=list(exported)).values_list("seq", "entry_hash"))
    for seq, entry_hash in sorted(exported.items()):
        if stored.get(seq) != entry_hash:
            problems.append(f"entry {seq}: differs from the audit chain")
    last = max(exported, default=0)
    for entry in audit_entries(application):
        seq = audit.chain_fields(entry)[0]
        if seq <= last and seq not in exported:
            problems.append(f"entry {seq}: in the audit chain but missing from the file")
    digest = hashlib.sha256(raw).hexdigest()
    recorded = AuditEntry.objects.filter(
        object_type="application",
        object_id=str(application.public_id),
        action=f"application.{EXPORT_STEP}",
        after__sha256=digest,
    )
    if not recorded.exists():
        problems.append(f"file SHA-256 {digest} is not that of any recorded export: the file was changed")
    return problems


def render_json(data: Mapping[str, Any]) -> bytes:
    """The bytes of an exported JSON file (their SHA-256 is what the export entry records)."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True, indent=2).encode("utf-8")


def _record_export(
    app: Application,
    *,
    fmt: str,
    digest: str,
    data: Mapping[str, Any],
    actor: Any,
    request: HttpRequest | None,
) -> None:
    proof = data.get("chain_proof") or {}
    entries = data.get("entries") or []
    record_step(
        app,
        EXPORT_STEP,
        actor=actor,
        request=request,
        detail={
            "format": fmt,
            "sha256": digest,
            "entries": len(entries),
            "last_seq": entries[-1]["seq"] if entries else 0,
            "chain_ok": bool(proof.get("ok")),
        },
    )


def export_json(
    application: Application, *, actor: Any = None, request: HttpRequest | None = None
) -> dict[str, Any]:
    """The evidence as a JSON-ready dict; the export (with the SHA-256 of `render_json(result)`)
    is recorded in the audit chain as `application.evidence_exported`."""
    data = evidence(application)
    with transaction.atomic():
        _record_export(
            application,
            fmt="json",
            digest=hashlib.sha256(render_json(data)).hexdigest(),
            data=data,
            actor=actor,
            request=request,
        )
    return data


def export_pdf(application: Application, *, actor: Any = None, request: HttpRequest | None = None) -> bytes:
    """The evidence as a PAdES-signed PDF (personal data masked), kept as a signed document of
    kind `evidence`; the export is recorded in the audit chain with the file's SHA-256."""
    app = Application.objects.get(pk=application.pk)
    gathered = _gather(app)
    data, steps, proof = gathered.data, gathered.steps, gathered.proof
    exported_at = timezone.localtime()
    by = scrub(getattr(actor, "get_username", lambda: str(actor or ""))()) if actor is not None else ""
    if not by and request is not None and getattr(request, "user", None) is not None:
        by = scrub(request.user.get_username())
    pdf = sign_pdf(
        render_pdf(f"投保过程回溯证据 {app.number}", _pdf_sections(app, data, steps, proof, exported_at, by)),
        reason="汇保投保过程回溯证据",
    )
    with transaction.atomic():
        doc = SignedDocument(
            kind=SignedDocumentKind.EVIDENCE,
            reference=app.number,
            filename=f"{app.number}-回溯证据-{exported_at:%Y%m%d%H%M%S}.pdf",
        )
        doc.pdf = pdf
        doc.save()
        _record_export(app, fmt="pdf", digest=doc.sha256, data=data, actor=actor, request=request)
    return pdf


def _when(value: datetime.datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def _pdf_sections(
    app: Application,
    data: Mapping[str, Any],
    steps: Sequence[TimelineEntry],
    proof: ChainProof,
    exported_at: datetime.datetime,
    exported_by: str,
) -> list[Any]:
    import base64

    sections: list[Section] = [
        Section(
            heading="投保单",
            table=(
                ("投保单号", app.number),
                ("投保单标识", str(app.public_id)),
                ("状态", _label(ApplicationStatus, app.status)),
                ("渠道", _label(Channel, app.channel)),
                ("保费合计", format_money(app.total_premium)),
                ("创建时间", _when(app.created_at)),
                ("确认数据摘要", app.confirmed_digest or "—"),
                ("导出时间", exported_at.strftime("%Y-%m-%d %H:%M:%S")),
                ("导出人", exported_by or "—"),
            ),
        ),
        Section(
            heading="防篡改校验",
            paragraphs=(
                "每条记录的哈希由其全部内容和前一条记录的哈希计算（SHA-256），任何改动、删除或调换都会使校验失败。",
            ),
            table=(
                (
                    "本投保单记录",
                    f"{len(proof.entries)}条，" + ("全部一致" if proof.entries_ok else "发现问题"),
                ),
                (
                    "全链校验",
                    (
                        f"通过（共{proof.chain.checked}条）"
                        if proof.chain.ok
                        else f"未通过：{proof.chain.problem}"
                    ),
                ),
                ("链头", f"#{proof.chain.head_seq} {proof.chain.head_hash}" if proof.chain.ok else "—"),
                *(("问题", p) for p in proof.problems),
            ),
        ),
    ]
    rows: list[tuple[str, str]] = []
    for s in steps:
        lines = [f"{s.actor}{('（' + s.actor_name + '）') if s.actor_name else ''}：{s.description}"]
        lines += list(s.details)
        if s.page:
            lines.append(f"页面：{s.page_label}（模板版本 {s.page_version[:16] or '未记录'}）")
        if s.document is not None:
            d = s.document
            lines.append(
                f"文件：{d.product_name} 第{d.version_number}版《{d.title}》 SHA-256 {d.recorded_sha256}"
                + ("" if d.text_matches else "（现存文本与记录不符）")
            )
        if s.ip or s.user_agent:
            lines.append(f"IP {s.ip or '—'}，UA {s.user_agent or '—'}")
        lines.append(f"哈希 {s.entry_hash}")
        label = f"#{s.seq}\n{_when(s.occurred_at)}"
        if s.seconds_since_previous is not None:
            label += f"\n距上一步 {s.since_previous}"
        rows.append((label, "\n".join(lines)))
    sections.append(Section(heading="投保过程", table=tuple(rows)))
    for part in masked_data(app):
        sections.append(Section(heading=f"投保信息（已脱敏）：{part.heading}", table=part.rows))
    for sig in app.signatures.select_related("insured").order_by("id"):
        role = _label(SignerRole, sig.role)
        image = base64.b64decode(sig.image_png_b64) if sig.image_png_b64 else None
        sections.append(
            Section(
                heading=f"签名（{role}）",
                table=(
                    ("签署人", mask_name(sig.signer_name)),
                    ("方式", _label(SignatureMethod, sig.method)),
                    ("时间", _when(sig.signed_at)),
                    ("签署的数据摘要", sig.data_digest),
                ),
                image_png=image,
            )
        )
    for doc in data.get("documents") or []:
        clauses = [f"【{c.get('title', '')}】{c.get('text', '')}" for c in doc.get("key_clauses") or []]
        sections.append(
            Section(
                heading=f"《{doc['title']}》{doc['product']} 第{doc['product_version_number']}版",
                paragraphs=(
                    f"SHA-256：{doc['content_sha256_recorded']}"
                    + ("（现存文本一致）" if doc["text_matches"] else "（现存文本与记录不符）"),
                    doc["body"],
                    *clauses,
                ),
            )
        )
    templates = data.get("page_templates") or []
    if templates:
        sections.append(
            Section(heading="页面模板版本", table=tuple((t["template_name"], t["sha256"]) for t in templates))
        )
    return sections
