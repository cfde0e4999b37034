"""The timeline of an application: its audit entries (and those of its payments, checks, cases and
policies) in chain order, each with what was shown and done."""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from huibao.account.models import User
from huibao.application.evidence.describe import (
    _CLAUSE_KINDS,
    ACTOR_KINDS,
    FACE_CHECK_TYPE,
    IDENTITY_CHECK_TYPE,
    PAGE_LABELS,
    PAYMENT_TYPE,
    POLICY_TYPE,
    UNDERWRITING_TYPES,
    _describe,
    _label,
    format_duration,
)
from huibao.application.models import Application, PageTemplateVersion, Signature
from huibao.application.selectors import data_digest
from huibao.application.states import SignatureMethod, SignerRole
from huibao.catalog.models import Document
from huibao.catalog.services import document_sha256
from huibao.core import audit
from huibao.core.masking import scrub
from huibao.core.models import AuditEntry
from huibao.identity.models import FaceCheck, IdentityCheck
from huibao.payment.models import Payment
from huibao.policy.models import Policy
from huibao.underwriting.models import UnderwritingCase


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


@dataclass(slots=True)
class _Related:
    payments: list[Any] = field(default_factory=list)
    identity_checks: list[Any] = field(default_factory=list)
    face_checks: list[Any] = field(default_factory=list)
    cases: list[Any] = field(default_factory=list)
    policies: list[Any] = field(default_factory=list)


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
