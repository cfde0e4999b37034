"""The evidence file of an application, as JSON or as a PAdES-signed PDF; every export is recorded
in the audit chain."""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from huibao.application.evidence.describe import _label, format_money
from huibao.application.evidence.masked import masked_data
from huibao.application.evidence.proof import ChainProof, _proof_of
from huibao.application.evidence.timeline import (
    DocumentShown,
    TimelineEntry,
    _entry_filter,
    _related,
    _timeline_from,
)
from huibao.application.evidence.trace import record_step
from huibao.application.models import Application, PageTemplateVersion
from huibao.application.selectors import data_digest, items_of
from huibao.application.states import ApplicationStatus, Channel, SignatureMethod, SignerRole
from huibao.core import audit
from huibao.core.masking import mask_id_number, mask_name, scrub
from huibao.core.models import AuditEntry
from huibao.esign.models import SignedDocument, SignedDocumentKind
from huibao.esign.pdf import Section, render_pdf, sign_pdf

EVIDENCE_FORMAT = "huibao.application-evidence/1"


EXPORT_STEP = "evidence_exported"


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
        "entries": [audit.entry_record(e) for e in entries],
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
