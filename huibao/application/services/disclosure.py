"""Reading the documents and confirming their key clauses, timed by the server."""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from huibao.application.evidence.trace import record_step
from huibao.application.models import Application, ClauseConfirmation, DisclosureReading
from huibao.application.rules import clause_identity, clause_min_read_seconds
from huibao.application.selectors import Target, doc_key, key_clauses, required_documents
from huibao.application.services._common import _acting, _locked, _require_acting
from huibao.catalog.models import Document
from huibao.core import audit
from huibao.core.errors import FieldError, NotFound, ValidationFailed


def _document_of(app: Application, document_id: int) -> Document:
    doc = next((d for d in required_documents(app) if d.pk == int(document_id)), None)
    if doc is None:
        # A document of the same text shared by several products is read once, under the first.
        raise NotFound(
            "该文件不属于此投保单",
            errors=[FieldError("document", "unknown_document", "该文件不属于此投保单")],
        )
    return doc


def open_document(
    application: Application | Target, document_id: int, *, user: Any, request: HttpRequest | None = None
) -> DisclosureReading:
    """The document is shown: the reading clock starts on the server (once)."""
    with transaction.atomic():
        app = _acting(application, user)
        doc = _document_of(app, document_id)
        # The application row is locked: no concurrent open of the same document can race here.
        # (None to read when the locked read found no reading at all.)
        reading = (
            None
            if getattr(app, "has_readings", True) is False
            else DisclosureReading.objects.filter(application=app, content_sha256=doc_key(doc)).first()
        )
        if reading is not None:
            _share_document(reading, doc)
        else:
            reading = DisclosureReading.objects.create(
                application=app, content_sha256=doc_key(doc), document=doc, opened_at=timezone.now()
            )
            record_step(
                app,
                "document_opened",
                actor=user,
                request=request,
                page="application/document.html",
                detail={
                    "document": doc.pk,
                    "kind": doc.kind,
                    "title": doc.title,
                    "content_sha256": doc.content_sha256,
                    "product_version": doc.version_id,
                    "min_read_seconds": doc.min_read_seconds,
                },
            )
    return reading


def finish_reading(
    application: Application | Target,
    document_id: int,
    *,
    scrolled_to_end: bool,
    user: Any,
    request: HttpRequest | None = None,
    now: datetime.datetime | None = None,
) -> DisclosureReading:
    """Marks a document read: it must have been opened, scrolled to its end and open at least
    its minimum time, all measured by the server."""
    with transaction.atomic():
        app = _acting(application, user)
        reading, _doc = _finish_reading(
            app, document_id, scrolled_to_end=scrolled_to_end, user=user, request=request, now=now
        )
    return reading


def _finish_reading(
    app: Application,
    document_id: int,
    *,
    scrolled_to_end: bool,
    user: Any,
    request: HttpRequest | None,
    now: datetime.datetime | None = None,
) -> tuple[DisclosureReading, Document]:
    """`finish_reading` on the application locked by the caller, open and the user's."""
    now = now or timezone.now()
    doc = _document_of(app, document_id)
    reading = DisclosureReading.objects.filter(application=app, content_sha256=doc_key(doc)).first()
    if reading is not None:
        _share_document(reading, doc)
    if reading is None:
        raise ValidationFailed(
            "open it first",
            errors=[FieldError("document", "not_opened", f"请先打开并阅读《{doc.title}》")],
        )
    if reading.completed_at is not None:
        return reading, doc
    if not scrolled_to_end:
        raise ValidationFailed(
            "scroll to the end",
            errors=[FieldError("scrolled_to_end", "not_scrolled", f"请将《{doc.title}》滑动阅读至文末")],
        )
    elapsed = (now - reading.opened_at).total_seconds()
    if elapsed < doc.min_read_seconds:
        left = int(doc.min_read_seconds - elapsed + 0.999)
        raise ValidationFailed(
            "reading time too short",
            errors=[
                FieldError(
                    "reading_time",
                    "too_short",
                    f"《{doc.title}》需阅读至少{doc.min_read_seconds}秒，还需{left}秒",
                )
            ],
        )
    reading.scrolled_to_end_at = now
    reading.completed_at = now
    reading.seconds_open = int(elapsed)
    reading.save(update_fields=["scrolled_to_end_at", "completed_at", "seconds_open"])
    record_step(
        app,
        "document_read",
        actor=user,
        request=request,
        page="application/document.html",
        detail={
            "document": doc.pk,
            "title": doc.title,
            "content_sha256": doc.content_sha256,
            "seconds_open": int(elapsed),
            "opened_at": reading.opened_at,
        },
    )
    return reading, doc


def _share_document(row: DisclosureReading | ClauseConfirmation, doc: Document) -> None:
    """Caches the document already loaded on a reading/confirmation row that points at it."""
    if row.document_id == doc.pk:
        row.document = doc


def _clause(
    clauses: Sequence[tuple[Document, dict[str, Any]]], document_id: int, clause_code: str
) -> tuple[int, Document, dict[str, Any]]:
    for index, (doc, clause) in enumerate(clauses):
        if doc.pk == int(document_id) and clause.get("code") == clause_code:
            return index, doc, clause
    raise NotFound(
        "该条款不属于此投保单", errors=[FieldError("clause", "unknown_clause", "该条款不属于此投保单")]
    )


ClauseRows = dict[tuple[str, str], ClauseConfirmation]


def _clause_rows(app: Application) -> ClauseRows:
    """The application's clause rows (one read), by (content hash, clause code); a use-case keeps
    the dict current with what it writes, under the application's lock."""
    return {(c.content_sha256, c.clause_code): c for c in ClauseConfirmation.objects.filter(application=app)}


def _document_read(app: Application, doc: Document, read: set[str]) -> bool:
    """Whether `doc` was read through; `read` holds the documents' keys already known read in
    this transaction (and gains this one when it is)."""
    key = doc_key(doc)
    if key not in read:
        if not DisclosureReading.objects.filter(
            application=app, content_sha256=key, completed_at__isnull=False
        ).exists():
            return False
        read.add(key)
    return True


def show_clause(
    application: Application | Target,
    document_id: int,
    clause_code: str,
    *,
    user: Any,
    request: HttpRequest | None = None,
) -> ClauseConfirmation:
    """A key clause is shown (its reading clock starts); the previous one must be confirmed first.
    A clause the customer already confirmed for another product of the application (the same
    clause, `rules.clause_identity`) is recorded as confirmed for this one too, not asked again."""
    with transaction.atomic():
        app = _acting(application, user)
        clauses = key_clauses(app)
        index = _clause(clauses, document_id, clause_code)[0]
        return _show_clause(app, clauses, index, rows=None, read=set(), user=user, request=request)


def _show_clause(
    app: Application,
    clauses: Sequence[tuple[Document, dict[str, Any]]],
    index: int,
    *,
    rows: ClauseRows | None,
    read: set[str],
    user: Any,
    request: HttpRequest | None,
) -> ClauseConfirmation:
    """`show_clause` of `clauses[index]` on the application locked by the caller, open and the
    user's; `rows` (`_clause_rows`, current) saves reading them, `read` as in `_document_read`.
    Raises ValidationFailed before writing anything."""
    doc, clause = clauses[index]
    clause_code = str(clause.get("code"))
    # A key clause comes after its document was read through (the page leads there; the server
    # holds to it for every client).
    if not _document_read(app, doc, read):
        raise ValidationFailed(
            "read the document first",
            errors=[FieldError("clause", "document_not_read", f"请先阅读完《{doc.title}》")],
        )
    # One read of the application's clause rows: the confirmed ones and this clause's own.
    if rows is None:
        rows = _clause_rows(app)
    for earlier_doc, earlier in clauses[:index]:
        earlier_row = rows.get((doc_key(earlier_doc), earlier["code"]))
        if earlier_row is None or earlier_row.confirmed_at is None:
            raise ValidationFailed(
                "confirm in order",
                errors=[FieldError("clause", "previous_not_confirmed", f"请先确认“{earlier['title']}”")],
            )
    # The application row is locked: no concurrent show of the same clause can race here.
    row = rows.get((doc_key(doc), clause_code))
    if row is not None:
        _share_document(row, doc)
        return row
    twin = _confirmed_twin(clauses, index, rows)
    now = timezone.now()
    row = ClauseConfirmation.objects.create(
        application=app,
        content_sha256=doc_key(doc),
        clause_code=clause_code,
        document=doc,
        shown_at=now,
        confirmed_at=now if twin is not None else None,
    )
    rows[(doc_key(doc), clause_code)] = row
    if twin is not None:
        _record_shared(app, doc, clause, twin, user=user, request=request)
        return row
    record_step(
        app,
        "clause_shown",
        actor=user,
        request=request,
        page="application/clause.html",
        detail={
            "document": doc.pk,
            "clause": clause_code,
            "title": clause.get("title", ""),
            "kind": clause.get("kind", ""),
            "min_read_seconds": clause_min_read_seconds(clause),
        },
    )
    return row


def _confirmed_twin(
    clauses: Sequence[tuple[Document, dict[str, Any]]], index: int, rows: ClauseRows
) -> ClauseConfirmation | None:
    """The confirmation of the same clause (`clause_identity`) under another document, if any."""
    identity = clause_identity(clauses[index][1])
    for position, (doc, clause) in enumerate(clauses):
        if position == index or clause_identity(clause) != identity:
            continue
        row = rows.get((doc_key(doc), str(clause.get("code"))))
        if row is not None and row.confirmed_at is not None:
            return row
    return None


def _record_shared(
    app: Application,
    doc: Document,
    clause: dict[str, Any],
    source: ClauseConfirmation,
    *,
    user: Any,
    request: HttpRequest | None,
) -> None:
    """The audit line of a clause confirmed once for several products: recorded against this
    document, naming the confirmation it shares."""
    record_step(
        app,
        "clause_confirmed",
        actor=user,
        request=request,
        page="application/clause.html",
        detail={
            "document": doc.pk,
            "clause": str(clause.get("code")),
            "title": clause.get("title", ""),
            "text_sha256": hashlib.sha256(str(clause.get("text", "")).encode()).hexdigest(),
            "shared_with": {"document": source.document_id, "clause": source.clause_code},
            "seconds_shown": 0,
        },
    )


def _confirm_twins(
    app: Application,
    clauses: Sequence[tuple[Document, dict[str, Any]]],
    index: int,
    source: ClauseConfirmation,
    *,
    rows: ClauseRows,
    read: set[str],
    user: Any,
    request: HttpRequest | None,
) -> None:
    """Records the confirmation of `clauses[index]` against every other document of the
    application holding the same clause and already read (one row and one audit line each, at
    this moment); a twin in a document still unread is recorded when it is shown."""
    identity = clause_identity(clauses[index][1])
    for position, (doc, clause) in enumerate(clauses):
        if position == index or clause_identity(clause) != identity:
            continue
        key = (doc_key(doc), str(clause.get("code")))
        row = rows.get(key)
        if (row is not None and row.confirmed_at is not None) or not _document_read(app, doc, read):
            continue
        now = timezone.now()
        if row is None:
            row = ClauseConfirmation.objects.create(
                application=app,
                content_sha256=key[0],
                clause_code=key[1],
                document=doc,
                shown_at=source.shown_at,
                confirmed_at=now,
            )
            rows[key] = row
        else:
            row.confirmed_at = now
            row.save(update_fields=["confirmed_at"])
        _record_shared(app, doc, clause, source, user=user, request=request)


def confirm_clause(
    application: Application | Target,
    document_id: int,
    clause_code: str,
    *,
    user: Any,
    request: HttpRequest | None = None,
    now: datetime.datetime | None = None,
) -> ClauseConfirmation:
    """Confirms a key clause shown at least its `min_read_seconds` ago (the server's clock), and
    the same clause of the application's other products."""
    with transaction.atomic(), audit.batched():
        app = _acting(application, user)
        clauses = key_clauses(app)
        return _confirm_clause(
            app, clauses, document_id, clause_code, rows=None, read=set(), user=user, request=request, now=now
        )


def _confirm_clause(
    app: Application,
    clauses: Sequence[tuple[Document, dict[str, Any]]],
    document_id: int,
    clause_code: str,
    *,
    rows: ClauseRows | None,
    read: set[str],
    user: Any,
    request: HttpRequest | None,
    now: datetime.datetime | None = None,
) -> ClauseConfirmation:
    """`confirm_clause` on the application locked by the caller, open and the user's; `rows`
    (`_clause_rows`, current) saves reading the clause rows, `read` as in `_document_read`."""
    index, doc, clause = _clause(clauses, document_id, clause_code)
    if rows is None:
        rows = _clause_rows(app)
    row = rows.get((doc_key(doc), clause_code))
    if row is None:
        raise ValidationFailed(
            "show it first",
            errors=[FieldError("clause", "not_shown", f"请先阅读“{clause.get('title', '')}”")],
        )
    _share_document(row, doc)
    if row.confirmed_at is None:
        now = now or timezone.now()
        elapsed = (now - row.shown_at).total_seconds()
        minimum = clause_min_read_seconds(clause)
        if elapsed < minimum:
            left = int(minimum - elapsed + 0.999)
            raise ValidationFailed(
                "reading time too short",
                errors=[
                    FieldError(
                        "reading_time",
                        "too_short",
                        f"“{clause.get('title', '')}”需阅读至少{minimum}秒，还需{left}秒",
                    )
                ],
            )
        row.confirmed_at = now
        row.save(update_fields=["confirmed_at"])
        record_step(
            app,
            "clause_confirmed",
            actor=user,
            request=request,
            page="application/clause.html",
            detail={
                "document": doc.pk,
                "clause": clause_code,
                "title": clause.get("title", ""),
                "text_sha256": hashlib.sha256(str(clause.get("text", "")).encode()).hexdigest(),
                "seconds_shown": int(elapsed),
            },
        )
        _confirm_twins(app, clauses, index, row, rows=rows, read=read, user=user, request=request)
    return row


def confirm_clauses(
    application: Application | Target,
    refs: Sequence[tuple[int, str]],
    *,
    user: Any,
    request: HttpRequest | None = None,
    now: datetime.datetime | None = None,
) -> list[ClauseConfirmation]:
    """Confirms several key clauses in one call, in the order given, each as `confirm_clause`
    (each its own row, audit line and timestamp). A clause not shown yet is shown first (in the
    clauses' order), so its reading clock starts then: only clauses shown long enough before, or
    without a minimum time, pass together. The first refusal names `clauses[i]` and nothing is
    written."""
    if not refs:
        raise ValidationFailed(
            "no clauses", errors=[FieldError("clauses", "required", "请选择要确认的重要条款")]
        )
    with transaction.atomic(), audit.batched():
        app = _acting(application, user)
        clauses = key_clauses(app)
        rows = _clause_rows(app)
        read: set[str] = set()
        confirmed: list[ClauseConfirmation] = []
        for position, (document_id, clause_code) in enumerate(refs):
            try:
                index = _clause(clauses, document_id, clause_code)[0]
                if (doc_key(clauses[index][0]), clause_code) not in rows:
                    _show_clause(app, clauses, index, rows=rows, read=read, user=user, request=request)
                confirmed.append(
                    _confirm_clause(
                        app,
                        clauses,
                        document_id,
                        clause_code,
                        rows=rows,
                        read=read,
                        user=user,
                        request=request,
                        now=now,
                    )
                )
            except (ValidationFailed, NotFound) as exc:
                raise ValidationFailed(
                    exc.message,
                    errors=[
                        FieldError(f"clauses[{position}].{e.field}", e.code, e.message) for e in exc.errors
                    ],
                ) from None
        return confirmed


def show_next_clause(
    application: Application | Target, *, user: Any, request: HttpRequest | None = None
) -> ClauseConfirmation | None:
    """Shows the first key clause not yet confirmed, exactly as `show_clause` would (recorded as
    shown); None when every clause is confirmed or the next one cannot be shown yet (its document
    is not read through). Nothing changes then."""
    with transaction.atomic(), audit.batched():
        app = _locked(application)
        return _show_next_clause(app, key_clauses(app), rows=None, read=set(), user=user, request=request)


def _show_next_clause(
    app: Application,
    clauses: Sequence[tuple[Document, dict[str, Any]]],
    *,
    rows: ClauseRows | None,
    read: set[str],
    user: Any,
    request: HttpRequest | None,
) -> ClauseConfirmation | None:
    """`show_next_clause` on the application locked by the caller (it checks open and owner
    before it shows). A clause confirmed already for another product is recorded and passed."""
    if rows is None:
        rows = _clause_rows(app)
    for index, (doc, clause) in enumerate(clauses):
        row = rows.get((doc_key(doc), clause["code"]))
        if row is not None and row.confirmed_at is not None:
            continue
        _require_acting(app, user)
        try:
            row = _show_clause(app, clauses, index, rows=rows, read=read, user=user, request=request)
        except ValidationFailed:
            return None  # its document is not read yet: it is shown after the reading
        if row.confirmed_at is None:
            return row
    return None


def confirm_clause_and_show_next(
    application: Application | Target,
    document_id: int,
    clause_code: str,
    *,
    user: Any,
    request: HttpRequest | None = None,
) -> tuple[ClauseConfirmation, ClauseConfirmation | None]:
    """Confirms a key clause and, in the same transaction, shows the next one (`show_next_clause`)
    — what a client does next anyway, in one round trip instead of two: a phone on a slow network
    waits once. One lock of the application and one read of its clause rows serve both."""
    with transaction.atomic(), audit.batched():
        app = _acting(application, user)  # a stranger gets the same 404 as from `confirm_clause`
        clauses = key_clauses(app)
        rows = _clause_rows(app)
        # A clause is shown only once its document was read through, and neither row is ever
        # removed: every document with a clause row is read, without asking for its reading.
        read = {key for key, _code in rows}
        row = _confirm_clause(
            app, clauses, document_id, clause_code, rows=rows, read=read, user=user, request=request
        )
        return row, _show_next_clause(app, clauses, rows=rows, read=read, user=user, request=request)


def finish_reading_and_show_next(
    application: Application | Target,
    document_id: int,
    *,
    scrolled_to_end: bool,
    user: Any,
    request: HttpRequest | None = None,
) -> tuple[DisclosureReading, ClauseConfirmation | None]:
    """Finishes a reading (`finish_reading`, with all its checks) and shows the first key clause
    it unlocks (`show_next_clause`), in one transaction and one round trip, under one lock."""
    with transaction.atomic(), audit.batched():
        app = _acting(application, user)
        reading, doc = _finish_reading(
            app, document_id, scrolled_to_end=scrolled_to_end, user=user, request=request
        )
        # `_finish_reading` returns only a reading completed: that document needs no second look.
        return reading, _show_next_clause(
            app, key_clauses(app), rows=None, read={doc_key(doc)}, user=user, request=request
        )
