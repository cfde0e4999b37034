"""Partners hear what concerns them by webhook: a policy issued for a channel's sale (or an
insurer's product) is published to that partner only, once, and the partner reads the delivery
in its log through the API; a payout made for an event is published too."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from huibao.claim.event_models import TriggeredPayout
from huibao.claim.tests.trigger_factories import return_policy
from huibao.distribution.tests.factories import tree, unit
from huibao.partner import webhooks
from huibao.partner.tests.factories import channel_partner, get, hmac_client, insurer_partner, post
from huibao.policy.models import Policy
from huibao.policy.services import IssuedPolicy, PoliciesIssued
from huibao.policy.tests.factories import simple_issued
from huibao.webhook.models import WebhookDelivery, WebhookEvent
from huibao.webhook.services import create_endpoint

pytestmark = pytest.mark.django_db
ALL = ["policy.issued", "policy.cancelled", "claim.paid", "payout.made"]


@pytest.fixture(autouse=True)
def _https(settings):
    settings.HUIBAO_WEBHOOK_ALLOW_HTTP = True


def test_a_policy_sold_by_a_channel_is_published_to_that_channel_and_the_insurer_only(settings):
    # given
    units = tree()
    shop = channel_partner(units["CH"], code="demo-shop")
    elsewhere = channel_partner(unit("CH2", "channel", units["HQ"]), code="other-channel")
    policy = simple_issued(insurer_code="ins-web")
    insurer = insurer_partner(policy.insurer, code="ins-web-api")
    for code in (shop.code, elsewhere.code, insurer.code):
        create_endpoint(code, f"https://{code}.example/hooks", ALL)
    Policy.objects.filter(pk=policy.pk).update(seller=units["SUB"])
    policy.refresh_from_db()
    # when: issuance announces it (again: a re-announcement publishes nothing twice)
    event = PoliciesIssued(issued=(IssuedPolicy(policy=policy, parties=(), subject=()),))
    webhooks.on_policies_issued(event)
    webhooks.on_policies_issued(event)
    # then
    published = WebhookEvent.objects.filter(event_type="policy.issued")
    assert sorted(published.values_list("subscriber", flat=True)) == ["demo-shop", "ins-web-api"]
    assert WebhookDelivery.objects.count() == 2
    # and the shop reads its delivery through the API (and only its own)
    creds = hmac_client(shop, scopes=["webhooks:read"])
    log = get(Client(), creds, "/api/partner/v1/webhooks/deliveries")
    assert log.status_code == 200, log.content
    items = log.json()["items"]
    assert [(d["event_type"], d["ref"]) for d in items] == [
        ("policy.issued", f"policy.issued:{policy.number}")
    ]
    refused = get(
        Client(), hmac_client(shop, scopes=["policies:read"]), "/api/partner/v1/webhooks/deliveries"
    )
    assert refused.status_code == 403


def test_a_payout_for_a_partners_event_is_published_as_payout_made():
    # given
    units = tree()
    shop = channel_partner(units["CH"], code="shop-payouts")
    create_endpoint(shop.code, "https://shop.example/hooks", ["payout.made"])
    policy = return_policy("ORD-HOOK-00001")
    Policy.objects.filter(pk=policy.pk).update(seller=units["CH"])
    creds = hmac_client(shop, scopes=["events:write"])
    sent = post(
        Client(),
        creds,
        "/api/partner/v1/events",
        {
            "kind": "return",
            "event_id": "RET-H1",
            "order_number": "ORD-HOOK-00001",
            "returned_at": timezone.now().isoformat(),
        },
    )
    assert sent.status_code == 201, sent.content
    benefit = TriggeredPayout.objects.select_related("payout").get()
    # when: the payout succeeds (the payment engine's hook)
    webhooks.on_trigger_payout_succeeded(benefit.payout)
    # then
    event = WebhookEvent.objects.get(subscriber=shop.code, event_type="payout.made")
    assert policy.number in event.payload_json and str(benefit.event.public_id) in event.payload_json
