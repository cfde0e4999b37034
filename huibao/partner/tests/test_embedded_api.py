"""The embedded-sale endpoints of the partner API, through real signed requests: one call with
good and bad sales, an async batch with good and bad rows, a proof verified with `core.merkle`,
refusals (a forged signature, an insurer partner, a product outside the client's list, another
partner's batch or policy), and the webhooks: `batch.completed` once per batch, none per policy."""

from __future__ import annotations

import dataclasses
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from huibao.core import merkle
from huibao.core.audit import compute_entry_hash, entry_from_record
from huibao.core.evidence import check_proof_in_chain, encode_leaf
from huibao.embedded import services as embedded_services
from huibao.embedded.models import EmbeddedBatch
from huibao.embedded.services import sale_to_dict
from huibao.embedded.tests import factories as f
from huibao.partner import roster, webhooks
from huibao.partner.tests.factories import (
    Credentials,
    authorization,
    channel_partner,
    get,
    hmac_client,
    insurer_partner,
    post,
)
from huibao.policy.models import Policy
from huibao.webhook.models import WebhookEvent
from huibao.webhook.services import create_endpoint

pytestmark = pytest.mark.django_db
POLICIES = "/api/partner/v1/embedded/policies"
BATCHES = "/api/partner/v1/embedded/batches"
ALL_TYPES = ["policy.issued", "policy.cancelled", "claim.paid", "payout.made", "batch.completed"]


@pytest.fixture(autouse=True)
def _http_webhooks(settings):
    settings.HUIBAO_WEBHOOK_ALLOW_HTTP = True


def _body(sales: list[Any], key: str = "sales") -> dict[str, Any]:
    return {key: [sale_to_dict(s) for s in sales]}


def _shop(products: tuple[str, ...] = (), code: str = "shop-emb") -> tuple[Credentials, Any]:
    unit = f.channel()
    partner = channel_partner(unit, code=code)
    return hmac_client(partner, scopes=["embedded:issue"], products=products, rate_limit=1000), unit


def test_a_channel_issues_its_sales_in_one_signed_call_each_accepted_or_refused_on_its_own():
    # given
    product = f.return_shipping()
    creds, unit = _shop()
    sales = [f.sale(product), f.sale(product), f.sale(product)]
    sales[1] = dataclasses.replace(sales[1], identity_ref="not-a-hash")
    body = _body(sales)
    # when
    response = post(Client(), creds, POLICIES, body, key="checkout-1")
    # then
    assert response.status_code == 200, response.content
    answer = response.json()
    assert (answer["accepted"], answer["refused"], answer["premium_total"]) == (2, 1, "2.00")
    assert [o["status"] for o in answer["outcomes"]] == ["accepted", "refused", "accepted"]
    assert answer["outcomes"][1]["errors"][0]["field"] == "identity_ref"
    numbers = {o["policy_number"] for o in answer["outcomes"] if o["policy_number"]}
    assert set(Policy.objects.filter(seller=unit).values_list("number", flat=True)) == numbers
    # and the same key and body answer the stored response, issuing nothing again
    again = post(Client(), creds, POLICIES, body, key="checkout-1")
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json() == answer and Policy.objects.count() == 2
    # and the same key with another body is a conflict
    other = post(Client(), creds, POLICIES, _body([f.sale(product)]), key="checkout-1")
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    assert Policy.objects.count() == 2


def test_every_post_needs_an_idempotency_key():
    product = f.return_shipping()
    creds, _ = _shop()
    for path, body in ((POLICIES, _body([f.sale(product)])), (BATCHES, _body([f.sale(product)], "rows"))):
        response = post(Client(), creds, path, body, key=None)
        assert response.status_code == 400, path
        assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert Policy.objects.count() == 0 and EmbeddedBatch.objects.count() == 0


def test_a_forged_signature_or_a_changed_body_is_refused_and_issues_nothing():
    # given
    product = f.return_shipping()
    creds, _ = _shop()
    forged = Credentials(creds.client, secret="not-the-secret")
    body = json.dumps(_body([f.sale(product)])).encode()
    # when: signed with another secret
    response = post(Client(), forged, POLICIES, body)
    # then
    assert response.status_code == 401 and response.json()["code"] == "bad_signature"
    # when: signed rightly, then the body changed on the way
    signed = authorization(creds, "POST", POLICIES, body)
    tampered = body.replace(b'"standard"', b'"plus"')
    response = Client().post(
        POLICIES,
        tampered,
        content_type="application/json",
        HTTP_AUTHORIZATION=signed,
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert response.status_code == 401 and response.json()["code"] == "bad_signature"
    assert Policy.objects.count() == 0


def test_only_a_channel_partner_with_the_scope_and_the_product_may_sell():
    product = f.return_shipping()
    body = _body([f.sale(product)])
    # an insurer partner
    insurer = hmac_client(insurer_partner(product.insurer), scopes=["embedded:issue"])
    response = post(Client(), insurer, POLICIES, body)
    assert response.status_code == 403 and response.json()["code"] == "channel_only"
    # a channel client without the scope
    unit = f.channel()
    reader = hmac_client(channel_partner(unit, code="reader-shop"), scopes=["policies:read"])
    response = post(Client(), reader, POLICIES, body)
    assert response.status_code == 403 and response.json()["code"] == "scope_missing"
    # a client limited to other products
    other = f.return_shipping()
    limited, _ = _shop(products=(other.code,), code="limited-shop")
    response = post(Client(), limited, POLICIES, _body([f.sale(other), f.sale(product)]))
    assert response.status_code == 403 and response.json()["code"] == "product_not_allowed"
    assert response.json()["errors"][0]["field"] == "sales[1].product_code"
    assert Policy.objects.count() == 0


def test_a_batch_with_good_and_bad_rows_through_http(django_capture_on_commit_callbacks):
    # given: a channel partner listening for batch.completed (and policy.issued)
    product = f.return_shipping()
    creds, unit = _shop()
    create_endpoint("shop-emb", "http://shop.example/hooks", ALL_TYPES)
    rows = [f.sale(product) for _ in range(6)]
    rows[2] = dataclasses.replace(rows[2], identity_ref="bad")
    rows[5] = dataclasses.replace(rows[5], plan_code="no-such-plan")
    # when: submitted
    with django_capture_on_commit_callbacks(execute=False):
        response = post(Client(), creds, BATCHES, _body(rows, "rows"), key="file-1")
    # then: accepted for the background, with its status URL
    assert response.status_code == 202, response.content
    accepted = response.json()
    assert accepted["status"] == "pending" and accepted["total"] == 6
    status_url = accepted["status_url"]
    assert status_url == f"{BATCHES}/{accepted['id']}"
    assert Policy.objects.count() == 0
    # when: the worker runs it
    batch = EmbeddedBatch.objects.get(public_id=accepted["id"])
    with django_capture_on_commit_callbacks(execute=False):
        embedded_services.process_batch(batch.pk)
    # then: the status resource has each row's outcome
    status = get(Client(), creds, status_url).json()
    assert (status["status"], status["accepted"], status["refused"]) == ("done", 4, 2)
    assert [o["status"] for o in status["outcomes"]] == ["accepted"] * 2 + ["refused"] + ["accepted"] * 2 + [
        "refused"
    ]
    assert status["outcomes"][5]["errors"][0]["field"] == "plan_code"
    assert Policy.objects.filter(seller=unit).count() == 4
    # and the channel heard batch.completed once, and no policy.issued per policy
    events = list(WebhookEvent.objects.filter(subscriber="shop-emb"))
    assert [e.event_type for e in events] == ["batch.completed"]
    assert events[0].payload["accepted"] == 4 and events[0].payload["status_url"] == status_url
    # and another partner's client does not find the batch
    stranger, _ = _shop(code="stranger-shop")
    response = get(Client(), stranger, status_url)
    assert response.status_code == 404 and response.json()["code"] == "batch_not_found"


def test_an_embedded_call_sends_no_webhook_per_policy():
    # given: the channel and the insurer both listen for everything
    product = f.return_shipping()
    creds, _ = _shop()
    insurer = insurer_partner(product.insurer, code="ins-emb")
    for code in ("shop-emb", insurer.code):
        create_endpoint(code, f"http://{code}.example/hooks", ALL_TYPES)
    # when
    response = post(Client(), creds, POLICIES, _body([f.sale(product) for _ in range(5)]))
    # then
    assert response.status_code == 200 and response.json()["accepted"] == 5
    assert WebhookEvent.objects.count() == 0


def test_a_proof_of_the_partner_s_policy_verifies_against_the_sealing_entry():
    # given
    product = f.return_shipping()
    creds, _ = _shop()
    answer = post(Client(), creds, POLICIES, _body([f.sale(product) for _ in range(3)])).json()
    number = answer["outcomes"][2]["policy_number"]
    # when
    response = get(Client(), creds, f"/api/partner/v1/evidence/{number}/proof")
    # then: the leaf and its path give the root the audit entry sealed, and the entry's hash holds
    assert response.status_code == 200, response.content
    proof = response.json()
    leaf = encode_leaf(number, bytes.fromhex(proof["digest"]))
    path = [bytes.fromhex(p) for p in proof["path"]]
    root = bytes.fromhex(proof["root"])
    assert merkle.verify_inclusion(leaf, proof["index"], proof["size"], path, root)
    assert proof["audit_entry"]["after"]["root"] == proof["root"] and proof["size"] == 3
    assert compute_entry_hash(entry_from_record(proof["audit_entry"])) == proof["audit_entry_hash"]
    assert check_proof_in_chain(proof).ok
    # and a changed digest no longer proves
    changed = encode_leaf(number, bytes(32))
    assert not merkle.verify_inclusion(changed, proof["index"], proof["size"], path, root)
    # and another partner does not get it
    stranger, _ = _shop(code="stranger-shop")
    assert get(Client(), stranger, f"/api/partner/v1/evidence/{number}/proof").status_code == 404


def test_the_openapi_document_lists_every_status():
    from huibao.api import api

    paths = api.get_openapi_schema()["paths"]
    expected = {
        (POLICIES, "post"): {"200", "400", "401", "403", "409", "422", "429"},
        (BATCHES, "post"): {"202", "400", "401", "403", "409", "422", "429"},
        (BATCHES + "/{batch_id}", "get"): {"200", "401", "403", "404", "429"},
        ("/api/partner/v1/evidence/{policy_number}/proof", "get"): {"200", "401", "403", "404", "429", "500"},
    }
    for (path, method), statuses in expected.items():
        assert statuses <= {str(s) for s in paths[path][method]["responses"]}, path


def test_the_roster_costs_no_query_once_known_and_a_new_partner_is_seen(django_assert_num_queries):
    # given: no partner, the roster read once
    assert roster.roster() == ()
    # when / then: known, empty: no query
    with django_assert_num_queries(0):
        assert roster.roster() == ()
        webhooks.on_embedded_batch_done(
            embedded_services.EmbeddedBatchDone(
                batch_id=uuid.uuid4(),
                channel_id=1,
                status="done",
                total=1,
                accepted=1,
                refused=0,
                premium_total=Decimal("1.00"),
            )
        )
    # when: a partner is created, the roster is read again and has it
    _shop(code="new-shop")
    assert [p.code for p in roster.roster()] == ["new-shop"]


def test_the_partner_webhooks_are_registered_on_the_engines_hooks():
    from huibao.claim.decisions import PAYOUT_KIND as CLAIM_PAYOUT_KIND
    from huibao.claim.lifecycle import claim_status_changed
    from huibao.claim.triggers import PAYOUT_KIND as TRIGGER_PAYOUT_KIND
    from huibao.payment.payouts import payout_succeeded
    from huibao.policy.cancellation import cancellation_confirmed
    from huibao.policy.services import policies_issued

    # the listeners registered by PartnerConfig.ready()
    assert webhooks.on_policies_issued in policies_issued._listeners
    assert webhooks.on_cancellation_confirmed in cancellation_confirmed._listeners
    assert webhooks.on_claim_status_changed in claim_status_changed._listeners
    assert webhooks.on_claim_payout_succeeded in payout_succeeded._hooks[CLAIM_PAYOUT_KIND]._listeners
    assert webhooks.on_trigger_payout_succeeded in payout_succeeded._hooks[TRIGGER_PAYOUT_KIND]._listeners
    assert webhooks.on_embedded_batch_done in embedded_services.embedded_batch_done._listeners
    # and none on the embedded issuance: no webhook per embedded policy
    assert not any(
        getattr(listener, "__module__", "").startswith("huibao.partner")
        for listener in embedded_services.embedded_issued._listeners
    )
