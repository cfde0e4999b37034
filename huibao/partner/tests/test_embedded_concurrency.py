"""Fifty identical embedded-sale POSTs at once (one Idempotency-Key, each signed with its own
nonce): one set of policies, fifty identical answers. On PostgreSQL the losers wait on the key's
unique index (and the order references' advisory locks) until the winner commits; SQLite
serialises the writers. Asserted on both."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from huibao.claim.tests.test_limits_concurrency import run_at_once
from huibao.embedded.models import EmbeddedSaleEvidence
from huibao.embedded.services import sale_to_dict
from huibao.embedded.tests import factories as f
from huibao.partner.models import IdempotencyRecord
from huibao.partner.tests.factories import channel_partner, hmac_client, post
from huibao.policy.models import Policy

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 50


def test_fifty_identical_embedded_calls_at_once_issue_one_set_of_policies():
    # given: one call of three sales
    product = f.return_shipping()
    creds = hmac_client(
        channel_partner(f.channel(), code="race-shop"), scopes=["embedded:issue"], rate_limit=1000
    )
    body = json.dumps({"sales": [sale_to_dict(f.sale(product)) for _ in range(3)]}).encode()

    # when
    def send(_i: int) -> tuple[int, str]:
        response = post(Client(), creds, "/api/partner/v1/embedded/policies", body, key="race-checkout")
        return response.status_code, json.dumps(response.json(), sort_keys=True)

    results = run_at_once(THREADS, send)
    # then
    assert {status for status, _ in results} == {200}, results[:3]
    assert len({answer for _, answer in results}) == 1
    answer = json.loads(results[0][1])
    assert answer["accepted"] == 3 and not any(o["replayed"] for o in answer["outcomes"])
    assert Policy.objects.count() == 3 == EmbeddedSaleEvidence.objects.count()
    assert IdempotencyRecord.objects.count() == 1
