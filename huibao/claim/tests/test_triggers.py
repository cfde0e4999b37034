"""Event-triggered payouts end to end: the index at issuance, the signed API, the file import,
the sandbox feed, and one payout per policy whatever arrives twice."""

from __future__ import annotations

import datetime
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from huibao.claim import triggers
from huibao.claim.event_models import (
    EventNonce,
    TriggeredPayout,
    TriggeredPayoutStatus,
    TriggerEvent,
    TriggerIndex,
)
from huibao.claim.events_intake import import_file
from huibao.claim.tasks import notify_pending
from huibao.claim.tests.factories import GOOD_CARD
from huibao.claim.tests.trigger_factories import (
    KEY,
    SOURCE,
    departure,
    flight_body,
    flight_policy,
    flight_version,
    signed,
)
from huibao.notification.models import OutboxMessage
from huibao.payment.models import Payout
from huibao.policy.tests.factories import customer

URL = f"/api/v1/events/{SOURCE}/flight"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keys(settings):
    settings.EVENT_SOURCE_KEYS = {SOURCE: KEY, "otherfeed": "other-key"}


@pytest.fixture
def flight():
    """Three travellers on MU5101 and one on CA1234, the same day."""
    version = flight_version()
    on_board = [flight_policy(version) for _ in range(3)]
    elsewhere = flight_policy(version, "CA1234")
    return version, on_board, elsewhere


def post(client, body: bytes, *, url: str = URL, **headers):
    return client.post(url, body, content_type="application/json", **(headers or signed(body)))


def test_issuance_indexes_each_traveller_by_flight_and_departure_date(flight):
    # given / when: the policies were issued (the fixture)
    _, on_board, elsewhere = flight
    # then
    day = departure(on_board[0]).isoformat()
    assert set(TriggerIndex.objects.filter(key=f"FL:MU5101:{day}").values_list("policy_id", flat=True)) == {
        p.pk for p in on_board
    }
    assert TriggerIndex.objects.get(policy=elsewhere).key == f"FL:CA1234:{day}"


def test_a_delay_beyond_the_threshold_pays_each_insured_on_the_flight_once(client, flight):
    # given
    _, on_board, elsewhere = flight
    body = flight_body(on_board[0], delay_minutes=245)
    # when
    response = post(client, body)
    # then
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["duplicate"] is False and answer["policies"] == 3 and answer["payouts"] == 3
    paid = TriggeredPayout.objects.select_related("payout", "event")
    assert {tp.policy_id for tp in paid} == {p.pk for p in on_board}
    event = TriggerEvent.objects.get()
    for tp in paid:
        assert tp.amount == Decimal("200.00")
        assert tp.status == TriggeredPayoutStatus.REQUESTED
        assert tp.line == "航班延误 4.08 小时，已自动赔付 ¥200.00"
        assert tp.payout.kind == "trigger"
        assert tp.payout.reference == f"E{event.pk}:{tp.policy.number}"
        assert tp.payout.account_last4 == GOOD_CARD[-4:]
    assert Payout.objects.filter(kind="trigger").count() == 3
    assert not TriggeredPayout.objects.filter(policy=elsewhere).exists()
    # each insured is told, once, by the task after the commit
    assert notify_pending() == 3 and notify_pending() == 0
    assert OutboxMessage.objects.filter(template="claim.trigger_paid", channel="inbox").count() == 3


def test_a_delay_below_the_threshold_pays_nobody(client, flight):
    # given
    _, on_board, _ = flight
    body = flight_body(on_board[0], delay_minutes=150)
    # when
    response = post(client, body)
    # then
    assert response.status_code == 200
    assert response.json()["payouts"] == 0
    assert "未达到 3 小时" in response.json()["note"]
    assert not TriggeredPayout.objects.exists() and not Payout.objects.exists()


def test_a_cancellation_pays_the_cancellation_benefit(client, flight):
    # given
    _, on_board, _ = flight
    body = flight_body(on_board[0], status="cancelled", delay_minutes=0)
    # when
    response = post(client, body)
    # then
    assert response.json()["payouts"] == 3
    assert set(TriggeredPayout.objects.values_list("amount", "coverage_code")) == {
        (Decimal("100.00"), "cancel")
    }


def test_the_same_event_delivered_twice_pays_once(client, flight):
    # given
    _, on_board, _ = flight
    body = flight_body(on_board[0], event_id="EV-1")
    assert post(client, body).json()["payouts"] == 3
    # when: the feed sends it again (a new nonce: a retry, not a replay)
    again = post(client, body)
    # then
    assert again.status_code == 200
    assert again.json()["duplicate"] is True and again.json()["payouts"] == 0
    assert TriggerEvent.objects.count() == 1
    assert Payout.objects.count() == 3


def test_two_sources_and_a_correction_for_the_same_flight_pay_nobody_twice(client, flight):
    # given
    _, on_board, _ = flight
    first = flight_body(on_board[0], event_id="A-1", delay_minutes=200)
    assert post(client, first).json()["payouts"] == 3
    # when: another feed reports the same flight, and the first corrects its delay
    other = flight_body(on_board[0], event_id="B-7", delay_minutes=210)
    second = post(client, other, url="/api/v1/events/otherfeed/flight", **signed(other, key="other-key"))
    corrected = flight_body(on_board[0], event_id="A-2", delay_minutes=400)
    third = post(client, corrected)
    # then
    assert second.json()["payouts"] == 0 and third.json()["payouts"] == 0
    assert TriggerEvent.objects.count() == 3
    assert Payout.objects.count() == 3
    # each payout is traceable to the event that caused it
    assert set(TriggeredPayout.objects.values_list("event__event_id", flat=True)) == {"A-1"}


def test_an_event_id_reused_with_other_content_is_refused(client, flight):
    # given
    _, on_board, _ = flight
    post(client, flight_body(on_board[0], event_id="EV-9", delay_minutes=200))
    # when
    response = post(client, flight_body(on_board[0], event_id="EV-9", delay_minutes=500))
    # then
    assert response.status_code == 409
    assert response.json()["code"] == "event_id_reused"
    assert Payout.objects.count() == 3


@pytest.mark.parametrize(
    ("mangle", "status", "code", "field"),
    [
        (lambda b, h: (b + b" ", h), 401, "bad_signature", "signature"),
        (lambda b, h: (b, signed(b, key="wrong")), 401, "bad_signature", "signature"),
        (
            lambda b, h: (b, signed(b, at=timezone.now() - datetime.timedelta(minutes=10))),
            401,
            "stale",
            "timestamp",
        ),
        (lambda b, h: (b, {k: v for k, v in h.items() if "NONCE" not in k}), 401, "required", "nonce"),
    ],
)
def test_a_bad_signature_or_a_stale_delivery_is_refused_and_changes_nothing(
    client, flight, mangle, status, code, field
):
    # given
    _, on_board, _ = flight
    body = flight_body(on_board[0])
    body, headers = mangle(body, signed(body))
    # when
    response = client.post(URL, body, content_type="application/json", **headers)
    # then
    assert response.status_code == status
    answer = response.json()
    assert answer["code"] == code and answer["errors"][0]["field"] == field and answer["message"]
    assert not TriggerEvent.objects.exists() and not Payout.objects.exists()


def test_a_replayed_nonce_is_refused(client, flight):
    # given
    _, on_board, _ = flight
    body = flight_body(on_board[0])
    headers = signed(body, nonce="n-1")
    assert post(client, body, **headers).status_code == 200
    # when: the very same signed request again
    response = post(client, body, **headers)
    # then
    assert response.status_code == 409
    assert response.json()["code"] == "replayed"
    assert response.json()["errors"] == [{"field": "nonce", "code": "replayed", "message": "nonce：已使用过"}]
    assert EventNonce.objects.count() == 1 and Payout.objects.count() == 3


def test_an_unknown_source_and_a_bad_event_are_refused_with_the_field(client, flight):
    _, on_board, _ = flight
    body = flight_body(on_board[0])
    unknown = client.post(
        "/api/v1/events/nobody/flight", body, content_type="application/json", **signed(body)
    )
    assert unknown.status_code == 401 and unknown.json()["errors"][0]["field"] == "source"
    bad = flight_body(on_board[0], flight_number="not a flight")
    refused = post(client, bad)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "flight_number"
    assert not TriggerEvent.objects.exists() and not EventNonce.objects.exists()


def _csv(rows: list[str]) -> bytes:
    return ("event_id,flight_number,flight_date,status,delay_minutes\n" + "\n".join(rows) + "\n").encode()


def test_a_file_pays_once_and_refuses_bad_rows_with_reasons(flight):
    # given
    _, on_board, elsewhere = flight
    day = departure(on_board[0]).isoformat()
    data = _csv(
        [
            f"F-1,MU5101,{day},delayed,200",
            f"F-2,CA1234,{day},delayed,60",
            f"F-3,MU5101,{day},delayd,200",
            "F-4,MU5101,,delayed,200",
            f"F-1,MU5101,{day},delayed,200",
        ]
    )
    # when
    outcomes = import_file("airport-file", "flight", "events.csv", data)
    # then
    assert [(o.row, o.accepted, o.duplicate, o.payouts) for o in outcomes] == [
        (2, True, False, 3),
        (3, True, False, 0),
        (4, False, False, 0),
        (5, False, False, 0),
        (6, True, True, 0),
    ]
    assert "status：" in outcomes[2].reason and "flight_date：" in outcomes[3].reason
    # the same file again pays nobody
    assert sum(o.payouts for o in import_file("airport-file", "flight", "events.csv", data)) == 0
    assert Payout.objects.count() == 3
    assert TriggerEvent.objects.get(event_id="F-2").note.startswith("延误 1 小时")
    assert not TriggeredPayout.objects.filter(policy=elsewhere).exists()


def test_an_excel_file_and_the_same_event_by_api_pay_once(client, flight):
    from openpyxl import Workbook

    # given
    _, on_board, _ = flight
    book = Workbook()
    sheet = book.active
    sheet.append(["event_id", "flight_number", "flight_date", "status", "delay_minutes"])
    sheet.append(["X-1", "MU5101", departure(on_board[0]), "cancelled", 0])
    out = io.BytesIO()
    book.save(out)
    # when
    outcomes = import_file(SOURCE, "flight", "events.xlsx", out.getvalue())
    api = post(client, flight_body(on_board[0], event_id="X-2", status="cancelled", delay_minutes=0))
    # then
    assert [(o.accepted, o.payouts) for o in outcomes] == [(True, 3)]
    assert api.json()["payouts"] == 0
    assert Payout.objects.count() == 3


def test_the_import_command_reports_each_row(flight, tmp_path):
    _, on_board, _ = flight
    path = tmp_path / "events.csv"
    path.write_bytes(
        _csv([f"C-1,MU5101,{departure(on_board[0]).isoformat()},delayed,300", "C-2,??,x,delayed,1"])
    )
    out = io.StringIO()
    with pytest.raises(Exception, match="1 row"):
        call_command("import_events", str(path), "--source", "ops", "--kind", "flight", stdout=out)
    text = out.getvalue()
    assert "row 2 C-1: accepted, 3 payout(s)" in text and "row 3 C-2: refused" in text


def test_without_a_stored_account_the_benefit_waits_and_the_customer_claims_it(client, flight):
    # given
    version, _, _ = flight
    owner = customer()
    policy = flight_policy(version, owner=owner, account=False)
    post(client, flight_body(policy, event_id="W-1"))
    tp = TriggeredPayout.objects.get(policy=policy)
    assert tp.status == TriggeredPayoutStatus.AWAITING_ACCOUNT and tp.payout is None
    notify_pending()
    assert OutboxMessage.objects.filter(user=owner, template="claim.trigger_unclaimed").exists()
    client.force_login(owner)
    # when: a bad card first, then a good one
    bad = client.post(f"/claims/auto/{tp.public_id}/", {"payee_name": "李春花", "account_number": "1234"})
    good = client.post(f"/claims/auto/{tp.public_id}/", {"payee_name": "李春花", "account_number": GOOD_CARD})
    # then
    assert bad.status_code == 422
    assert good.status_code == 302
    tp.refresh_from_db()
    assert tp.status == TriggeredPayoutStatus.REQUESTED
    assert tp.payout is not None and tp.payout.amount == Decimal("200.00")
    listing = client.get("/claims/auto/")
    assert "航班延误" in listing.content.decode() and "已发起付款" in listing.content.decode()


def test_a_payout_result_moves_the_benefit(client, flight):
    # given
    _, on_board, _ = flight
    post(client, flight_body(on_board[0]))
    tp = TriggeredPayout.objects.select_related("payout").first()
    assert tp is not None and tp.payout is not None
    # when
    triggers.on_payout_succeeded(tp.payout)
    # then
    tp.refresh_from_db()
    assert tp.status == TriggeredPayoutStatus.PAID


def test_backfill_indexes_policies_issued_before_the_index(flight):
    # given: the index lost (policies issued before it existed)
    TriggerIndex.objects.all().delete()
    # when
    out = io.StringIO()
    call_command("backfill_trigger_index", stdout=out)
    again = triggers.backfill_index()
    # then
    assert "indexed 4 policies" in out.getvalue()
    assert again == 0
    assert TriggerIndex.objects.count() == 4


def test_the_sandbox_feed_delivers_a_signed_event_that_pays(django_capture_on_commit_callbacks, flight):
    from huibao.sandbox import flight_feed
    from huibao.sandbox.models import SandboxFlightEvent

    # given
    _, on_board, _ = flight
    # when: the feed emits and its delivery runs (the test client is its transport)
    with django_capture_on_commit_callbacks(execute=True):
        row = flight_feed.emit("MU5101", departure(on_board[0]), "delayed", 190)
    delivered = flight_feed.deliver(row.event_id)
    # then
    assert delivered is True
    row.refresh_from_db()
    assert row.acknowledged_at is not None and row.attempts == 1
    event = TriggerEvent.objects.get()
    assert event.source == flight_feed.SOURCE and event.payouts_made == 3
    # the feed sends the same event again: acknowledged, nobody paid twice
    with django_capture_on_commit_callbacks(execute=True):
        flight_feed.emit("MU5101", departure(on_board[0]), "delayed", 190, event_id=row.event_id)
    assert flight_feed.deliver(row.event_id) is True
    assert SandboxFlightEvent.objects.get().attempts == 2
    assert Payout.objects.count() == 3


def test_staff_import_page_shows_each_row(client, flight):
    from huibao.policy.tests.factories import staff, staff_login

    _, on_board, _ = flight
    adjuster = staff("adj", ["add_triggerevent", "view_triggerevent"], app_label="claim")
    staff_login(client, adjuster)
    data = _csv([f"P-1,MU5101,{departure(on_board[0]).isoformat()},delayed,200", "P-2,MU5101,bad,delayed,1"])
    upload = io.BytesIO(data)
    upload.name = "events.csv"
    response = client.post("/claims/events/import/", {"source": "ops", "kind": "flight", "file": upload})
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('data-testid="import-row"') == 2 and "flight_date：" in page
    assert Payout.objects.count() == 3
    # without the permission: refused
    client.logout()
    client.force_login(customer())
    assert client.get("/claims/events/import/").status_code == 403


def test_staff_see_event_to_payouts_and_payout_to_event(client, flight):
    from django.urls import reverse

    from huibao.policy.tests.factories import staff, staff_login

    _, on_board, _ = flight
    post(client, flight_body(on_board[0], event_id="T-1"))
    event = TriggerEvent.objects.get()
    tp = TriggeredPayout.objects.first()
    assert tp is not None and tp.payout_id is not None
    staff_login(client, staff("adj2", ["view_triggerevent", "view_triggeredpayout"], app_label="claim"))
    event_page = client.get(reverse("admin:claim_triggerevent_change", args=[event.pk])).content.decode()
    payout_page = client.get(reverse("admin:claim_triggeredpayout_change", args=[tp.pk])).content.decode()
    payout_url = reverse("admin:payment_payout_change", args=[tp.payout_id])
    assert payout_url in event_page and payout_url in payout_page
    assert f"{SOURCE}:T-1" in payout_page
    assert json.dumps(str(tp.amount))[1:-1] in payout_page


def test_a_reported_return_pays_the_order_s_policy_once(client):
    from huibao.claim.tests.factories import GOOD_CARD as CARD
    from huibao.claim.tests.trigger_factories import return_policy

    # given
    policy = return_policy("ORD-20261203-01")
    other = return_policy("ORD-20261203-02")
    # the return happened just now, while the policy (effective the day it is issued) is in force
    returned_at = max(policy.effective_at, timezone.now()).isoformat()
    body = json.dumps(
        {"event_id": "RET-1", "order_number": "ORD-20261203-01", "returned_at": returned_at}
    ).encode()
    url = f"/api/v1/events/{SOURCE}/return"
    # when
    first = post(client, body, url=url)
    again = post(client, body, url=url)
    # then
    assert first.status_code == 200, first.content
    assert first.json()["payouts"] == 1 and again.json()["duplicate"] is True
    tp = TriggeredPayout.objects.select_related("payout").get()
    assert tp.policy_id == policy.pk and tp.amount == Decimal("12.00")
    assert tp.line == "退货已完成，运费险已自动赔付 ¥12.00"
    assert tp.payout.account_last4 == CARD[-4:]
    assert not TriggeredPayout.objects.filter(policy=other).exists()


def test_the_ledger_holds_a_benefit_already_paid_by_a_claim(client, flight):
    from huibao.claim import limits, selectors
    from huibao.claim.rules import Loss

    # given: one traveller's delay benefit already paid through an ordinary claim
    _, on_board, _ = flight
    claimed = on_board[0]
    terms = selectors.terms_of(claimed).coverage("delay")
    assert terms is not None
    limits.record_benefit(
        claimed,
        terms,
        Loss(amount_claimed=Decimal("200")),
        reference="LP-1",
        incident_date=departure(claimed),
    )
    # when
    answer = post(client, flight_body(claimed, delay_minutes=300)).json()
    # then: the other two are paid, the claimed one is not paid twice
    assert answer["payouts"] == 2
    assert "已给付过" in answer["note"]
    assert not TriggeredPayout.objects.filter(policy=claimed).exists()


def test_the_daily_job_writes_the_messages_a_lost_task_did_not(client, flight):
    # given: three automatic benefits whose after-commit message task never ran
    from huibao.jobs import services as jobs
    from huibao.jobs.registry import registered_jobs

    _, on_board, _ = flight
    assert post(client, flight_body(on_board[0], delay_minutes=245)).status_code == 200
    assert TriggeredPayout.objects.filter(notified_at__isnull=True).count() == 3
    (job,) = registered_jobs(["claim.trigger_notices"])
    # when: the daily runner runs it, twice
    first = jobs.Runner().run_job(job, timezone.localdate())
    again = jobs.Runner().run_job(job, timezone.localdate())
    # then: each insured is told once, and the second run has nothing to do
    assert first.status == "succeeded", first.error
    assert again.status in {"succeeded", "skipped"}
    assert not TriggeredPayout.objects.filter(notified_at__isnull=True).exists()
    assert OutboxMessage.objects.filter(template="claim.trigger_paid", channel="inbox").count() == 3
