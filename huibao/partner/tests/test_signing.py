"""Signed requests through the real endpoints: good HMAC and RSA signatures pass; a bad
signature, an unknown or revoked key, a stale timestamp, a replayed nonce, a missing scope, a
product outside the client's list and too many requests are each refused in the one error shape."""

from __future__ import annotations

import datetime
import json

import pytest
from django.test import Client
from django.utils import timezone

from huibao.core.models import AuditEntry
from huibao.distribution.tests.factories import tree
from huibao.partner import services
from huibao.partner.models import ApiClient, PartnerNonce
from huibao.partner.states import ClientStatus
from huibao.partner.tests.factories import (
    Credentials,
    authorization,
    channel_partner,
    get,
    hmac_client,
    rsa_client,
)

pytestmark = pytest.mark.django_db
POLICIES = "/api/partner/v1/policies"


@pytest.fixture
def partner():
    return channel_partner(tree()["CH"], code="demo-shop")


def _code(response) -> str:
    return response.json()["code"]


def test_a_good_hmac_signature_is_accepted(partner):
    creds = hmac_client(partner)
    response = get(Client(), creds, POLICIES)
    assert response.status_code == 200, response.content
    assert response.json() == {"items": [], "next_cursor": None}


def test_a_good_rsa_signature_is_accepted_and_a_signature_by_another_key_is_not(partner):
    creds = rsa_client(partner)
    assert get(Client(), creds, POLICIES).status_code == 200
    impostor = rsa_client(partner)
    forged = Credentials(creds.client, private_key=impostor.private_key)
    response = get(Client(), forged, POLICIES)
    assert response.status_code == 401 and _code(response) == "bad_signature"


def test_a_signature_with_the_wrong_secret_or_over_another_request_is_refused(partner):
    creds = hmac_client(partner)
    wrong = Credentials(creds.client, secret=creds.secret + "x")
    response = get(Client(), wrong, POLICIES)
    assert response.status_code == 401
    assert response.json()["code"] == "bad_signature"
    assert response.json()["errors"][0]["field"] == "Authorization"
    # signed for one query, sent with another
    header = authorization(creds, "GET", POLICIES + "?status=in_force")
    response = Client().get(POLICIES + "?status=expired", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401 and _code(response) == "bad_signature"


def test_no_signature_or_an_unknown_key_is_refused(partner):
    assert _code(Client().get(POLICIES)) == "signature_required"
    creds = hmac_client(partner)
    ghost = Credentials(ApiClient(key_id="hbk_nobody"), secret=creds.secret)
    response = get(Client(), ghost, POLICIES)
    assert response.status_code == 401 and _code(response) == "unknown_key"


def test_a_replayed_nonce_is_refused(partner):
    creds = hmac_client(partner)
    header = authorization(creds, "GET", POLICIES, nonce="nonce-0001")
    assert Client().get(POLICIES, HTTP_AUTHORIZATION=header).status_code == 200
    again = Client().get(POLICIES, HTTP_AUTHORIZATION=header)
    assert again.status_code == 401 and _code(again) == "replayed_nonce"
    assert PartnerNonce.objects.filter(key_id=creds.key_id, nonce="nonce-0001").count() == 1


def test_a_stale_or_future_timestamp_is_refused(partner):
    creds = hmac_client(partner)
    for minutes in (-6, 6):
        at = timezone.now() + datetime.timedelta(minutes=minutes)
        response = get(Client(), creds, POLICIES, at=at)
        assert response.status_code == 401 and _code(response) == "stale_timestamp"
    assert (
        get(Client(), creds, POLICIES, at=timezone.now() - datetime.timedelta(minutes=4)).status_code == 200
    )


def test_a_missing_scope_is_403(partner):
    creds = hmac_client(partner, scopes=["events:write"])
    response = get(Client(), creds, POLICIES)
    assert response.status_code == 403 and _code(response) == "scope_missing"


def test_a_product_outside_the_clients_list_is_403(partner):
    creds = hmac_client(partner, products=[])
    services.update_access(creds.client, scopes=["policies:read"], products=[], rate_limit=600, actor=None)
    limited = hmac_client(partner)
    limited.client.products = ["ALLOWED"]
    limited.client.save(update_fields=["products"])
    response = get(Client(), limited, POLICIES + "?product=OTHER")
    assert response.status_code == 403 and _code(response) == "product_not_allowed"
    assert get(Client(), limited, POLICIES + "?product=ALLOWED").status_code == 200


def test_the_rate_limit_answers_429_with_retry_after(partner):
    creds = hmac_client(partner, rate_limit=3)
    other = hmac_client(partner, rate_limit=3)
    statuses = [get(Client(), creds, POLICIES).status_code for _ in range(3)]
    refused = get(Client(), creds, POLICIES)
    assert statuses == [200, 200, 200]
    assert refused.status_code == 429 and _code(refused) == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    # per client: another key of the same partner still has its own allowance
    assert get(Client(), other, POLICIES).status_code == 200


def test_a_rotated_key_works_until_retire_at_then_is_refused(partner):
    # given
    old = hmac_client(partner)
    # when
    issued = services.rotate_client(old.client, retire_after_hours=2, actor=None)
    new = Credentials(issued.client, secret=issued.secret)
    # then: both work during the overlap
    assert get(Client(), old, POLICIES).status_code == 200
    assert get(Client(), new, POLICIES).status_code == 200
    old.client.refresh_from_db()
    assert old.client.status == ClientStatus.RETIRING
    assert issued.client.replaces_id == old.client.pk and issued.client.scopes == old.client.scopes
    # and once retire_at has passed the old one is refused
    ApiClient.objects.filter(pk=old.client.pk).update(
        retire_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    refused = get(Client(), old, POLICIES)
    assert refused.status_code == 401 and _code(refused) == "key_retired"
    assert get(Client(), new, POLICIES).status_code == 200


def test_a_revoked_key_is_refused_and_each_step_is_audited(partner):
    creds = hmac_client(partner)
    services.revoke_client(creds.client, actor=None)
    response = get(Client(), creds, POLICIES)
    assert response.status_code == 401 and _code(response) == "key_revoked"
    actions = list(
        AuditEntry.objects.filter(object_type="partner_api_client", object_id=creds.key_id).values_list(
            "action", flat=True
        )
    )
    assert actions == ["partner.client_created", "partner.client_revoked"]
    # the secret is never in the chain
    assert not AuditEntry.objects.filter(after__icontains=creds.secret).exists()


def test_an_inactive_partner_is_refused(partner):
    creds = hmac_client(partner)
    services.set_partner_active(partner, False, actor=None)
    response = get(Client(), creds, POLICIES)
    assert response.status_code == 401 and _code(response) == "partner_inactive"


def test_the_secret_is_encrypted_at_rest(partner):
    from django.db import connection

    creds = hmac_client(partner)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM partner_apiclient WHERE id = %s", [creds.client.pk])
        stored = cursor.fetchone()[0]
    assert creds.secret not in stored and stored.startswith("hb1:")
    assert json.dumps(stored)  # a text column


def test_with_redis_the_nonces_live_in_the_shared_cache(partner, settings):
    # given: a configured Redis (the cache is the process's own here, as the shared one would be)
    settings.REDIS_URL = "redis://cache.example:6379/0"
    creds = hmac_client(partner)
    header = authorization(creds, "GET", POLICIES, nonce="cached-nonce-1")
    # when
    first = Client().get(POLICIES, HTTP_AUTHORIZATION=header)
    again = Client().get(POLICIES, HTTP_AUTHORIZATION=header)
    # then
    assert first.status_code == 200
    assert again.status_code == 401 and _code(again) == "replayed_nonce"
    assert not PartnerNonce.objects.exists()


def test_the_daily_purge_forgets_nonces_past_the_window_and_day_old_answers(partner):
    from huibao.partner.models import IdempotencyRecord

    now = timezone.now()
    PartnerNonce.objects.create(key_id="k", nonce="old-nonce-1", seen_at=now - datetime.timedelta(minutes=11))
    PartnerNonce.objects.create(key_id="k", nonce="new-nonce-1", seen_at=now - datetime.timedelta(minutes=9))
    for key, age in (("old", 25), ("new", 23)):
        IdempotencyRecord.objects.create(
            partner=partner,
            key=key,
            request_sha256="0" * 64,
            method="POST",
            path="/x",
            response_status=201,
            response_body={},
            created_at=now - datetime.timedelta(hours=age),
        )
    assert services.purge_expired(now=now) == 2
    assert list(PartnerNonce.objects.values_list("nonce", flat=True)) == ["new-nonce-1"]
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def test_an_rsa_client_made_without_a_public_key_gets_a_generated_pair_whose_private_key_signs(partner):
    from cryptography.hazmat.primitives import serialization

    from huibao.partner.states import Algorithm

    # when
    issued = services.create_client(
        partner, services.ClientData(algorithm=Algorithm.RSA_SHA256, scopes=["policies:read"]), actor=None
    )
    # then: the private key is handed over once and never stored
    assert issued.private_key_pem.startswith("-----BEGIN PRIVATE KEY-----")
    stored = ApiClient.objects.get(pk=issued.client.pk)
    assert stored.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----") and stored.secret == ""
    assert "PRIVATE" not in stored.public_key_pem
    key = serialization.load_pem_private_key(issued.private_key_pem.encode(), None)
    creds = Credentials(stored, private_key=key)  # type: ignore[arg-type]
    assert get(Client(), creds, POLICIES).status_code == 200


def test_a_weak_or_malformed_rsa_public_key_is_refused_naming_the_field(partner):
    from huibao.core.errors import ValidationFailed
    from huibao.partner.states import Algorithm

    with pytest.raises(ValidationFailed) as refused:
        services.create_client(
            partner,
            services.ClientData(
                algorithm=Algorithm.RSA_SHA256, scopes=["policies:read"], public_key_pem="not a key"
            ),
            actor=None,
        )
    assert [e.field for e in refused.value.errors] == ["public_key_pem"]
    assert not ApiClient.objects.exists()
