"""Consent to the user agreement and the privacy policy (PIPL arts. 13-17): which version of which
text a customer agreed to, when, and from where (the address as a keyed hash).

The texts are `LegalDocument` versions the operator publishes (the admin); the current version of
a kind is the highest published one. A customer who has not consented to the current version of
each kind — a new version, or no consent on record at all — is asked at their next log-in
(`consents_to_renew`); consent is recorded per version, never updated in place.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from huibao.account import legal_texts
from huibao.account.models import Consent, LegalDocument, LegalDocumentKind, User
from huibao.core import audit
from huibao.core.crypto import key_ring
from huibao.core.errors import FieldError, NotFound, ValidationFailed

KINDS = (LegalDocumentKind.USER_AGREEMENT, LegalDocumentKind.PRIVACY_POLICY)
DEFAULTS: dict[str, tuple[str, str]] = {
    LegalDocumentKind.USER_AGREEMENT: (legal_texts.USER_AGREEMENT_TITLE, legal_texts.USER_AGREEMENT),
    LegalDocumentKind.PRIVACY_POLICY: (legal_texts.PRIVACY_POLICY_TITLE, legal_texts.PRIVACY_POLICY),
}
IP_CONTEXT = "account.consent.ip"


@dataclass(frozen=True, slots=True)
class CurrentText:
    kind: str
    version: int
    title: str
    sha256: str


def body_sha256(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def current_document(kind: str) -> LegalDocument:
    """The highest published version of `kind`; before the operator published any, version 1
    from the defaults in code (`legal_texts`) is published on first use."""
    if kind not in KINDS:
        raise NotFound(f"no legal document kind {kind!r}")
    document = (
        LegalDocument.objects.filter(kind=kind, published_at__lte=timezone.now()).order_by("-version").first()
    )
    if document is None:
        title, body = DEFAULTS[kind]
        document, _ = LegalDocument.objects.get_or_create(
            kind=kind, version=1, defaults={"title": title, "body": body, "sha256": body_sha256(body)}
        )
    return document


def document_version(kind: str, version: int) -> LegalDocument:
    document = LegalDocument.objects.filter(kind=kind, version=version).first()
    if document is None:
        raise NotFound(f"no {kind} version {version}")
    return document


def current_texts() -> list[CurrentText]:
    """The current version of each kind (the ones a customer must have agreed to)."""
    out = []
    for kind in KINDS:
        document = current_document(kind)
        out.append(CurrentText(kind, document.version, document.title, document.sha256))
    return out


def missing_consents(user: User) -> list[CurrentText]:
    """The current texts `user` has not consented to (a new version counts as not consented)."""
    texts = current_texts()
    agreed = set(
        Consent.objects.filter(user=user, kind__in=KINDS).values_list("kind", "version", "document_sha256")
    )
    return [t for t in texts if (t.kind, t.version, t.sha256) not in agreed]


def consents_to_renew(user: User) -> list[CurrentText]:
    """What the log-in asks for: every current text `user` has not consented to — a newer
    version of one they agreed to, and both texts for an account with no consent record at all
    (made before consent was recorded, by staff or by an import): PIPL asks for consent before
    the personal data is used, whoever made the account."""
    return missing_consents(user)


def record_current(user: User) -> None:
    """`user` consents to the current texts, as at sign-up (the demo's customers, who stand for
    customers that signed up; accounts made otherwise are asked at their next log-in)."""
    record_consent(user, current_texts(), client_address=None)


def has_consented_before(user: User) -> bool:
    """Whether `user` agreed to any version of any text (the page says "updated" then, and asks
    for a first consent otherwise)."""
    return Consent.objects.filter(user=user, kind__in=KINDS).exists()


def publish(kind: str, *, title: str, body: str) -> LegalDocument:
    """A new version of `kind` (the previous version + 1), in force at once."""
    if kind not in KINDS:
        raise ValidationFailed("unknown kind", errors=[FieldError("kind", "invalid", "文本类型无效")])
    if not body.strip():
        raise ValidationFailed("empty body", errors=[FieldError("body", "required", "正文：请填写协议正文")])
    with transaction.atomic():
        last = LegalDocument.objects.select_for_update().filter(kind=kind).order_by("-version").first()
        document = LegalDocument.objects.create(
            kind=kind,
            version=(last.version + 1) if last else 1,
            title=title.strip() or dict(LegalDocumentKind.choices)[kind],
            body=body,
            sha256=body_sha256(body),
        )
        audit.record(
            "account.legal.publish",
            "account.legaldocument",
            str(document.pk),
            after={"kind": kind, "version": document.version, "sha256": document.sha256},
        )
    return document


def record_consent(user: User, texts: list[CurrentText], *, client_address: str | None) -> list[Consent]:
    """Records `user`'s consent to each of `texts` (idempotent per version). Call inside the
    transaction of what the consent is for (a sign-up), or on its own (a log-in asking again)."""
    now = timezone.now()
    ip_hash = key_ring().lookup_hash(client_address, context=IP_CONTEXT) if client_address else ""
    rows = []
    with transaction.atomic():
        for text in texts:
            row, created = Consent.objects.get_or_create(
                user=user,
                kind=text.kind,
                version=text.version,
                defaults={"document_sha256": text.sha256, "consented_at": now, "ip_hash": ip_hash},
            )
            if created:
                audit.record(
                    "account.consent.record",
                    "account.user",
                    str(user.pk),
                    actor=user,
                    after={"kind": text.kind, "version": text.version, "sha256": text.sha256},
                )
            rows.append(row)
    return rows
