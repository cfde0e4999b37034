"""The back office's partner pages: operators create partners and clients (the secret shown
once), rotate, revoke and edit scopes; auditors read; others are refused; each step audited."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from huibao.catalog.tests.factories import InsurerFactory
from huibao.core.models import AuditEntry
from huibao.distribution.demo import load_demo_distribution
from huibao.distribution.tests.factories import tree
from huibao.partner.models import ApiClient, Partner
from huibao.partner.states import ClientStatus
from huibao.partner.tests.factories import Credentials, channel_partner, get, hmac_client
from huibao.policy.models import Policy
from huibao.policy.tests.factories import staff, staff_login

pytestmark = pytest.mark.django_db
MANAGE = ["view_partner", "view_apiclient", "manage_partner"]


@pytest.fixture
def operator():
    return staff_login(Client(), staff("partner-op", MANAGE, app_label="partner"))


def test_an_operator_creates_a_channel_partner_and_a_client_whose_secret_is_shown_once(operator):
    # given
    unit = tree()["CH"]
    # when
    created = operator.post(
        "/partners/", {"code": "demo-shop", "name": "演示商城", "kind": "channel", "sales_unit": unit.pk}
    )
    partner = Partner.objects.get(code="demo-shop")
    assert created.status_code == 302 and created["Location"] == f"/partners/{partner.pk}/"
    page = operator.post(
        f"/partners/{partner.pk}/clients/",
        {"algorithm": "HMAC-SHA256", "scopes": ["policies:read", "events:write"], "rate_limit": "120"},
    )
    # then
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    html = page.content.decode()
    client = ApiClient.objects.get(partner=partner)
    secret = re.search(r'data-testid="issued-secret">([^<]+)<', html)
    assert secret is not None and secret.group(1) == client.secret
    assert client.scopes == ["policies:read", "events:write"] and client.rate_limit == 120
    # the secret signs requests
    assert (
        get(Client(), Credentials(client, secret=secret.group(1)), "/api/partner/v1/policies").status_code
        == 200
    )
    # shown once: the partner's page does not show it again
    assert client.secret not in operator.get(f"/partners/{partner.pk}/").content.decode()
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"partner.created", "partner.client_created"} <= actions


def test_the_forms_name_their_wrong_fields(operator):
    response = operator.post("/partners/", {"code": "", "name": "", "kind": "channel"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "code：" in html and "sales_unit：" in html
    partner = channel_partner(tree()["CH"])
    response = operator.post(
        f"/partners/{partner.pk}/clients/", {"algorithm": "HMAC-SHA256", "rate_limit": "0"}
    )
    assert response.status_code == 400 and "scopes：" in response.content.decode()
    assert not ApiClient.objects.exists()


def test_an_operator_rotates_revokes_and_edits_a_client(operator):
    partner = channel_partner(tree()["CH"])
    creds = hmac_client(partner)
    rotated = operator.post(
        f"/partners/{partner.pk}/clients/{creds.client.pk}/rotate/", {"retire_after_hours": "6"}
    )
    assert rotated.status_code == 200 and 'data-testid="issued-secret"' in rotated.content.decode()
    creds.client.refresh_from_db()
    assert creds.client.status == ClientStatus.RETIRING and creds.client.rotated_by is not None
    new = ApiClient.objects.get(replaces=creds.client)
    edited = operator.post(
        f"/partners/{partner.pk}/clients/{new.pk}/access/", {"scopes": ["policies:read"], "rate_limit": "60"}
    )
    assert edited.status_code == 302
    new.refresh_from_db()
    assert new.scopes == ["policies:read"] and new.rate_limit == 60
    revoked = operator.post(f"/partners/{partner.pk}/clients/{creds.client.pk}/revoke/")
    assert revoked.status_code == 302
    creds.client.refresh_from_db()
    assert creds.client.status == ClientStatus.REVOKED and creds.client.revoked_by is not None
    actions = list(
        AuditEntry.objects.filter(object_type="partner_api_client").values_list("action", flat=True)
    )
    assert "partner.client_rotated" in actions and "partner.client_revoked" in actions
    assert "partner.client_access_changed" in actions


def test_a_reader_sees_but_cannot_change_and_others_are_refused():
    partner = channel_partner(tree()["CH"])
    reader = staff_login(Client(), staff("partner-reader", ["view_partner"], app_label="partner"))
    assert reader.get(f"/partners/{partner.pk}/").status_code == 200
    assert reader.post(f"/partners/{partner.pk}/clients/", {"algorithm": "HMAC-SHA256"}).status_code == 403
    assert not ApiClient.objects.exists()
    stranger = staff_login(Client(), staff("someone", [], app_label="partner"))
    assert stranger.get("/partners/").status_code == 403
    assert Client().get("/partners/").status_code == 302  # to the staff log-in


def test_the_demo_partners_load_once_and_their_printed_key_signs():
    InsurerFactory()
    load_demo_distribution()
    first, second = StringIO(), StringIO()
    call_command("load_demo_partners", stdout=first)
    call_command("load_demo_partners", stdout=second)
    assert first.getvalue() == second.getvalue()
    assert set(Partner.objects.values_list("code", flat=True)) == {"demo-shop", "demo-insurer"}
    line = next(row for row in first.getvalue().splitlines() if "demo-shop" in row)
    key_id, secret = re.search(r"keyid (\S+)\s+secret (\S+)", line).groups()  # type: ignore[union-attr]
    client = ApiClient.objects.get(key_id=key_id)
    assert get(Client(), Credentials(client, secret=secret), "/api/partner/v1/policies").status_code == 200


def test_the_demo_shop_has_embedded_policies_its_partner_api_lists_once():
    # given a return-shipping product allowing embedded sale, and the demo hierarchy
    from huibao.embedded.tests import factories as ef

    product = ef.return_shipping()
    load_demo_distribution()
    # when the demo partners are loaded twice
    out = StringIO()
    call_command("load_demo_partners", stdout=out)
    call_command("load_demo_partners", stdout=StringIO())
    # then demo-shop's checkout sold three policies of it, once, and its API lists them
    policies = Policy.objects.filter(seller__code="CH-PDD", product_version__product=product)
    assert policies.count() == 3
    line = next(row for row in out.getvalue().splitlines() if "demo-shop" in row)
    key_id, secret = re.search(r"keyid (\S+)\s+secret (\S+)", line).groups()  # type: ignore[union-attr]
    client = ApiClient.objects.get(key_id=key_id)
    response = get(Client(), Credentials(client, secret=secret), "/api/partner/v1/policies")
    assert response.status_code == 200
    assert {p["number"] for p in response.json()["items"]} == set(policies.values_list("number", flat=True))
