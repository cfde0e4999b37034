"""The application state is read once per request, and never from a stale copy: what `save_data`
changes (the applicant's ID, the insured persons and with them the items and the signatures
needed) shows at once, and the identity check remembered on an instance follows its ID number."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from huibao.application.api import presenters
from huibao.application.rules import BeneficiaryInput, InsuredInput
from huibao.application.selectors import data_digest, get_for_user, identity_is_current, required_documents
from huibao.application.services.data import save_data
from huibao.application.services.identity import verify_identity
from huibao.application.services.start import start_application
from huibao.application.tests import factories as f
from huibao.catalog.models import Document, ProductVersion, VersionStatus

pytestmark = pytest.mark.django_db

SPOUSE_NAME = "李红"
CONSENT_RULES = {"signature": "confirmation", "insured_consent": "death_cover_other_adult", "max_insured": 2}


def _spouse(spouse_id: str) -> InsuredInput:
    return InsuredInput(relation="spouse", name=SPOUSE_NAME, id_number=spouse_id)


def _state(app: Any, user: Any) -> dict[str, Any]:
    return presenters.application_out(app, user=user)


def test_identity_follows_a_changed_applicant_id() -> None:
    user = f.customer()
    product = f.simple_product()
    app = start_application(quote_ids=[f.quote(product, user).pk], user=user)
    first = f.data()
    app = save_data(app, first, actor=user)
    app = verify_identity(app, name=first.applicant.name, id_number=first.applicant.id_number, user=user)
    assert identity_is_current(app)
    assert _state(app, user)["identity"]["verified"] is True
    assert _state(app, user)["next_step"] == "confirm"

    # The same instance, its ID number changed: the remembered answer is not reused.
    other_id = f.resident_id(f.years_ago(40))
    original = app.applicant_id_number
    app.applicant_id_number = other_id
    assert not identity_is_current(app)
    app.applicant_id_number = original
    assert identity_is_current(app)

    changed = save_data(app, f.data(applicant_id=other_id), actor=user)
    state = _state(changed, user)
    assert state["identity"] == {"verified": False, "verified_at": None}
    assert state["next_step"] == "verify_identity"


def test_state_shows_the_insured_persons_save_data_changed() -> None:
    user = f.customer()
    product = f.simple_product(rules=CONSENT_RULES)
    app = start_application(quote_ids=[f.quote(product, user).pk], user=user)
    app = save_data(app, f.data(), actor=user)
    state = _state(app, user)
    assert [(p["position"], p["relation"]) for p in state["insured"]] == [(1, "self")]
    assert [(i["position"], i["insured_position"]) for i in state["items"]] == [(1, 1)]
    assert [(s["role"], s["insured_position"]) for s in state["signatures"]] == [("applicant", None)]

    spouse_id = f.resident_id(f.years_ago(33), male=False)
    two = f.data(insured=[InsuredInput(relation="self"), _spouse(spouse_id)])
    app = save_data(app, two, actor=user)
    state = _state(app, user)
    assert [(p["position"], p["relation"]) for p in state["insured"]] == [(1, "self"), (2, "spouse")]
    assert [(i["position"], i["insured_position"]) for i in state["items"]] == [(1, 1), (2, 2)]
    assert [(s["role"], s["insured_position"], s["name"]) for s in state["signatures"]] == [
        ("applicant", None, f.APPLICANT_NAME),
        ("insured", 2, SPOUSE_NAME),
    ]
    assert state["total_premium"] == "200.00"

    app = save_data(app, f.data(insured=[_spouse(spouse_id)]), actor=user)
    state = _state(app, user)
    assert [(p["position"], p["relation"], p["name"]) for p in state["insured"]] == [
        (1, "spouse", SPOUSE_NAME)
    ]
    assert [(i["position"], i["insured_position"]) for i in state["items"]] == [(1, 1)]
    assert [(s["role"], s["insured_position"]) for s in state["signatures"]] == [
        ("applicant", None),
        ("insured", 1),
    ]
    assert state["total_premium"] == "100.00"
    assert data_digest(app) == data_digest(type(app).objects.get(pk=app.pk))


def test_the_state_of_a_signed_application_reads_each_thing_once(django_assert_max_num_queries: Any) -> None:
    user = f.customer()
    app = f.to_signed(f.simple_product(), user)
    fresh = type(app).objects.get(pk=app.pk)
    # items, readings, clause confirmations, identity check, signatures, insured persons, their
    # beneficiaries (the published version's documents were read on the way; no policies before
    # issuance, no payment yet, no face check).
    with django_assert_max_num_queries(7):
        state = _state(fresh, user)
    assert state["next_step"] == "pay"
    assert state["documents"] and all(d["state"] == "read" for d in state["documents"])
    assert all(c["state"] == "confirmed" for c in state["clauses"])
    assert [s["signed"] for s in state["signatures"]] == [True]


def _tables_read(queries: CaptureQueriesContext) -> str:
    return " ".join(q["sql"] for q in queries.captured_queries)


def test_a_draft_state_reads_no_signatures_nor_policies() -> None:
    # given an application being filled in (no signature and no policy can exist yet)
    user = f.customer()
    app = start_application(quote_ids=[f.quote(f.simple_product(), user).pk], user=user)
    app = save_data(app, f.data(), actor=user)
    # when its state is read
    with CaptureQueriesContext(connection) as queries:
        state = _state(type(app).objects.get(pk=app.pk), user)
    # then neither table is asked, and the state still lists the signature to come
    assert "application_signature" not in _tables_read(queries)
    assert "policy_policy" not in _tables_read(queries)
    assert [(s["role"], s["signed"]) for s in state["signatures"]] == [("applicant", False)]
    assert state["policies"] == []


def test_documents_of_a_published_version_are_read_once_per_process() -> None:
    # given an application on a published version whose documents were read once
    user = f.customer()
    app = start_application(quote_ids=[f.quote(f.simple_product(), user).pk], user=user)
    first = required_documents(app)
    # when they are needed again, by a use-case and by the state
    with CaptureQueriesContext(connection) as queries:
        again = required_documents(app)
        state = _state(type(app).objects.get(pk=app.pk), user)
    # then they are not read again, and are the same documents in the same order
    assert "catalog_document" not in _tables_read(queries)
    assert [d.pk for d in again] == [d.pk for d in first]
    assert [d["id"] for d in state["documents"]] == [d.pk for d in first]


def test_documents_of_a_draft_version_are_read_on_every_call() -> None:
    # given an application whose version is (still) a draft, its documents read once
    user = f.customer()
    app = start_application(quote_ids=[f.quote(f.simple_product(), user).pk], user=user)
    version_id = app.items.get().product_version_id
    ProductVersion.objects.filter(pk=version_id).update(status=VersionStatus.DRAFT)
    doc = required_documents(app)[0]
    # when a document of the draft changes
    Document.objects.filter(pk=doc.pk).update(title="修改后的条款")
    # then the next read shows the change
    assert required_documents(app)[0].title == "修改后的条款"
    state = _state(type(app).objects.get(pk=app.pk), user)
    assert state["documents"][0]["title"] == "修改后的条款"


def _detail(app: Any, user: Any) -> dict[str, Any]:
    """The state as `GET /applications/{id}` answers it: the application read by `get_for_user`."""
    return _state(get_for_user(app.public_id, user), user)


def test_the_detail_takes_the_insured_persons_from_the_items() -> None:
    # given a signed application of one insured person, no beneficiary named
    user = f.customer()
    app = f.to_signed(f.simple_product(), user)
    # when its state is read as the detail reads it
    with CaptureQueriesContext(connection) as queries:
        state = _detail(app, user)
    # then the insured persons are not read on their own (they came with the items), and the
    # answer is the one of a state whose persons are read from their table
    assert not [
        q for q in queries.captured_queries if q["sql"].startswith('SELECT "application_insuredperson"')
    ]
    assert len(queries.captured_queries) <= 5
    fresh = _state(type(app).objects.get(pk=app.pk), user)
    assert state["insured"] == fresh["insured"]
    assert state["signatures"] == fresh["signatures"]
    assert [p["relation"] for p in state["insured"]] == ["self"]
    assert state["insured"][0]["name"] == f.APPLICANT_NAME


def test_the_detail_reads_named_beneficiaries() -> None:
    # given an application whose insured person names two beneficiaries
    user = f.customer()
    product = f.simple_product(rules={"signature": "confirmation", "beneficiary": "named_allowed"})
    app = start_application(quote_ids=[f.quote(product, user).pk], user=user)
    wife = f.resident_id(f.years_ago(33), male=False)
    son = f.resident_id(f.years_ago(5))
    insured = [
        InsuredInput(
            relation="self",
            beneficiaries=[
                BeneficiaryInput("李红", wife, "spouse", "60"),
                BeneficiaryInput("王小小", son, "child", "40"),
            ],
        )
    ]
    save_data(app, f.data(insured=insured, beneficiary_mode="named"), actor=user)
    # when the detail is read
    state = _detail(app, user)
    # then it shows them, as a state read afresh does
    shown = state["insured"][0]["beneficiaries"]
    assert [(b["name"], b["share_percent"]) for b in shown] == [("李红", "60.00"), ("王小小", "40.00")]
    assert state["insured"] == _state(type(app).objects.get(pk=app.pk), user)["insured"]
