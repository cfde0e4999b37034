"""The customer's premiums: paying an instalment now at the hosted checkout, reinstating a lapsed
policy (health questions again), the messages about both, the due reminders (time-machine), the
pages and the API (owner only)."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from huibao.application.states import ApplicationStatus
from huibao.billing import services as billing
from huibao.billing.models import Instalment, PremiumSchedule
from huibao.billing.tests.factories import deliver_owed, mandate
from huibao.core.models import AuditEntry
from huibao.notification.models import OutboxMessage
from huibao.payment.models import Payment
from huibao.payment.tests.factories import GOOD_CARD
from huibao.policy import reinstatement, services
from huibao.policy.models import Policy, ReinstatementReferral
from huibao.policy.states import PartyRole, PolicyStatus
from huibao.policy.tests import factories as f
from huibao.sandbox import payment as sandbox_payment

pytestmark = pytest.mark.django_db
P = PolicyStatus
TZ = timezone.get_default_timezone()
ISSUED_ON = datetime.date(2026, 1, 10)
QUESTIONS = [
    {"code": "hospital", "text": "过去两年内是否住院治疗？", "knock_out_answer": True},
    {"code": "cancer", "text": "是否曾患恶性肿瘤？", "knock_out_answer": True},
]


@pytest.fixture(autouse=True)
def gateway(settings, monkeypatch):
    from django.test import Client

    from huibao.payment.tests.factories import client_transport
    from huibao.sandbox import notifications

    settings.SANDBOX_MANDATE_FAILURE_RATE = 0.0
    monkeypatch.setattr(notifications, "http_post", client_transport(Client()))
    sandbox_payment.MANDATE_FAULTS.force(0)
    yield settings
    sandbox_payment.MANDATE_FAULTS.force(0)


def at(d: datetime.date, hour: int = 9) -> time_machine.travel:
    return time_machine.travel(datetime.datetime(d.year, d.month, d.day, hour, tzinfo=TZ), tick=False)


def monthly_policy(
    *,
    servicing: dict[str, Any] | None = None,
    with_mandate: bool = False,
    questions: list[dict[str, Any]] | None = None,
    insured: f.Person | None = None,
) -> Policy:
    """A monthly policy of 1,200.00 a year issued on 10 Jan 2026, in force from the 11th."""
    with at(ISSUED_ON):
        user = f.customer()
        version = f.product_version()
        version.servicing = servicing or {"grace_days": 30}
        version.eligibility = {"health_questions": QUESTIONS if questions is None else questions}
        version.save(update_fields=["servicing", "eligibility"])
        app = f.application(
            [(version, insured or f.Person(), 500_000, "1200.00", {"term": "1y", "payment_mode": "monthly"})],
            customer=user,
            status=ApplicationStatus.AWAITING_PAYMENT,
        )
        policy = f.issue(app)[0]
        if with_mandate:
            schedule = PremiumSchedule.objects.get(reference_id=policy.number)
            billing.attach_mandate(schedule, mandate(user.pk))
    day(timezone.localtime(policy.effective_at).date())
    return Policy.objects.get(pk=policy.pk)


def day(d: datetime.date) -> None:
    with at(d):
        billing.run_daily(d)
        deliver_owed()
        services.update_policy_statuses()


def due(policy: Policy, number: int) -> datetime.date:
    return Instalment.objects.get(schedule__reference_id=policy.number, number=number).due_on


def lapse(policy: Policy) -> datetime.date:
    """Instalment 2 unpaid past its 30 days of grace: lapsed on the 31st day."""
    on = due(policy, 2) + datetime.timedelta(days=31)
    day(due(policy, 2) + datetime.timedelta(days=1))
    day(on)
    assert Policy.objects.get(pk=policy.pk).status == P.LAPSED
    return on


def pay_at_gateway(policy: Policy, payment: Payment) -> None:
    holder = policy.parties.get(role=PartyRole.HOLDER)
    sandbox_payment.submit_payment(
        payment.provider_txn_id,
        payer_name=holder.name,
        id_number=holder.id_number,
        card_number=GOOD_CARD,
        action="pay",
    )
    deliver_owed()


def messages(policy: Policy, template: str) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(user_id=policy.customer_id, template=template, channel="inbox"))


def api(client: Any, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    url = "/api/v1" + path
    if method == "get":
        return client.get(url)
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


# --- paying an instalment now ----------------------------------------------------------------------


def test_the_premiums_page_pays_an_overdue_instalment_and_the_policy_is_back_in_force(client) -> None:
    # given: instalment 2 unpaid the day after its due date (no mandate): in grace
    policy = monthly_policy()
    overdue_day = due(policy, 2) + datetime.timedelta(days=1)
    day(overdue_day)
    assert Policy.objects.get(pk=policy.pk).status == P.IN_GRACE
    [grace] = messages(policy, "policy.in_grace")
    assert "2026年3月13日" in grace.body  # due 11 Feb + 30 days
    client.force_login(policy.customer)
    url = reverse("policy:premiums", args=[policy.public_id])
    with at(overdue_day, 10):
        page = client.get(url).content.decode()
        assert 'data-testid="grace"' in page and 'data-testid="pay-now"' in page
        assert page.count('data-testid="instalment"') == 12
        # when: the customer pays now (twice: a double tap)
        first = client.post(url, {"instalment": "2"})
        again = client.post(url, {"instalment": "2"})
    # then: one payment of the instalment's amount, the same checkout both times
    payment = Payment.objects.get(reference_kind=billing.CHECKOUT_KIND)
    assert first.status_code == 302 and first["Location"] == payment.checkout_url
    assert again["Location"] == payment.checkout_url
    assert payment.amount == Decimal("100.00")
    # when: paid at the gateway (within its 30 minutes)
    with at(overdue_day, 10):
        pay_at_gateway(policy, payment)
    # then: the instalment is paid by it, the policy in force again, the customer told
    inst = Instalment.objects.get(schedule__reference_id=policy.number, number=2)
    assert inst.status == "paid" and inst.payment_reference == payment.merchant_ref
    assert Policy.objects.get(pk=policy.pk).status == P.IN_FORCE
    assert any("逾期保费已缴清" in m.body for m in messages(policy, "policy.in_force"))
    with at(overdue_day, 12):
        page = client.get(url).content.decode()
    assert 'data-testid="grace"' not in page and "立即缴纳第3期" in page


@pytest.mark.parametrize(
    ("number", "code"),
    [
        (1, "instalment_paid"),  # paid at checkout
        (3, "earlier_instalment_unpaid"),  # instalment 2 comes first
        (99, "instalment_not_found"),
    ],
)
def test_paying_an_instalment_that_cannot_be_paid_is_refused_and_changes_nothing(
    client, number: int, code: str
) -> None:
    policy = monthly_policy()
    client.force_login(policy.customer)
    with at(due(policy, 2)):
        response = api(client, "post", f"/policies/{policy.public_id}/premiums/{number}/payments")
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == code and body["errors"][0]["field"] == "instalment"
    assert not Payment.objects.filter(reference_kind=billing.CHECKOUT_KIND).exists()


def test_an_instalment_of_a_lapsed_policy_is_paid_by_reinstating(client) -> None:
    policy = monthly_policy()
    on = lapse(policy)
    client.force_login(policy.customer)
    with at(on):
        response = api(client, "post", f"/policies/{policy.public_id}/premiums/2/payments")
        page = client.post(reverse("policy:premiums", args=[policy.public_id]), {"instalment": "2"})
    assert response.status_code == 409 and response.json()["code"] == "policy_lapsed"
    assert page.status_code == 409 and "请办理复效" in page.content.decode()
    assert not Payment.objects.filter(reference_kind=billing.CHECKOUT_KIND).exists()


def test_a_checkout_paid_after_the_mandate_collected_the_instalment_is_refunded(
    django_capture_on_commit_callbacks,
) -> None:
    # given: an open checkout of instalment 2, then the instalment is paid by other means
    policy = monthly_policy()
    from huibao.policy import premiums

    with at(due(policy, 2)):
        payment = premiums.pay_instalment(policy, 2, user=policy.customer)
        Instalment.objects.filter(schedule__reference_id=policy.number, number=2).update(
            status="paid", paid_at=timezone.now(), payment_reference="BANK-TRANSFER"
        )
        # when: the checkout is paid too
        with django_capture_on_commit_callbacks(execute=True):
            pay_at_gateway(policy, payment)
    # then: the money goes back, nothing is paid twice
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("100.00")


# --- reinstatement ---------------------------------------------------------------------------------


def test_reinstatement_by_the_api_health_questions_then_payment(client) -> None:
    # given: a lapsed policy, 20 days after the lapse (instalments 2 and 3 fallen due)
    policy = monthly_policy()
    on = lapse(policy) + datetime.timedelta(days=20)
    [lapsed] = messages(policy, "policy.lapsed")
    assert "2028年" in lapsed.body  # two years to reinstate (the default)
    client.force_login(policy.customer)
    path = f"/policies/{policy.public_id}/reinstatement"
    with at(on):
        offer = api(client, "get", path).json()
        # then: owed line by line
        assert offer["available"] is True
        assert [(i["number"], i["amount"]) for i in offer["instalments"]] == [(2, "100.00"), (3, "100.00")]
        assert offer["total"] == "200.00"
        assert [q["code"] for q in offer["health_questions"]] == ["hospital", "cancer"]
        # when: a question unanswered
        missing = api(client, "post", path, {"health_answers": {"hospital": False}})
        assert missing.status_code == 422
        assert [e["field"] for e in missing.json()["errors"]] == ["health_answers.cancer"]
        # when: a "yes": online reinstatement refused, referred to an underwriter
        yes = api(client, "post", path, {"health_answers": {"hospital": True, "cancer": False}})
        assert yes.status_code == 409 and yes.json()["code"] == "needs_underwriting"
        assert "人工核保" in yes.json()["message"]
        assert not Payment.objects.filter(reference_kind=billing.CHECKOUT_KIND).exists()
        referred = AuditEntry.objects.get(action="policy.reinstatement_referred", object_id=policy.number)
        assert referred.after["flagged_answers"] == 1 and "hospital" not in json.dumps(referred.after)
        # when: answered again while the underwriter has it: refused, nothing opened
        waiting = api(client, "post", path, {"health_answers": {"hospital": False, "cancer": False}})
        assert waiting.status_code == 409 and waiting.json()["code"] == "referral_pending"
        assert api(client, "get", path).json()["referral_status"] == "referred"
        # when: the underwriter accepts the answers
        underwriter = f.staff("uw", ["decide_reinstatement"])
        reinstatement.approve_referral(ReinstatementReferral.objects.get(policy=policy), actor=underwriter)
        after = api(client, "get", path).json()
        assert after["available"] is True and after["health_questions"] == []
        assert after["referral_status"] == "approved"
        # then: the checkout opens without asking the questions again
        ok = api(client, "post", path, {})
        assert ok.status_code == 201, ok.content
        payment = Payment.objects.get(reference_kind=billing.CHECKOUT_KIND)
        assert ok.json()["checkout_url"] == payment.checkout_url and payment.amount == Decimal("200.00")
        # the policy is still lapsed until the payment is confirmed
        assert Policy.objects.get(pk=policy.pk).status == P.LAPSED
        pay_at_gateway(policy, payment)
    # then: reinstated, the owed instalments paid, the customer told
    assert Policy.objects.get(pk=policy.pk).status == P.REINSTATED
    statuses = dict(
        Instalment.objects.filter(schedule__reference_id=policy.number).values_list("number", "status")
    )
    assert statuses[2] == statuses[3] == "paid" and statuses[4] == "due"
    assert len(messages(policy, "policy.reinstated")) == 1
    # and the approved referral has served its purpose
    assert ReinstatementReferral.objects.get(policy=policy).status == "closed"
    # when: asked again: refused, it is not lapsed
    with at(on):
        again = api(client, "post", path, {"health_answers": {"hospital": False, "cancer": False}})
    assert again.status_code == 409 and again.json()["code"] == "not_lapsed"
    assert Payment.objects.filter(reference_kind=billing.CHECKOUT_KIND).count() == 1


PREGNANT = {"code": "pregnant", "text": "目前是否怀孕？", "knock_out_answer": True, "sex": "F"}


@pytest.mark.parametrize(
    ("sex", "asked"), [("M", ["hospital", "cancer"]), ("F", ["hospital", "cancer", "pregnant"])]
)
def test_reinstatement_asks_only_the_health_questions_of_the_insureds_sex(client, sex, asked) -> None:
    # given: a product whose questions include one asked only of women (as the application form)
    policy = monthly_policy(questions=[*QUESTIONS, PREGNANT], insured=f.Person(sex=sex))
    on = lapse(policy)
    client.force_login(policy.customer)
    path = f"/policies/{policy.public_id}/reinstatement"
    url = reverse("policy:reinstate", args=[policy.public_id])
    with at(on):
        offer = api(client, "get", path).json()
        page = client.get(url).content.decode()
        # when: the two common questions answered, the one for women not
        partial = api(client, "post", path, {"health_answers": {"hospital": False, "cancer": True}})
    # then: asked as the application asks: 怀孕 of a woman only (API and page alike)
    assert [q["code"] for q in offer["health_questions"]] == asked
    assert page.count('data-testid="question"') == len(asked)
    assert ("目前是否怀孕" in page) is (sex == "F")
    if sex == "F":
        # a woman must answer it: nothing is referred until she does
        assert partial.status_code == 422
        assert [e["field"] for e in partial.json()["errors"]] == ["health_answers.pregnant"]
        assert not ReinstatementReferral.objects.filter(policy=policy).exists()
        return
    # a man is not asked it: the other answers suffice (the "yes" is referred to an underwriter)
    assert partial.status_code == 409 and partial.json()["code"] == "needs_underwriting"
    referral = ReinstatementReferral.objects.get(policy=policy)
    assert reinstatement.answers_of(referral) == {"hospital": False, "cancer": True}


def test_a_mans_answer_to_a_question_for_women_is_not_kept_nor_referred(client) -> None:
    # given: a lapsed policy of a man; the product asks women 目前是否怀孕 (knock-out answer yes)
    policy = monthly_policy(questions=[*QUESTIONS, PREGNANT], insured=f.Person(sex="M"))
    on = lapse(policy)
    client.force_login(policy.customer)
    path = f"/policies/{policy.public_id}/reinstatement"
    with at(on):
        # when: he sends an answer to it anyway (a "yes" that would need underwriting)
        response = api(
            client, "post", path, {"health_answers": {"hospital": False, "cancer": False, "pregnant": True}}
        )
    # then: the answer is dropped: no referral, the checkout opens
    assert response.status_code == 201, response.content
    assert not ReinstatementReferral.objects.filter(policy=policy).exists()
    assert Payment.objects.filter(reference_kind=billing.CHECKOUT_KIND).count() == 1


def test_reinstatement_of_a_policy_in_force_is_refused(client) -> None:
    policy = monthly_policy()
    client.force_login(policy.customer)
    with at(due(policy, 2)):
        offer = api(client, "get", f"/policies/{policy.public_id}/reinstatement").json()
        response = api(client, "post", f"/policies/{policy.public_id}/reinstatement", {})
    assert offer["available"] is False and "无需复效" in offer["refusal"]
    assert response.status_code == 409 and response.json()["code"] == "not_lapsed"


def test_reinstatement_past_the_products_period_is_refused(client) -> None:
    # given: a product allowing one year to reinstate, without health questions
    policy = monthly_policy(
        servicing={"grace_days": 30, "reinstatement": {"years": 1, "health_questions": False}}
    )
    on = lapse(policy)
    path = f"/policies/{policy.public_id}/reinstatement"
    with at(on + datetime.timedelta(days=300)):
        client.force_login(policy.customer)
        inside = api(client, "get", path).json()
    with at(on + datetime.timedelta(days=400)):
        client.force_login(policy.customer)
        outside = api(client, "get", path).json()
        response = api(client, "post", path, {})
    assert inside["available"] is True and inside["health_questions"] == []
    assert outside["available"] is False and "已超过复效期（失效后1年" in outside["refusal"]
    assert response.status_code == 409 and response.json()["code"] == "not_reinstatable"
    assert not Payment.objects.filter(reference_kind=billing.CHECKOUT_KIND).exists()


def test_the_reinstatement_page_explains_what_is_owed_and_opens_the_checkout(client) -> None:
    policy = monthly_policy()
    on = lapse(policy)
    client.force_login(policy.customer)
    url = reverse("policy:reinstate", args=[policy.public_id])
    with at(on):
        premiums_page = client.get(reverse("policy:premiums", args=[policy.public_id])).content.decode()
        page = client.get(url).content.decode()
        unanswered = client.post(url, {"q_hospital": "no"})
        ok = client.post(url, {"q_hospital": "no", "q_cancer": "no"})
    assert 'data-testid="reinstate"' in premiums_page
    with at(on):
        actions = {
            a["key"]: a for a in api(client, "get", f"/policies/{policy.public_id}/actions").json()["actions"]
        }
    assert actions["reinstate"]["url"] == url and actions["reinstate"]["urgent"] is True
    assert actions["reinstate"]["api_url"] == f"/api/v1/policies/{policy.public_id}/reinstatement"
    # lapsed on 14 Mar: instalments 2 (11 Feb) and 3 (11 Mar) are owed
    assert page.count('data-testid="owed-line"') == 2 and "¥200.00" in page
    assert page.count('data-testid="question"') == 2
    assert unanswered.status_code == 422 and "请回答健康告知" in unanswered.content.decode()
    payment = Payment.objects.get(reference_kind=billing.CHECKOUT_KIND)
    assert ok.status_code == 302 and ok["Location"] == payment.checkout_url


# --- owner only ----------------------------------------------------------------------------------


def test_another_customer_gets_404_everywhere(client) -> None:
    policy = monthly_policy()
    client.force_login(f.customer())
    base = f"/policies/{policy.public_id}"
    assert api(client, "get", f"{base}/premiums").status_code == 404
    assert api(client, "post", f"{base}/premiums/2/payments").status_code == 404
    assert api(client, "get", f"{base}/reinstatement").status_code == 404
    assert api(client, "post", f"{base}/reinstatement", {}).status_code == 404
    assert api(client, "get", f"{base}/history").status_code == 404
    for name in ("policy:premiums", "policy:reinstate", "policy:history"):
        assert client.get(reverse(name, args=[policy.public_id])).status_code == 404
    assert (
        client.post(reverse("policy:premiums", args=[policy.public_id]), {"instalment": "2"}).status_code
        == 404
    )
    assert not Payment.objects.filter(reference_kind=billing.CHECKOUT_KIND).exists()


def test_the_api_lists_premiums_and_the_hub_links_the_page(client) -> None:
    policy = monthly_policy()
    client.force_login(policy.customer)
    page_url = reverse("policy:premiums", args=[policy.public_id])
    with at(due(policy, 2)):
        premiums = api(client, "get", f"/policies/{policy.public_id}/premiums").json()
        actions = {
            a["key"]: a for a in api(client, "get", f"/policies/{policy.public_id}/actions").json()["actions"]
        }
    assert premiums["has_schedule"] is True and premiums["payable_instalment"] == 2
    assert [i["status"] for i in premiums["instalments"]][:2] == ["paid", "due"]
    assert premiums["paid_total"] == "100.00" and premiums["total"] == "1200.00"
    assert actions["premiums"]["url"] == page_url and "pay_now" not in actions
    # in grace: the urgent "pay now" leads to the same page
    day(due(policy, 2) + datetime.timedelta(days=1))
    with at(due(policy, 2) + datetime.timedelta(days=1), 10):
        actions = {
            a["key"]: a for a in api(client, "get", f"/policies/{policy.public_id}/actions").json()["actions"]
        }
    assert actions["pay_now"]["url"] == page_url and actions["pay_now"]["urgent"] is True


def test_a_policy_paid_in_full_has_no_schedule(client) -> None:
    policy = f.simple_issued(f.customer())
    client.force_login(policy.customer)
    premiums = api(client, "get", f"/policies/{policy.public_id}/premiums").json()
    page = client.get(reverse("policy:premiums", args=[policy.public_id])).content.decode()
    assert premiums["has_schedule"] is False and premiums["instalments"] == []
    assert 'data-testid="no-schedule"' in page


# --- messages --------------------------------------------------------------------------------------


def test_the_due_reminder_is_sent_once_three_days_before_the_due_date() -> None:
    policy = monthly_policy()
    due_on = due(policy, 2)
    sent_on = []
    d = due_on - datetime.timedelta(days=10)
    while d <= due_on:
        with at(d):
            if services.send_due_reminders(d)["reminded"]:
                sent_on.append(d)
            services.send_due_reminders(d)  # a second run the same day
        d += datetime.timedelta(days=1)
    assert sent_on == [due_on - datetime.timedelta(days=3)]
    [reminder] = messages(policy, "policy.premium_due")
    assert "第2期保费¥100.00" in reminder.body and "2026年2月11日" in reminder.body


def test_a_failed_collection_tells_the_reason_and_how_to_pay_now(gateway) -> None:
    policy = monthly_policy(with_mandate=True)
    gateway.SANDBOX_MANDATE_FAILURE_RATE = 1.0
    day(due(policy, 2))
    day(due(policy, 2))  # the same day again: one attempt a day, one message
    [failed] = messages(policy, "policy.collection_failed")
    assert "账户余额不足" in failed.body and "立即缴费" in failed.body


def test_the_daily_jobs_move_the_policy_and_remind_once(gateway) -> None:
    from huibao.jobs import services as jobs

    # given: a monthly policy with a mandate whose charges fail
    policy = monthly_policy(with_mandate=True)
    gateway.SANDBOX_MANDATE_FAILURE_RATE = 1.0
    names = [
        "policy.statuses",
        "billing.mark_overdue",
        "billing.lapse_after_grace",
        "billing.collect_due",
        "policy.premium_due_reminders",
    ]
    reminder_day = due(policy, 2) - datetime.timedelta(days=3)
    # when: the jobs run for the reminder day, twice, then for the day after the due date
    for run_date in (reminder_day, reminder_day, due(policy, 2), due(policy, 2) + datetime.timedelta(days=1)):
        with at(run_date, 2):
            outcomes = jobs.run_daily(run_date, only=names)
            deliver_owed()
        assert [o.job for o in outcomes] == names
    # then: one reminder; the failed charge told; the policy in grace
    assert len(messages(policy, "policy.premium_due")) == 1
    assert len(messages(policy, "policy.collection_failed")) >= 1
    assert Policy.objects.get(pk=policy.pk).status == P.IN_GRACE


def test_the_openapi_lists_the_premium_endpoints_and_their_statuses(client) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    base = "/api/v1/policies/{public_id}"
    expected = {
        (f"{base}/premiums", "get"): {"200", "404"},
        (f"{base}/premiums/{{number}}/payments", "post"): {"201", "404", "409", "422"},
        (f"{base}/reinstatement", "get"): {"200", "404"},
        (f"{base}/reinstatement", "post"): {"201", "404", "409", "422"},
    }
    for (path, method), statuses in expected.items():
        assert statuses <= set(paths[path][method]["responses"]), path


def test_checkout_references_round_trip() -> None:
    from huibao.billing import rules

    assert rules.checkout_reference("abc", (2, 3)) == "abc:2,3"
    assert rules.parse_checkout_reference("abc:2,3") == ("abc", (2, 3))
    for bad in ("abc", "abc:", ":2", "abc:x"):
        with pytest.raises(rules.ScheduleError):
            rules.parse_checkout_reference(bad)
    # twelve instalments fit the payment's reference (64 characters)
    assert len(rules.checkout_reference("0" * 36, tuple(range(1, 13)))) <= 64
