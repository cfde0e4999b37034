"""The application state is read once per request, and never from a stale copy: what `save_data`
changes (the applicant's ID, the insured persons and with them the items and the signatures
needed) shows at once, and the identity check remembered on an instance follows its ID number."""

from __future__ import annotations

from typing import Any

import pytest

from huibao.application import schemas, services
from huibao.application.tests import factories as f

pytestmark = pytest.mark.django_db

SPOUSE_NAME = "李红"
CONSENT_RULES = {"signature": "confirmation", "insured_consent": "death_cover_other_adult", "max_insured": 2}


def _spouse(spouse_id: str) -> services.InsuredInput:
    return services.InsuredInput(relation="spouse", name=SPOUSE_NAME, id_number=spouse_id)


def _state(app: Any, user: Any) -> dict[str, Any]:
    return schemas.application_out(app, user=user)


def test_identity_follows_a_changed_applicant_id() -> None:
    user = f.customer()
    product = f.simple_product()
    app = services.start_application(quote_ids=[f.quote(product, user).pk], user=user)
    first = f.data()
    app = services.save_data(app, first, actor=user)
    app = services.verify_identity(
        app, name=first.applicant.name, id_number=first.applicant.id_number, user=user
    )
    assert services.identity_is_current(app)
    assert _state(app, user)["identity"]["verified"] is True
    assert _state(app, user)["next_step"] == "confirm"

    # The same instance, its ID number changed: the remembered answer is not reused.
    other_id = f.resident_id(f.years_ago(40))
    original = app.applicant_id_number
    app.applicant_id_number = other_id
    assert not services.identity_is_current(app)
    app.applicant_id_number = original
    assert services.identity_is_current(app)

    changed = services.save_data(app, f.data(applicant_id=other_id), actor=user)
    state = _state(changed, user)
    assert state["identity"] == {"verified": False, "verified_at": None}
    assert state["next_step"] == "verify_identity"


def test_state_shows_the_insured_persons_save_data_changed() -> None:
    user = f.customer()
    product = f.simple_product(rules=CONSENT_RULES)
    app = services.start_application(quote_ids=[f.quote(product, user).pk], user=user)
    app = services.save_data(app, f.data(), actor=user)
    state = _state(app, user)
    assert [(p["position"], p["relation"]) for p in state["insured"]] == [(1, "self")]
    assert [(i["position"], i["insured_position"]) for i in state["items"]] == [(1, 1)]
    assert [(s["role"], s["insured_position"]) for s in state["signatures"]] == [("applicant", None)]

    spouse_id = f.resident_id(f.years_ago(33), male=False)
    two = f.data(insured=[services.InsuredInput(relation="self"), _spouse(spouse_id)])
    app = services.save_data(app, two, actor=user)
    state = _state(app, user)
    assert [(p["position"], p["relation"]) for p in state["insured"]] == [(1, "self"), (2, "spouse")]
    assert [(i["position"], i["insured_position"]) for i in state["items"]] == [(1, 1), (2, 2)]
    assert [(s["role"], s["insured_position"], s["name"]) for s in state["signatures"]] == [
        ("applicant", None, f.APPLICANT_NAME),
        ("insured", 2, SPOUSE_NAME),
    ]
    assert state["total_premium"] == "200.00"

    app = services.save_data(app, f.data(insured=[_spouse(spouse_id)]), actor=user)
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
    assert services.data_digest(app) == services.data_digest(type(app).objects.get(pk=app.pk))


def test_the_state_of_a_signed_application_reads_each_thing_once(django_assert_max_num_queries: Any) -> None:
    user = f.customer()
    app = f.to_signed(f.simple_product(), user)
    fresh = type(app).objects.get(pk=app.pk)
    # items, documents, readings, clause confirmations, identity check, signatures, insured
    # persons, their beneficiaries, policies (no payment yet, no face check).
    with django_assert_max_num_queries(9):
        state = _state(fresh, user)
    assert state["next_step"] == "pay"
    assert state["documents"] and all(d["state"] == "read" for d in state["documents"])
    assert all(c["state"] == "confirmed" for c in state["clauses"])
    assert [s["signed"] for s in state["signatures"]] == [True]
