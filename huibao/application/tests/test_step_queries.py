"""Each step of the `/api/v1` flow reads what it needs once: the application row once, under its
lock (a stranger still gets 404 first, and nothing of theirs is read); the state answer uses what
the use-case already loaded, and is the same as the state read afresh; the payment notification
issues the policy without reading the application twice. The query counts are pinned so a
regression shows."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest
from django.db import connection
from django.test import Client, TestCase
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from huibao.application.api import presenters
from huibao.application.models import Application
from huibao.application.rules import InsuredInput
from huibao.application.selectors import required_documents
from huibao.application.services.confirm import confirm, drop_declined_items
from huibao.application.services.data import save_data
from huibao.application.services.disclosure import open_document
from huibao.application.services.identity import verify_identity
from huibao.application.services.sign import sign
from huibao.application.services.start import start_application
from huibao.application.states import ApplicationStatus
from huibao.application.tests import factories as f
from huibao.catalog.models import Document
from huibao.core.errors import NotFound
from huibao.esign.tests.ink import write
from huibao.identity import services as identity_services
from huibao.payment.tests.factories import GOOD_CARD, client_transport
from huibao.sandbox import notifications
from huibao.sandbox import payment as sandbox

pytestmark = pytest.mark.django_db

BASE = "/api/v1/applications"
SPOUSE_NAME = "李晓"
CONSENT_RULES = {"signature": "confirmation", "insured_consent": "death_cover_other_adult", "max_insured": 2}

# Queries per request in this test, at most (the session, savepoints, audit entries and the
# sandbox identity provider's and pay page's own rows included; the user is not read: the
# request's user comes from the cache, account/usercache.py — one less each since).
MAX_QUERIES = {
    "start": 7,
    # 11 after the locked read told what the step need not read; + 2 since quotes have a short
    # unique number: the re-priced quote's insert ran in a savepoint (SAVEPOINT + RELEASE), so a
    # clash of numbers took another instead of taking the request down; − 2 since that insert is
    # one INSERT … ON CONFLICT DO NOTHING (rating.services.save_new_quote)
    "data": 10,
    # − 1 since the verified check is recorded by one conditional UPDATE when the application did
    # not change while the provider was asked (no second locked read)
    "identity": 15,
    # − 1 since the insured persons come with the items (the locked read counts them)
    "confirm": 11,
    "open": 7,
    "read": 7,
    "clause_show": 8,
    "clause_confirm": 7,
    # answered with the next clause, shown (`?show_next=true`): one lock and one read of the clause
    # rows serve both halves
    "read_next": 9,
    "clause_confirm_next": 7,
    # 10 since the insured persons come with the items (the locked read counts them)
    "sign": 10,
    # 9 since the payment is written once, already pending with its checkout (no UPDATE after
    # the INSERT)
    "pay": 9,
    # 23 this morning; the policy's own party rows (one INSERT) came with the layering, its first
    # status-history row (one INSERT for all the items) with the lifecycle; 18 since the policy
    # number is one UPDATE … RETURNING and the policies so far are not read; 19 since issuance
    # checks that an active agreement still covers every product (one read for all the items); 27
    # with the ledger's booking of the premium in the same transaction (finance/postings.py: the
    # payment, the keys posted, the insurer's agreements, the accounts, SAVEPOINT, two INSERTs,
    # RELEASE); 29 with the commission entries of the issued policy (the insurer's plans, the seller);
    # 19 since those are booked by a job after the commit (finance/booking.py); 18 since the
    # agreement check reads the coverage with the items issuance reads; the partners' webhooks
    # read no partner here (their roster is cached until a partner changes: partner/roster.py)
    "notify": 18,
    # 10; 9 without the user; 8 since the current payment comes with the application's read; 7
    # since an issued application's policies come with its items; 6 since the insured persons
    # come with them too (the application's read counts them)
    "detail": 6,
}
# What runs once the notification's transaction commits, in the same request: the e-policy, the
# insurer delivery and the finance booking job queued together, one INSERT.
AFTER_COMMIT = {"notify": 1}
AFTER_ISSUANCE = (
    "huibao.policy.tasks.render_epolicy_task",
    "huibao.policy.tasks.deliver_policy",
    "huibao.finance.tasks.book_issuance",
)


@pytest.fixture(autouse=True)
def _gateway_posts_through_the_test_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notifications, "http_post", client_transport(Client()))


@pytest.fixture(autouse=True)
def _users_from_the_cache(settings: Any) -> None:
    """As in production with Redis: the request's user from the cache (one process here, so the
    per-process cache sees every change)."""
    settings.HUIBAO_USER_CACHE_SECONDS = 300


class Calls:
    """A logged-in customer's JSON calls, each one's queries kept by step."""

    def __init__(self, user: Any) -> None:
        self.client = Client()
        self.client.force_login(user)
        self.queries: dict[str, list[list[str]]] = {}

    def call(self, step: str, method: str, path: str, body: Any = None) -> Any:
        with CaptureQueriesContext(connection) as captured:
            response = self.client.generic(
                method, path, json.dumps(body) if body is not None else "", content_type="application/json"
            )
        self.queries.setdefault(step, []).append([q["sql"] for q in captured.captured_queries])
        assert response.status_code < 300, (step, response.status_code, response.content[:300])
        return response.json()


def _data_body(applicant_id: str, insured: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "applicant": {"name": f.APPLICANT_NAME, "id_number": applicant_id, "phone": "13900001111"},
        "insured": insured or [{"relation": "self"}],
        "beneficiary_mode": "legal",
    }


def _signature_body(signer: dict[str, Any]) -> dict[str, Any]:
    if signer["method"] == "handwritten":
        return {
            "role": signer["role"],
            "insured_position": signer["insured_position"],
            "ink": write(signer["name"]),
        }
    return {"role": signer["role"], "insured_position": signer["insured_position"], "confirmed": True}


def _reads(sqls: list[str]) -> Counter[str]:
    """Reads of rows by table: the SELECTs whose columns start with the table's id (not the
    checks across applications the underwriting runs, nor single-column look-ups)."""
    found: Counter[str] = Counter()
    for sql in sqls:
        match = re.match(r'\s*SELECT "(\w+)"\."id", ', sql)
        if match:
            found[match.group(1)] += 1
    return found


def _walk(calls: Calls, product: Any, *, show_next: bool = False) -> None:
    """The whole flow, from the quote to the issued policy; with `show_next`, as the bench's
    client goes: the reading and each clause confirmation answered with the next clause, shown."""
    applicant_id = f.resident_id(f.years_ago(35))
    quote = calls.call(
        "quote",
        "POST",
        "/api/v1/quotes",
        {"product_code": product.code, "plan_code": "basic", "inputs": {"age": 30}},
    )
    state = calls.call("start", "POST", BASE, {"quote_ids": [quote["id"]], "channel": "app"})
    url = f"{BASE}/{state['id']}"
    calls.call("data", "PUT", f"{url}/data", _data_body(applicant_id))
    calls.call("identity", "POST", f"{url}/identity", {"name": f.APPLICANT_NAME, "id_number": applicant_id})
    state = calls.call("confirm", "POST", f"{url}/confirm")
    if show_next:
        shown = None
        for doc in state["documents"]:
            calls.call("open", "POST", f"{url}/documents/{doc['id']}/open")
            answer = calls.call(
                "read_next",
                "POST",
                f"{url}/documents/{doc['id']}/read?show_next=true",
                {"scrolled_to_end": True},
            )
            shown = shown or answer["next_clause"]
        assert shown is not None
        while shown is not None:
            clause_url = f"{url}/clauses/{shown['document_id']}/{shown['code']}"
            shown = calls.call("clause_confirm_next", "POST", f"{clause_url}/confirm?show_next=true")[
                "next_clause"
            ]
    for doc in [] if show_next else state["documents"]:
        calls.call("open", "POST", f"{url}/documents/{doc['id']}/open")
        calls.call("read", "POST", f"{url}/documents/{doc['id']}/read", {"scrolled_to_end": True})
    for clause in [] if show_next else state["clauses"]:
        clause_url = f"{url}/clauses/{clause['document_id']}/{clause['code']}"
        calls.call("clause_show", "POST", f"{clause_url}/show")
        calls.call("clause_confirm", "POST", f"{clause_url}/confirm")
    for signer in state["signatures"]:
        calls.call("sign", "POST", f"{url}/signatures", _signature_body(signer))
    payment = calls.call("pay", "POST", f"{url}/payment")
    page = Client().post(
        payment["checkout_url"],
        {
            "payer_name": f.APPLICANT_NAME,
            "id_number": applicant_id,
            "card_number": GOOD_CARD,
            "action": "pay",
        },
    )
    assert page.status_code == 302  # paid: the cashier sends the payer back to our pay page
    with (
        CaptureQueriesContext(connection) as captured,
        TestCase.captureOnCommitCallbacks(execute=False) as after_commit,
    ):
        assert sandbox.deliver(payment["checkout_url"].rstrip("/").rsplit("/", 1)[1])
    calls.queries["notify"] = [[q["sql"] for q in captured.captured_queries]]
    # The test's transaction never commits: what the commit would run, run as it would.
    with CaptureQueriesContext(connection) as committed:
        for callback in after_commit:
            callback()
    calls.queries["notify_after_commit"] = [[q["sql"] for q in committed.captured_queries]]
    assert calls.call("detail", "GET", url)["status"] == "issued"


@pytest.mark.parametrize("show_next", [False, True])
def test_each_step_reads_the_application_once_and_stays_within_its_queries(show_next: bool) -> None:
    # given a customer and a product with one document and one key clause, who went through the
    # flow once (what is read once per process is read: page template versions, documents)
    product = f.simple_product(min_read_seconds=0)
    _walk(Calls(f.customer()), product, show_next=show_next)
    calls = Calls(f.customer("13900003333"))
    # when they go from the quote to the issued policy again (reading and confirming each clause
    # apart, or each answered with the next clause)
    _walk(calls, product, show_next=show_next)
    # then no step asks more than pinned, and each reads the application row once, under its lock
    # when it changes it
    counts = {step: max(len(q) for q in runs) for step, runs in calls.queries.items()}
    over = {step: (counts[step], most) for step, most in MAX_QUERIES.items() if counts.get(step, 0) > most}
    assert not over, over
    # and after the notification's commit, one insert queues its jobs, the booking among them
    after = {step: counts[f"{step}_after_commit"] for step in AFTER_COMMIT}
    assert after == AFTER_COMMIT, after
    # (the two walks' issuances: each its e-policy, its delivery and its booking job)
    queued = Counter(DBTaskResult.objects.values_list("task_path", flat=True))
    assert {path: queued[path] for path in AFTER_ISSUANCE} == dict.fromkeys(AFTER_ISSUANCE, 2), queued
    # and the final read of the state reads neither the payment (it comes with the application's
    # row) nor the policies (with the items) apart
    for sqls in calls.queries["detail"]:
        assert not [
            q for q in sqls if q.lstrip().startswith(('SELECT "payment_payment"', 'SELECT "policy_policy"'))
        ]
    # and the payment notification does not read the partners for their webhooks (the roster,
    # empty here, was read once by the first walk and is cached)
    assert all(_reads(sqls)["partner_partner"] == 0 for sqls in calls.queries["notify"])
    for step, runs in calls.queries.items():
        if step in ("quote", "start") or step.endswith("_after_commit"):
            continue
        # The identity check is recorded after the provider answered by one conditional UPDATE
        # (the application did not change meanwhile): no second read.
        for sqls in runs:
            assert _reads(sqls)["application_application"] == 1, step
            if step != "detail" and connection.features.has_select_for_update:
                first = next(
                    q for q in sqls if q.lstrip().startswith('SELECT "application_application"."id", ')
                )
                assert first.rstrip().endswith("FOR UPDATE"), (step, first)


def test_the_state_of_sign_and_confirm_reads_nothing_the_use_case_had() -> None:
    # given a customer who went through the flow
    calls = Calls(f.customer())
    _walk(calls, f.simple_product(min_read_seconds=0))
    # then signing reads each of these once, for its checks and its answer together
    sign = _reads(calls.queries["sign"][0])
    for table in (
        "application_applicationitem",
        "application_disclosurereading",
        "application_clauseconfirmation",
    ):
        assert sign[table] == 1, (table, sign)
    # and its insured persons come with the items: the locked read counts them, so none is read
    # apart (as confirm below)
    assert sign["application_insuredperson"] == 0, sign
    # and not the signatures: the application's locked read tells there is none yet
    assert sign["application_signature"] == 0, sign
    # and neither the identity check nor beneficiaries (there is none): the application's locked
    # read brings the check's status and whether any beneficiary is named
    assert sign["identity_identitycheck"] == 0 and sign["application_beneficiary"] == 0, sign
    # and confirming reads the items once, with their insured persons (the underwriting included):
    # the locked read tells they are all the application's persons, so none is read apart
    confirm = _reads(calls.queries["confirm"][0])
    assert confirm["application_applicationitem"] == 1 and confirm["application_insuredperson"] == 0, confirm
    assert confirm["application_signature"] == 0  # confirmed from a draft: there is none
    # and the payment notification reads neither the documents (published: cached) nor the
    # policies (the application moves from awaiting payment to issued under its lock: it has none)
    notify = _reads(calls.queries["notify"][0])
    assert notify["application_application"] == 1 and notify["policy_policy"] == 0, notify
    assert notify["catalog_document"] == 0, notify


@pytest.mark.parametrize("two_insured", [False, True])
def test_states_match_step_by_step(two_insured: bool) -> None:
    # given a customer going through the flow (for two insured, one item each, and the spouse's
    # consent to sign as well)
    user = f.customer()
    product = f.simple_product(min_read_seconds=0, rules=CONSENT_RULES if two_insured else None)
    client = Client()
    client.force_login(user)

    def call(method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = client.generic(
            method, path, json.dumps(body) if body is not None else "", content_type="application/json"
        )
        assert response.status_code < 300, response.content[:300]
        return dict(response.json())

    def afresh(url: str) -> dict[str, Any]:
        return call("GET", url)

    applicant_id = f.resident_id(f.years_ago(35))
    insured: list[dict[str, Any]] = [{"relation": "self"}]
    if two_insured:
        insured.append(
            {
                "relation": "spouse",
                "name": SPOUSE_NAME,
                "id_number": f.resident_id(f.years_ago(33), male=False),
            }
        )
    quote = call(
        "POST", "/api/v1/quotes", {"product_code": product.code, "plan_code": "basic", "inputs": {"age": 30}}
    )
    # when each step answers its state, then it is the state a GET reads afresh right after
    state = call("POST", BASE, {"quote_ids": [quote["id"]], "channel": "app"})
    url = f"{BASE}/{state['id']}"
    assert state == afresh(url)
    state = call("PUT", f"{url}/data", _data_body(applicant_id, insured))
    assert state == afresh(url)
    # a change of the data (one insured fewer or more) answers the state it made
    changed = call("PUT", f"{url}/data", _data_body(applicant_id, insured[:1] if two_insured else insured))
    assert changed == afresh(url)
    state = call("PUT", f"{url}/data", _data_body(applicant_id, insured))
    assert state == afresh(url)
    state = call("POST", f"{url}/identity", {"name": f.APPLICANT_NAME, "id_number": applicant_id})
    assert state == afresh(url)
    state = call("POST", f"{url}/confirm")
    assert state == afresh(url)
    for doc in state["documents"]:
        call("POST", f"{url}/documents/{doc['id']}/open")
        call("POST", f"{url}/documents/{doc['id']}/read", {"scrolled_to_end": True})
    for clause in state["clauses"]:
        clause_url = f"{url}/clauses/{clause['document_id']}/{clause['code']}"
        call("POST", f"{clause_url}/show")
        call("POST", f"{clause_url}/confirm")
    signers = state["signatures"]
    assert len(signers) == (2 if two_insured else 1)
    for signer in signers:
        state = call("POST", f"{url}/signatures", _signature_body(signer))
        assert state == afresh(url)
    assert state["status"] == "signed"
    # an amendment after signing sends it back to draft, and answers that state
    state = call("PUT", f"{url}/data", _data_body(applicant_id, insured))
    assert state["status"] == "draft" and all(not s["signed"] for s in state["signatures"])
    assert state == afresh(url)


def test_what_a_use_case_left_is_used_once_and_only_while_current() -> None:
    # given an application whose data was just saved (the use-case leaves what it loaded)
    user = f.customer()
    app = start_application(quote_ids=[f.quote(f.simple_product(), user).pk], user=user)
    app = save_data(app, f.data(), actor=user)
    # when its state is answered twice
    with CaptureQueriesContext(connection) as first:
        presenters.application_out(app, user=user)
    with CaptureQueriesContext(connection) as second:
        presenters.application_out(app, user=user)
    # then the first answer uses what `save_data` loaded, the second reads afresh
    assert _reads([q["sql"] for q in first.captured_queries])["application_applicationitem"] == 0
    assert _reads([q["sql"] for q in second.captured_queries])["application_applicationitem"] == 1
    # and what was left on an instance whose data revision moved on since is not used
    app = save_data(app, f.data(), actor=user)
    app.data_revision += 1
    with CaptureQueriesContext(connection) as moved:
        presenters.application_out(app, user=user)
    assert _reads([q["sql"] for q in moved.captured_queries])["application_applicationitem"] == 1


def test_a_stranger_gets_404_before_any_other_answer() -> None:
    # given someone else's application with its data filled in
    owner = f.customer()
    app = start_application(quote_ids=[f.quote(f.simple_product(), owner).pk], user=owner)
    app = save_data(app, f.data(), actor=owner)
    stranger = Client()
    stranger.force_login(f.customer("13900002222"))
    url = f"{BASE}/{app.public_id}"
    # when the stranger calls its steps, even with an invalid ID number
    answers = [
        stranger.post(f"{url}/identity", {"name": "x", "id_number": "123"}, content_type="application/json"),
        stranger.post(f"{url}/confirm", content_type="application/json"),
        stranger.post(
            f"{url}/signatures", {"role": "applicant", "confirmed": True}, content_type="application/json"
        ),
        stranger.post(f"{url}/payment", content_type="application/json"),
        stranger.post(f"{url}/cancel", content_type="application/json"),
    ]
    # then each is 404, as if it did not exist, and nothing changed
    assert [(a.status_code, a.json()["code"]) for a in answers] == [(404, "application_not_found")] * 5
    assert Application.objects.get(pk=app.pk).status == app.status


CANCER = {"code": "cancer", "text": "是否患有恶性肿瘤？", "knock_out_answer": True}


def test_documents_follow_the_items_when_a_declined_product_is_dropped() -> None:
    # given a confirmed bundle whose second product declined the insured
    user = f.customer()
    ok = f.simple_product()
    strict = f.simple_product(health_questions=[CANCER], insurer=ok.insurer)
    app = start_application(quote_ids=[f.quote(ok, user).pk, f.quote(strict, user).pk], user=user)
    d = f.data(answers={"cancer": True})
    app = save_data(app, d, actor=user)
    app = verify_identity(app, name=d.applicant.name, id_number=d.applicant.id_number, user=user)
    app = confirm(app, user=user)
    declined_doc = Document.objects.get(version=strict.current_version)
    # when its documents are opened, twice
    open_document(app, declined_doc.pk, user=user)
    with CaptureQueriesContext(connection) as again:
        open_document(app, declined_doc.pk, user=user)
    # then the second time does not read the items' versions (published: known for this revision)
    assert not [q for q in again.captured_queries if "product_version__status" in q["sql"]]
    # and once the customer drops the declined product, its document is no longer theirs to open
    app = drop_declined_items(app, user=user)
    with pytest.raises(NotFound):
        open_document(app, declined_doc.pk, user=user)
    assert [d.version_id for d in required_documents(app)] == [ok.current_version_id]


def test_signing_again_replaces_the_signers_signature() -> None:
    # given an application that needs the applicant's and the insured spouse's signatures
    user = f.customer()
    product = f.simple_product(rules=CONSENT_RULES)
    app = start_application(quote_ids=[f.quote(product, user).pk], user=user)
    spouse = InsuredInput(
        relation="spouse", name=SPOUSE_NAME, id_number=f.resident_id(f.years_ago(33), male=False)
    )
    d = f.data(insured=[InsuredInput(relation="self"), spouse])
    app = save_data(app, d, actor=user)
    app = verify_identity(app, name=d.applicant.name, id_number=d.applicant.id_number, user=user)
    app = confirm(app, user=user)
    f.read_everything(app, user)
    # when the applicant signs twice, then the spouse
    first = sign(app, user=user, confirmed=True)
    again = sign(app, user=user, confirmed=True)
    # then the second signature replaced the first, and the application waits for the spouse
    assert first.status == again.status == ApplicationStatus.ACCEPTED
    assert list(app.signatures.values_list("role", flat=True)) == ["applicant"]
    state = presenters.application_out(again, user=user)
    assert [(s["role"], s["signed"]) for s in state["signatures"]] == [
        ("applicant", True),
        ("insured", False),
    ]
    signed = sign(app, user=user, role="insured", insured_position=2, ink=write(SPOUSE_NAME))
    assert signed.status == ApplicationStatus.SIGNED
    assert sorted(app.signatures.values_list("role", flat=True)) == ["applicant", "insured"]


def test_steps_asked_for_no_state_answer_where_it_stands_and_read_nothing_for_it() -> None:
    # given a customer with an application
    user = f.customer()
    calls = Calls(user)
    product = f.simple_product(min_read_seconds=0)
    quote = calls.call(
        "quote",
        "POST",
        "/api/v1/quotes",
        {"product_code": product.code, "plan_code": "basic", "inputs": {"age": 30}},
    )
    state = calls.call("start", "POST", BASE, {"quote_ids": [quote["id"]], "channel": "app"})
    url = f"{BASE}/{state['id']}"
    applicant_id = f.resident_id(f.years_ago(35))
    # when the data and the identity are sent asking for no state (`?state=none`)
    saved = calls.call("data", "PUT", f"{url}/data?state=none", _data_body(applicant_id))
    checked = calls.call(
        "identity",
        "POST",
        f"{url}/identity?state=none",
        {"name": f.APPLICANT_NAME, "id_number": applicant_id},
    )
    # then each answers only the application's keys and where it stands
    full = calls.call("detail", "GET", url)
    for answer in (saved, checked):
        assert set(answer) == {"id", "status", "status_label", "data_revision"}, answer
        assert (answer["id"], answer["status"], answer["data_revision"]) == (
            full["id"],
            full["status"],
            full["data_revision"],
        )
    # and what they did is done as with the whole state: the identity is verified
    assert full["identity"]["verified"] is True and full["next_step"] == "confirm"
    # and the identity step read neither the items nor the insured persons for its answer
    reads = _reads(calls.queries["identity"][0])
    assert reads["application_applicationitem"] == 0 and reads["application_insuredperson"] == 0, reads
    # and signing, asked the same way, answers the same shape
    state = calls.call("confirm", "POST", f"{url}/confirm")
    for doc in state["documents"]:
        calls.call("open", "POST", f"{url}/documents/{doc['id']}/open")
        calls.call("read", "POST", f"{url}/documents/{doc['id']}/read", {"scrolled_to_end": True})
    for clause in state["clauses"]:
        clause_url = f"{url}/clauses/{clause['document_id']}/{clause['code']}"
        calls.call("clause_show", "POST", f"{clause_url}/show")
        calls.call("clause_confirm", "POST", f"{clause_url}/confirm")
    signed = calls.call(
        "sign", "POST", f"{url}/signatures?state=none", _signature_body(state["signatures"][0])
    )
    assert signed["status"] == "signed" and set(signed) == {"id", "status", "status_label", "data_revision"}


def test_an_unknown_state_answer_is_refused_naming_the_parameter_and_nothing_changes() -> None:
    # given an application in draft
    user = f.customer()
    app = start_application(quote_ids=[f.quote(f.simple_product(), user).pk], user=user)
    client = Client()
    client.force_login(user)
    # when its data is sent asking for a state answer that does not exist
    response = client.put(
        f"{BASE}/{app.public_id}/data?state=some",
        json.dumps(_data_body(f.resident_id(f.years_ago(35)))),
        content_type="application/json",
    )
    # then it is refused in the project's error shape, naming `state`, and nothing was saved
    assert response.status_code == 422, response.content
    assert any("state" in str(e["field"]) for e in response.json()["errors"]), response.json()
    app.refresh_from_db()
    assert not app.applicant_name and not app.insured_persons.exists()


def test_an_application_changed_while_the_provider_answered_is_read_again_under_its_lock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given an application whose data is saved, and an identity provider during whose answer the
    # application changes (another tab starts its face check: a save of the row)
    user = f.customer()
    app = start_application(quote_ids=[f.quote(f.simple_product(), user).pk], user=user)
    d = f.data()
    app = save_data(app, d, actor=user)
    answer = identity_services.verify_real_name

    def answer_while_it_changes(**kwargs: Any) -> Any:
        check = answer(**kwargs)
        Application.objects.get(pk=app.pk).save(update_fields=["updated_at"])
        return check

    monkeypatch.setattr(identity_services, "verify_real_name", answer_while_it_changes)
    # when the applicant's identity is checked
    with CaptureQueriesContext(connection) as captured:
        verified = verify_identity(app, name=d.applicant.name, id_number=d.applicant.id_number, user=user)
    # then the application was read again under its lock, and the check is recorded on it
    assert _reads([q["sql"] for q in captured.captured_queries])["application_application"] >= 2
    stored = Application.objects.get(pk=app.pk)
    assert stored.identity_check_id == verified.identity_check_id is not None
    assert stored.identity_verified_at is not None
