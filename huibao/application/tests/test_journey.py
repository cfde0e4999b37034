"""One journey: the API's next step, the page the customer is sent to and what signing refuses
with come from `journey`, in one order, step by step along a real flow."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import resolve

from huibao.application import journey
from huibao.application.api import presenters
from huibao.application.journey import Journey, missing_before_signing
from huibao.application.models import Application
from huibao.application.selectors import key_clauses, required_documents
from huibao.application.services.confirm import confirm
from huibao.application.services.data import save_data
from huibao.application.services.disclosure import confirm_clause, finish_reading, open_document, show_clause
from huibao.application.services.identity import verify_identity
from huibao.application.services.start import start_application
from huibao.application.tests import factories as f
from huibao.application.web import flow

pytestmark = pytest.mark.django_db


def _where(app: Application, user: Any) -> tuple[str, str]:
    """(the API's next step, the page's URL name) for a fresh read of the application."""
    fresh = Application.objects.get(pk=app.pk)
    step = presenters.application_out(fresh, user=user)["next_step"]
    page = resolve(flow.next_url(Application.objects.get(pk=app.pk))).url_name
    return step, str(page)


def test_the_api_the_pages_and_signing_follow_one_order() -> None:
    # given a product with a document and a key clause, and a customer
    product = f.simple_product()
    user = f.customer("13900007001")
    d = f.data()
    app = start_application(quote_ids=[f.quote(product, user).pk], user=user)
    # then: draft without data → fill in the data (the data page)
    assert _where(app, user) == (journey.FILL_DATA, "data")
    save_data(app, d, actor=user)
    assert _where(app, user) == (journey.VERIFY_IDENTITY, "identity")
    verify_identity(app, name=d.applicant.name, id_number=d.applicant.id_number, user=user)
    assert _where(app, user) == (journey.CONFIRM, "review")
    app = confirm(app, user=user)
    # accepted: the documents first; signing names the same thing as its first problem
    doc = required_documents(app)[0]
    assert _where(app, user) == (journey.READ_DOCUMENTS, "document")
    assert [e.code for e in missing_before_signing(Application.objects.get(pk=app.pk))][:1] == ["unread"]
    open_document(app, doc.pk, user=user)
    finish_reading(app, doc.pk, scrolled_to_end=True, user=user)
    clauses = key_clauses(app)
    assert clauses  # the terms of the demo product have key clauses
    assert _where(app, user) == (journey.CONFIRM_CLAUSES, "clause")
    codes = [e.code for e in missing_before_signing(Application.objects.get(pk=app.pk))]
    assert codes == ["unconfirmed"] * len(clauses)
    for clause_doc, clause in clauses:
        show_clause(app, clause_doc.pk, clause["code"], user=user)
        confirm_clause(app, clause_doc.pk, clause["code"], user=user)
    # nothing stands before signing any more: all three say so
    assert _where(app, user) == (journey.SIGN, "sign")
    assert missing_before_signing(Application.objects.get(pk=app.pk)) == []


def test_face_check_comes_after_reading_and_before_signing_everywhere() -> None:
    # given an accepted, fully read application that needs a face check
    product = f.simple_product()
    user = f.customer("13900007002")
    app = start_application(quote_ids=[f.quote(product, user).pk], user=user)
    d = f.data()
    save_data(app, d, actor=user)
    verify_identity(app, name=d.applicant.name, id_number=d.applicant.id_number, user=user)
    app = confirm(app, user=user)
    f.read_everything(app, user)
    Application.objects.filter(pk=app.pk).update(face_required=True)
    # then the API and the page lead to the face check, and signing refuses for it alone
    assert _where(app, user) == (journey.FACE_CHECK, "face")
    assert [e.code for e in missing_before_signing(Application.objects.get(pk=app.pk))] == ["not_passed"]


def test_a_draft_next_step_reads_nothing_of_the_disclosure() -> None:
    # given a draft with its data
    product = f.simple_product()
    user = f.customer("13900007003")
    app = start_application(quote_ids=[f.quote(product, user).pk], user=user)
    save_data(app, f.data(), actor=user)
    fresh = Application.objects.get(pk=app.pk)
    # when its next step is asked
    with CaptureQueriesContext(connection) as queries:
        step = Journey(fresh).next_step()
    # then only the items and the identity check are read: no documents, readings or payment
    assert step == journey.VERIFY_IDENTITY
    tables = " ".join(q["sql"] for q in queries.captured_queries)
    assert "catalog_document" not in tables and "payment_payment" not in tables
    assert "application_disclosurereading" not in tables
