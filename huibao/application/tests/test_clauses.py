"""Key clauses on one page: each confirmed on its own after its reading time (the server's clock),
and a clause several products of a bundle hold asked once and recorded against each."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from huibao.application.models import Application, ClauseConfirmation
from huibao.application.selectors import disclosure_progress, key_clauses, required_documents
from huibao.application.services.confirm import confirm
from huibao.application.services.data import save_data
from huibao.application.services.disclosure import (
    confirm_clause,
    confirm_clause_and_show_next,
    confirm_clauses,
    finish_reading,
    open_document,
    show_clause,
    show_next_clause,
)
from huibao.application.services.identity import verify_identity
from huibao.application.services.start import start_application
from huibao.application.tests import factories as f
from huibao.catalog.documents import clear_document_cache
from huibao.catalog.models import Document, Product
from huibao.core.errors import ValidationFailed
from huibao.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def timed(product: Any, seconds: int, *, extra: list[dict[str, Any]] | None = None) -> None:
    """The product's terms: its key clause (酒后驾驶不赔。) to be shown `seconds` before it counts,
    and `extra` clauses after it."""
    for doc in Document.objects.filter(version=product.current_version):
        clauses = [{**c, "min_read_seconds": seconds} for c in doc.key_clauses] + list(extra or [])
        Document.objects.filter(pk=doc.pk).update(key_clauses=clauses)
    clear_document_cache()


def accepted(user: Any, *products: Any) -> Application:
    app = start_application(quote_ids=[f.quote(p, user).pk for p in products], user=user)
    d = f.data()
    save_data(app, d, actor=user)
    verify_identity(app, name=d.applicant.name, id_number=d.applicant.id_number, user=user)
    app = confirm(app, user=user)
    app.refresh_from_db()
    return app


def read_documents(app: Application, user: Any) -> None:
    later = timezone.now() + datetime.timedelta(hours=1)
    for doc in required_documents(app):
        open_document(app, doc.pk, user=user)
        finish_reading(app, doc.pk, scrolled_to_end=True, user=user, now=later)


def audit_steps(app: Application, step: str) -> list[dict[str, Any]]:
    rows = AuditEntry.objects.filter(
        object_type="application", object_id=str(app.public_id), action=f"application.{step}"
    )
    return [e.after or {} for e in rows.order_by("id")]


@pytest.fixture
def user():
    return f.customer()


def test_a_confirmation_before_the_clauses_reading_time_is_refused(user) -> None:
    # given: a clause to be shown 5 seconds before it counts, shown now
    product = f.simple_product()
    timed(product, 5)
    app = accepted(user, product)
    read_documents(app, user)
    doc, clause = key_clauses(app)[0]
    shown = show_clause(app, doc.pk, clause["code"], user=user)
    # when: confirmed 2 seconds later
    with pytest.raises(ValidationFailed) as refused:
        confirm_clause(
            app, doc.pk, clause["code"], user=user, now=shown.shown_at + datetime.timedelta(seconds=2)
        )
    # then: refused on reading_time, nothing recorded; 5 seconds after showing it counts
    assert [(e.field, e.code) for e in refused.value.errors] == [("reading_time", "too_short")]
    assert "需阅读至少5秒，还需3秒" in refused.value.errors[0].message
    assert ClauseConfirmation.objects.get().confirmed_at is None
    row = confirm_clause(
        app, doc.pk, clause["code"], user=user, now=shown.shown_at + datetime.timedelta(seconds=5)
    )
    assert row.confirmed_at == shown.shown_at + datetime.timedelta(seconds=5)
    assert audit_steps(app, "clause_confirmed")[-1]["seconds_shown"] == 5


def test_a_clause_shared_by_the_products_of_a_bundle_is_asked_once_and_recorded_for_each(user) -> None:
    # given: three products whose terms (three different texts) hold the same clause 酒后驾驶不赔。,
    # the first also a clause of its own
    own = {"code": "own", "kind": "other", "title": "本产品特别约定", "text": "仅限本人驾驶。"}
    products = [f.simple_product() for _ in range(3)]
    timed(products[0], 0, extra=[own])
    app = accepted(user, *products)
    read_documents(app, user)
    docs = required_documents(app)
    assert len(docs) == 3 and len(key_clauses(app)) == 4
    # when: the shared clause is confirmed once, then the next one shown
    first = show_next_clause(app, user=user)
    assert first is not None and first.clause_code == "exclusion-1"
    _row, shown = confirm_clause_and_show_next(app, first.document_id, "exclusion-1", user=user)
    # then: the next clause is the first product's own, and the shared one is confirmed for
    # every product, one row and one audit line each naming the confirmation it shares
    assert shown is not None and shown.clause_code == "own"
    rows = {r.document_id: r for r in ClauseConfirmation.objects.filter(clause_code="exclusion-1")}
    assert set(rows) == {d.pk for d in docs} and all(r.confirmed_at for r in rows.values())
    lines = audit_steps(app, "clause_confirmed")
    assert [line["document"] for line in lines] == [d.pk for d in docs]
    assert "shared_with" not in lines[0]
    assert all(line["shared_with"] == {"document": docs[0].pk, "clause": "exclusion-1"} for line in lines[1:])
    # and: one more confirmation finishes the clauses (three products, two questions)
    confirm_clause(app, shown.document_id, "own", user=user)
    assert disclosure_progress(app)["complete"]


def test_several_clauses_confirmed_in_one_call_each_with_its_own_record(user) -> None:
    # given: two clauses without a minimum time
    extra = {"code": "second", "kind": "other", "title": "第二条", "text": "第二条内容。"}
    product = f.simple_product()
    timed(product, 0, extra=[extra])
    app = accepted(user, product)
    read_documents(app, user)
    doc = required_documents(app)[0]
    # when: both are confirmed in one call
    rows = confirm_clauses(app, [(doc.pk, "exclusion-1"), (doc.pk, "second")], user=user)
    # then: each has its row and its audit line
    assert [r.clause_code for r in rows] == ["exclusion-1", "second"] and all(r.confirmed_at for r in rows)
    assert [line["clause"] for line in audit_steps(app, "clause_confirmed")] == [
        "exclusion-1",
        "second",
    ]


def test_one_call_with_a_clause_not_read_long_enough_records_nothing(user) -> None:
    # given: two clauses of 10 seconds each, the first shown 10 seconds ago
    extra = {
        "code": "second",
        "kind": "other",
        "title": "第二条",
        "text": "第二条内容。",
        "min_read_seconds": 10,
    }
    product = f.simple_product()
    timed(product, 10, extra=[extra])
    app = accepted(user, product)
    read_documents(app, user)
    doc = required_documents(app)[0]
    shown = show_clause(app, doc.pk, "exclusion-1", user=user)
    # when: both are confirmed at once (the second would start its clock only now)
    with pytest.raises(ValidationFailed) as refused:
        confirm_clauses(
            app,
            [(doc.pk, "exclusion-1"), (doc.pk, "second")],
            user=user,
            now=shown.shown_at + datetime.timedelta(seconds=10),
        )
    # then: the refusal names the second clause's reading time; the first is not confirmed either
    assert [(e.field, e.code) for e in refused.value.errors] == [("clauses[1].reading_time", "too_short")]
    assert not ClauseConfirmation.objects.filter(confirmed_at__isnull=False).exists()


# --- the API ---------------------------------------------------------------------------------------


def api_post(client: Client, path: str, body: Any) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json")


def test_the_api_confirms_several_clauses_and_answers_bad_input_in_the_error_shape(user) -> None:
    extra = {"code": "second", "kind": "other", "title": "第二条", "text": "第二条内容。"}
    product = f.simple_product()
    timed(product, 0, extra=[extra])
    app = accepted(user, product)
    read_documents(app, user)
    doc = required_documents(app)[0]
    client = Client()
    client.force_login(user)
    path = f"/api/v1/applications/{app.public_id}/clauses/confirm"
    # an unknown clause: 422 naming it, nothing recorded
    bad = api_post(
        client,
        path,
        {
            "clauses": [
                {"document_id": doc.pk, "code": "exclusion-1"},
                {"document_id": doc.pk, "code": "nope"},
            ]
        },
    )
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        {"field": "clauses[1].clause", "code": "unknown_clause", "message": "该条款不属于此投保单"}
    ]
    assert not ClauseConfirmation.objects.filter(confirmed_at__isnull=False).exists()
    # an empty list and a malformed body: 422 in the same shape
    empty = api_post(client, path, {"clauses": []})
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "clauses"
    malformed = api_post(client, path, {"clauses": [{"document_id": "x"}]})
    assert malformed.status_code == 422 and {"code", "message", "errors"} <= set(malformed.json())
    # both at once
    ok = api_post(
        client,
        path,
        {
            "clauses": [
                {"document_id": doc.pk, "code": "exclusion-1"},
                {"document_id": doc.pk, "code": "second"},
            ]
        },
    )
    assert ok.status_code == 200, ok.json()
    assert [(c["code"], c["state"]) for c in ok.json()["clauses"]] == [
        ("exclusion-1", "confirmed"),
        ("second", "confirmed"),
    ]
    state = client.get(f"/api/v1/applications/{app.public_id}").json()
    assert state["next_step"] != "confirm_clauses"


def test_the_api_refuses_an_early_confirmation_and_tells_the_seconds_left(user) -> None:
    product = f.simple_product()
    timed(product, 30)
    app = accepted(user, product)
    read_documents(app, user)
    doc = required_documents(app)[0]
    client = Client()
    client.force_login(user)
    base = f"/api/v1/applications/{app.public_id}/clauses/{doc.pk}/exclusion-1"
    shown = client.post(f"{base}/show").json()
    assert shown["min_read_seconds"] == 30 and 29 <= shown["seconds_left"] <= 30
    early = client.post(f"{base}/confirm")
    assert early.status_code == 422 and early.json()["errors"][0]["field"] == "reading_time"
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=31)):
        assert client.post(f"{base}/confirm").json()["state"] == "confirmed"


# --- the page ------------------------------------------------------------------------------------


def test_every_clause_is_on_one_page_and_htmx_opens_the_next_in_place(user) -> None:
    # given: two products holding the same clause, the first one more clause
    own = {
        "code": "own",
        "kind": "other",
        "title": "本产品特别约定",
        "text": "仅限本人驾驶。",
        "min_read_seconds": 20,
    }
    products = [f.simple_product(), f.simple_product()]
    for product, name in zip(products, ("甲意外险", "乙意外险"), strict=True):
        Product.objects.filter(pk=product.pk).update(name=name)
    timed(products[0], 0, extra=[own])
    app = accepted(user, *products)
    read_documents(app, user)
    docs = required_documents(app)
    client = Client()
    client.force_login(user)
    page = reverse("application:clause", args=[app.public_id, docs[0].pk, "exclusion-1"])
    # when: the page opens
    html = client.get(page).content.decode()
    # then: both questions on it (the shared one once, with the products it applies to)
    assert html.count('data-testid="clause-text"') == 2 and html.count("酒后驾驶不赔。") == 1
    assert "同时适用于：甲意外险、乙意外险" in html and "请逐条阅读并确认以下2项重要条款（已确认0项）" in html
    # when: the first is confirmed through htmx
    answer = client.post(page, HTTP_HX_REQUEST="true")
    # then: the same page comes back with the next clause open and its 20 seconds counting
    own_url = reverse("application:clause", args=[app.public_id, docs[0].pk, "own"])
    assert answer.status_code == 200 and answer["HX-Push-Url"] == own_url
    text = answer.content.decode()
    assert ("已确认1项" in text and 'data-hold="20"' in text) or 'data-hold="19"' in text
    # an early confirmation is shown in place (htmx swaps only a 2xx answer)
    early = client.post(own_url, HTTP_HX_REQUEST="true")
    assert early.status_code == 200 and "需阅读至少20秒" in early.content.decode()
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=21)):
        done = client.post(own_url, HTTP_HX_REQUEST="true")
    # the last one: the browser goes on to the signature
    assert done.status_code == 204 and done["HX-Redirect"].endswith("/sign/")
    assert disclosure_progress(app)["complete"]
