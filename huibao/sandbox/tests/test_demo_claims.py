"""The demo claims (`load_demo_claims`, run by `setup_demo`): one claim in each state the claims
desk and the fraud queue show — fast-tracked and paid, in review, blocked with a case, on hold —
bought, reported and screened through the real use-cases, and the demo customer's flight-delay
policy, which a delay sent from the sandbox flight feed page pays without a claim."""

from __future__ import annotations

from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from huibao.account.demo import DEMO_CUSTOMER_PHONE, create_demo_users
from huibao.account.selectors import customer_by_phone
from huibao.claim.models import Claim, ClaimTriage, TriggeredPayout, TriggerIndex
from huibao.fraud.models import FraudCase, FraudHold
from huibao.policy.models import Policy
from huibao.sandbox import demo_claims, flight_feed

pytestmark = pytest.mark.django_db


@pytest.fixture
def market(settings):
    settings.HUIBAO_PUBLIC_URL = "https://huibao.example"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("load_demo", products=60, verbosity=0)
    call_command("load_demo_claim_insurers", verbosity=0)
    create_demo_users()


def test_load_demo_claims_makes_a_claim_in_each_state_once(
    market, django_capture_on_commit_callbacks
) -> None:
    # when: the command runs (twice: setup_demo runs again on a kept database)
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo_claims", stdout=out)
    call_command("load_demo_claims", stdout=StringIO())
    # then: the fraud team's customer has one claim in each state, decided by the real triage
    other = customer_by_phone(demo_claims.RISK_PHONE)
    claims = Claim.objects.filter(claimant=other)
    assert Counter(claims.values_list("status", flat=True)) == {
        "paid": 1,
        "under_review": 2,
        "on_hold": 1,
    }
    routes = dict(
        ClaimTriage.objects.filter(claim__in=claims).values_list("claim__status", "route").distinct()
    )
    assert routes["paid"] == "pass" and routes["on_hold"] == "hold"
    assert sorted(
        ClaimTriage.objects.filter(claim__status="under_review").values_list("route", flat=True)
    ) == [
        "block",
        "review",
    ]
    assert claims.get(status="paid").auto_decided
    # the analysts' queue: a case for the review and one for the block; the held claim waits
    cases = FraudCase.objects.filter(status="open")
    assert sorted(cases.values_list("screening__route", flat=True)) == ["block", "review"]
    assert FraudHold.objects.filter(status="held").count() == 1
    # the demo customer: no claim of theirs is held by the demo's cases; a flight policy for today
    user = customer_by_phone(DEMO_CUSTOMER_PHONE)
    assert not Claim.objects.filter(claimant=user).exists()
    flight = Policy.objects.get(customer=user, product_version__product__line="flight_delay")
    key = f"FL:{demo_claims.DEMO_FLIGHT}:{timezone.localdate().isoformat()}"
    assert TriggerIndex.objects.filter(policy=flight, key=key).exists()
    printed = out.getvalue()
    assert "暂缓处理" in printed and demo_claims.DEMO_FLIGHT in printed


def test_a_delay_sent_from_the_flight_feed_page_pays_the_demo_flight(
    market, client, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    # given: the demo claims and flight policy, and an adjuster on the feed page
    from django.test import Client

    from huibao.payment.tests.factories import client_transport
    from huibao.policy.tests.factories import staff, staff_login
    from huibao.sandbox import notifications

    monkeypatch.setattr(notifications, "http_post", client_transport(Client()))  # the feed's network
    demo_claims.load_demo_claims()

    person = staff("feed-adjuster", ["add_triggerevent"], app_label="claim")
    staff_login(client, person)
    page = client.get("/sandbox/flight-feed/")
    assert page.status_code == 200 and demo_claims.DEMO_FLIGHT in page.content.decode()
    # when: a bad delay is sent, then a four-hour delay of the demo flight
    bad = client.post(
        "/sandbox/flight-feed/",
        {"flight_number": "MU5101", "flight_date": "x", "status": "delayed", "delay_minutes": "0"},
    )
    assert bad.status_code == 422 and not flight_feed.recent_events()
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(
            "/sandbox/flight-feed/",
            {
                "flight_number": demo_claims.DEMO_FLIGHT.lower(),
                "flight_date": timezone.localdate().isoformat(),
                "status": "delayed",
                "delay_minutes": "240",
            },
        )
    assert sent.status_code == 302
    event = flight_feed.recent_events()[0]
    assert flight_feed.deliver(event.event_id) is True
    # then: the platform acknowledged it and the demo customer's policy has its payout, no claim
    event.refresh_from_db()
    assert event.acknowledged_at is not None
    user = customer_by_phone(DEMO_CUSTOMER_PHONE)
    assert TriggeredPayout.objects.filter(policy__customer=user).count() == 1
