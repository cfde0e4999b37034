"""The partner API's reads and events: a partner sees only its own policies (404 for others'),
their status changes and statements; the events it sends pay the policies they concern,
traceably, once per Idempotency-Key."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from huibao.claim.event_models import PayoutAccount, TriggeredPayout, TriggerEvent
from huibao.claim.tests.factories import GOOD_CARD
from huibao.claim.tests.trigger_factories import departure, flight_policy, flight_version, return_policy
from huibao.distribution.tests.factories import tree
from huibao.partner.tests.factories import channel_partner, get, hmac_client, insurer_partner, post
from huibao.policy.models import Policy
from huibao.policy.tests.factories import Person, application, customer, issue, product_version, simple_issued

pytestmark = pytest.mark.django_db
BASE = "/api/partner/v1"


@pytest.fixture
def units():
    return tree()


def _sold_by(policy: Policy, unit) -> Policy:
    Policy.objects.filter(pk=policy.pk).update(seller=unit)
    policy.refresh_from_db()
    return policy


def test_a_channel_sees_the_policies_of_its_subtree_and_404_for_others(units):
    # given
    partner = channel_partner(units["CH"])
    creds = hmac_client(partner, scopes=["policies:read"])
    mine = _sold_by(simple_issued(), units["SUB"])  # a sub-channel under the partner's channel
    agents = _sold_by(simple_issued(), units["A1"])  # another branch of the hierarchy
    unsold = simple_issued()
    # when
    listed = get(Client(), creds, f"{BASE}/policies")
    # then
    assert listed.status_code == 200
    assert [p["number"] for p in listed.json()["items"]] == [mine.number]
    item = listed.json()["items"][0]
    assert item["seller_code"] == "SUB" and item["premium"] == "320.00"
    assert "*" in item["holder_name"]  # masked
    assert get(Client(), creds, f"{BASE}/policies/{mine.number}").status_code == 200
    for other in (agents, unsold):
        response = get(Client(), creds, f"{BASE}/policies/{other.number}")
        assert response.status_code == 404 and response.json()["code"] == "policy_not_found"
        assert get(Client(), creds, f"{BASE}/policies/{other.number}/events").status_code == 404


def test_an_insurer_sees_the_policies_it_insures():
    # given
    first = simple_issued(insurer_code="ins-a")
    second = simple_issued(insurer_code="ins-b")
    creds = hmac_client(insurer_partner(first.insurer), scopes=["policies:read"])
    # when
    listed = get(Client(), creds, f"{BASE}/policies").json()["items"]
    # then
    assert [p["number"] for p in listed] == [first.number]
    assert get(Client(), creds, f"{BASE}/policies/{second.number}").status_code == 404


def test_policies_page_by_cursor_and_filter_by_status(units):
    creds = hmac_client(channel_partner(units["CH"]), scopes=["policies:read"])
    made = [_sold_by(simple_issued(), units["CH"]) for _ in range(3)]
    first = get(Client(), creds, f"{BASE}/policies?limit=2").json()
    assert len(first["items"]) == 2 and first["next_cursor"] is not None
    rest = get(Client(), creds, f"{BASE}/policies?limit=2&after={first['next_cursor']}").json()
    seen = [p["number"] for p in first["items"] + rest["items"]]
    assert sorted(seen) == sorted(p.number for p in made) and rest["next_cursor"] is None
    status = made[0].status
    filtered = get(Client(), creds, f"{BASE}/policies?status={status}").json()["items"]
    assert {p["status"] for p in filtered} == {status}
    assert get(Client(), creds, f"{BASE}/policies?status=expired").json()["items"] == []


def test_a_policys_events_are_its_status_changes(units):
    creds = hmac_client(channel_partner(units["CH"]), scopes=["policies:read"])
    mine = _sold_by(simple_issued(), units["CH"])
    body = get(Client(), creds, f"{BASE}/policies/{mine.number}/events").json()
    assert body["status_changes"][0]["reason"] == "issued"
    assert body["status_changes"][0]["to_status"] == mine.status
    assert body["payouts"] == []


def test_statements_need_their_scope_and_show_only_the_partners(units):
    creds = hmac_client(channel_partner(units["CH"]), scopes=["policies:read"])
    mine = _sold_by(simple_issued(), units["CH"])
    refused = get(Client(), creds, f"{BASE}/policies/{mine.number}/statements")
    assert refused.status_code == 403 and refused.json()["code"] == "scope_missing"
    reader = hmac_client(creds.client.partner, scopes=["policies:read", "statements:read"])
    assert get(Client(), reader, f"{BASE}/policies/{mine.number}/statements").json() == []
    assert get(Client(), reader, f"{BASE}/statements").json() == []


# --- events ----------------------------------------------------------------------------------------


def _return_event(order: str, event_id: str = "RET-1") -> dict[str, object]:
    return {
        "kind": "return",
        "event_id": event_id,
        "order_number": order,
        "returned_at": timezone.now().isoformat(),
    }


def test_a_return_from_the_shop_pays_its_policy_traceably_to_the_event(units):
    # given
    partner = channel_partner(units["CH"], code="demo-shop")
    creds = hmac_client(partner, scopes=["events:write", "policies:read"])
    policy = _sold_by(return_policy("ORD-20261203-01"), units["CH"])
    # when
    response = post(Client(), creds, f"{BASE}/events", _return_event("ORD-20261203-01"))
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["policies"] == 1 and body["payouts_made"] == 1 and body["duplicate"] is False
    assert body["payouts"][0]["policy_number"] == policy.number
    event = TriggerEvent.objects.get(public_id=body["id"])
    assert event.source == "partner:demo-shop"
    payout = TriggeredPayout.objects.get(policy=policy)
    assert payout.event_id == event.pk and payout.payout_id is not None
    # and the payout is traceable from the policy and the event resources
    events = get(Client(), creds, f"{BASE}/policies/{policy.number}/events").json()
    assert events["payouts"][0]["event"] == body["id"]
    again = get(Client(), creds, f"{BASE}/events/{body['id']}").json()
    assert again["payouts"][0]["id"] == str(payout.public_id)


def test_a_flight_delay_from_a_feed_partner_pays_every_traveller_of_the_flight(units):
    # given
    feed = channel_partner(units["CH"], code="flightfeed")
    creds = hmac_client(feed, scopes=["events:write"])
    version = flight_version()
    travellers = [flight_policy(version, "MU5101") for _ in range(3)]
    other_flight = flight_policy(version, "CA1234")
    body = {
        "kind": "flight",
        "event_id": "FL-MU5101-1",
        "flight_number": "MU5101",
        "flight_date": departure(travellers[0]).isoformat(),
        "status": "delayed",
        "delay_minutes": 240,
    }
    # when
    response = post(Client(), creds, f"{BASE}/events", body)
    # then
    assert response.status_code == 201, response.content
    assert response.json()["payouts_made"] == 3
    paid = set(TriggeredPayout.objects.values_list("policy_id", flat=True))
    assert paid == {p.pk for p in travellers} and other_flight.pk not in paid
    # the feed's own policies are none of these: their numbers are not shown to it
    assert response.json()["payouts"] == []


def test_a_forged_event_is_refused_and_pays_nobody(units):
    creds = hmac_client(channel_partner(units["CH"]), scopes=["events:write"])
    _sold_by(return_policy("ORD-FORGED-01"), units["CH"])
    creds.secret = "guessed-secret"
    response = post(Client(), creds, f"{BASE}/events", _return_event("ORD-FORGED-01"))
    assert response.status_code == 401 and response.json()["code"] == "bad_signature"
    assert not TriggerEvent.objects.exists() and not TriggeredPayout.objects.exists()


def test_a_return_for_another_partners_order_is_not_found(units):
    creds = hmac_client(channel_partner(units["CH"]), scopes=["events:write"])
    _sold_by(return_policy("ORD-ELSEWHERE-1"), units["A1"])
    response = post(Client(), creds, f"{BASE}/events", _return_event("ORD-ELSEWHERE-1"))
    assert response.status_code == 404 and response.json()["code"] == "order_not_found"
    assert not TriggerEvent.objects.exists()


def test_an_event_needs_events_write_and_names_its_wrong_fields(units):
    partner = channel_partner(units["CH"])
    reader = hmac_client(partner, scopes=["policies:read"])
    refused = post(Client(), reader, f"{BASE}/events", _return_event("ORD-0000001"))
    assert refused.status_code == 403 and refused.json()["code"] == "scope_missing"
    writer = hmac_client(partner, scopes=["events:write"])
    bad = post(Client(), writer, f"{BASE}/events", {"kind": "return", "event_id": "X1", "order_number": "!"})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"order_number", "returned_at"}
    unknown = post(Client(), writer, f"{BASE}/events", {"kind": "meteor", "event_id": "X2"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "kind"


# --- idempotency ---------------------------------------------------------------------------------------


def test_a_post_without_an_idempotency_key_is_400(units):
    creds = hmac_client(channel_partner(units["CH"]), scopes=["events:write"])
    response = post(Client(), creds, f"{BASE}/events", _return_event("ORD-0000002"), key=None)
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"


def test_the_same_key_and_body_answers_the_stored_response_and_another_body_is_409(units):
    # given
    creds = hmac_client(channel_partner(units["CH"]), scopes=["events:write"])
    _sold_by(return_policy("ORD-IDEM-0001"), units["CH"])
    event = _return_event("ORD-IDEM-0001", event_id="RET-IDEM")
    body = json.dumps(event).encode()
    # when
    first = post(Client(), creds, f"{BASE}/events", body, key="order-IDEM-0001")
    second = post(Client(), creds, f"{BASE}/events", body, key="order-IDEM-0001")
    other = post(Client(), creds, f"{BASE}/events", {**event, "event_id": "RET-OTHER"}, key="order-IDEM-0001")
    # then
    assert first.status_code == 201 and second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true" and not first.has_header("Idempotent-Replayed")
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    assert TriggerEvent.objects.count() == 1 and TriggeredPayout.objects.count() == 1


def test_a_refused_request_does_not_keep_its_key(units):
    creds = hmac_client(channel_partner(units["CH"]), scopes=["events:write"])
    bad = post(Client(), creds, f"{BASE}/events", {"kind": "return", "event_id": "R9"}, key="retry-me")
    assert bad.status_code == 422
    _sold_by(return_policy("ORD-RETRY-001"), units["CH"])
    good = post(Client(), creds, f"{BASE}/events", _return_event("ORD-RETRY-001", "R9"), key="retry-me")
    assert good.status_code == 201


def test_the_openapi_document_builds_with_the_partner_endpoints_and_their_signature():
    schema = Client().get("/api/openapi.json").json()
    operation = schema["paths"]["/api/partner/v1/events"]["post"]
    assert operation["security"] == [{"PartnerSignature": []}]
    assert schema["components"]["securitySchemes"]["PartnerSignature"]["name"] == "Authorization"
    assert {"400", "401", "403", "409", "429"} <= set(operation["responses"])
    assert "/api/partner/v1/policies/{number}/statements" in schema["paths"]


def _screen_policy(imei: str) -> Policy:
    """A phone-screen (碎屏险) policy on one phone, paid automatically on a repair report."""
    version = product_version(
        name="碎屏无忧",
        line="phone_screen",
        coverages=(("screen", "屏幕意外破碎", 3000, False),),
        cooling_off_days=0,
        rules={
            "signature": "confirmation",
            "effective": {"rule": "same_day"},
            "subject": [{"code": "imei", "label": "手机IMEI号", "pattern": "^[0-9]{15}$", "required": True}],
        },
        min_sum=3000,
        max_sum=3000,
    )
    version.claims = {"trigger": {"kind": "screen_repair"}}
    version.save(update_fields=["claims"])
    owner = customer()
    PayoutAccount.objects.create(
        user=owner, payee_name="李春花", account_number=GOOD_CARD, account_last4=GOOD_CARD[-4:]
    )
    app = application(
        [(version, Person(), 3000, "49.00", {"term": "1y"})], customer=owner, subject={"imei": imei}
    )
    return issue(app)[0]


def test_a_screen_repair_pays_the_phones_policy_its_repair_cost_once(units):
    # given: a repair partner (the brand's service centre) and a phone's screen policy
    repairer = hmac_client(channel_partner(units["CH"], code="fixit"), scopes=["events:write"])
    policy = _screen_policy("356938035643809")
    other = _screen_policy("356938035643810")
    event = {
        "kind": "screen",
        "event_id": "REP-0001",
        "imei": "356938035643809",
        "repaired_at": timezone.now().isoformat(),
        "repair_amount": "899.00",
    }
    # when
    first = post(Client(), repairer, f"{BASE}/events", event)
    second = post(Client(), repairer, f"{BASE}/events", {**event, "event_id": "REP-0002"})
    # then
    assert first.status_code == 201, first.content
    assert first.json()["payouts_made"] == 1, first.json()["note"]
    paid = TriggeredPayout.objects.get()
    assert paid.policy_id == policy.pk and paid.amount == Decimal("899.00")
    assert paid.event.repair_amount == Decimal("899.00") and paid.event.kind == "screen_repair"
    # one repair benefit per policy and phone, whichever event reports it again
    assert second.status_code == 201 and second.json()["payouts_made"] == 0
    assert not TriggeredPayout.objects.filter(policy=other).exists()


def test_a_screen_repair_names_its_wrong_fields(units):
    repairer = hmac_client(channel_partner(units["CH"]), scopes=["events:write"])
    bad = post(
        Client(),
        repairer,
        f"{BASE}/events",
        {
            "kind": "screen",
            "event_id": "R1",
            "imei": "123",
            "repaired_at": "2026-12-03",
            "repair_amount": "-5",
        },
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"imei", "repaired_at", "repair_amount"}


def test_the_feeds_signed_endpoint_takes_screen_repairs_too(settings):
    # given: a repair network configured as a feed source (claim/events_intake.py)
    from huibao.claim.tests.trigger_factories import KEY, signed

    settings.EVENT_SOURCE_KEYS = {"repairnet": KEY}
    policy = _screen_policy("356938035643811")
    body = json.dumps(
        {
            "event_id": "FEED-R1",
            "imei": "356938035643811",
            "repaired_at": timezone.now().isoformat(),
            "repair_amount": "450.50",
        }
    ).encode()
    # when
    response = Client().post(
        "/api/v1/events/repairnet/screen", body, content_type="application/json", **signed(body)
    )
    # then
    assert response.status_code == 200, response.content
    assert response.json()["payouts"] == 1
    assert TriggeredPayout.objects.get(policy=policy).amount == Decimal("450.50")
