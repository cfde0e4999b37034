"""The demo customer's policies (`load_demo_policies`, run by `setup_demo` after `load_demo`):
five real policies of the demo market, bought through the sandbox gateway and issued through
the application's issuance at their stories' dates, then moved by the daily jobs — one in force
past its waiting period, one monthly in grace with an instalment to pay, one in cooling-off
(the whole premium back), one near expiry with an open renewal offer, one expired."""

from __future__ import annotations

import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from huibao.account.demo import DEMO_CUSTOMER_PHONE, create_demo_users
from huibao.account.selectors import customer_by_phone
from huibao.application.models import Application
from huibao.application.states import ApplicationStatus
from huibao.billing.models import PremiumSchedule
from huibao.core.models import AuditEntry
from huibao.esign import handwriting
from huibao.jobs.models import JobRun
from huibao.jobs.services import run_daily
from huibao.payment.models import Payment
from huibao.policy import cancellation, premiums
from huibao.policy.models import InsurerDelivery, Policy
from huibao.policy.states import PolicyStatus
from huibao.renewal.models import RenewalOffer
from huibao.sandbox import demo

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def demo_customer(settings):
    settings.HUIBAO_PUBLIC_URL = "https://huibao.example"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("load_demo", products=60, verbosity=0)
    create_demo_users()
    user = customer_by_phone(DEMO_CUSTOMER_PHONE)
    assert user is not None
    return user


def test_the_demo_signature_passes_the_handwriting_check() -> None:
    ink = handwriting.parse_strokes(demo.signature_ink("张明远"))
    assert handwriting.check_handwritten_signature(ink, "张明远") == []


@pytest.mark.parametrize("jobs_ran_before", [False, True], ids=["fresh", "scheduler-ran-before"])
def test_load_demo_policies_gives_the_demo_customer_a_policy_at_each_point_of_its_life(
    demo_customer, django_capture_on_commit_callbacks, jobs_ran_before
) -> None:
    # given: the demo market and log-ins (and, on a kept database, the days' jobs already run
    # by the scheduler before the customer had policies)
    today = timezone.localdate()
    if jobs_ran_before:
        for days_ago in range(demo.JOBS_FROM_DAYS_AGO, -1, -1):
            run_daily(today - datetime.timedelta(days=days_ago))

    # when: the command runs (twice: setup_demo is run again on a kept database)
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo_policies", stdout=out)
    call_command("load_demo_policies", stdout=StringIO())

    # then: five policies, once, each at its point of a policy's life
    policies = {
        p.status_story: p
        for p in (
            _with_story(p)
            for p in Policy.objects.filter(customer=demo_customer).select_related("product_version")
        )
    }
    assert Policy.objects.filter(customer=demo_customer).count() == 5
    assert set(policies) == {"in_force", "in_grace", "cooling_off", "renewal_offer", "expired"}

    # in force, started longer ago than its longest waiting period
    in_force = policies["in_force"]
    assert in_force.status == PolicyStatus.IN_FORCE
    waiting = max(c.waiting_period_days for c in in_force.plan.coverages.all())
    assert timezone.localtime(in_force.effective_at).date() + datetime.timedelta(days=waiting) < today

    # monthly, in grace, its overdue instalment payable now
    in_grace = policies["in_grace"]
    schedule = PremiumSchedule.objects.get(reference_kind="policy", reference_id=in_grace.number)
    assert in_grace.status == PolicyStatus.IN_GRACE and schedule.mode == "monthly"
    view = premiums.premiums_of(in_grace)
    assert view.payable is not None and view.payable.overdue and view.grace_until is not None
    assert view.grace_until >= today

    # in cooling-off: cancelling gives the whole premium back
    cooling = policies["cooling_off"]
    assert cooling.cooling_off_until is not None and cooling.cooling_off_until >= today
    refund = cancellation.quote(cooling)
    assert refund.method == "cooling_off" and refund.amount == refund.paid == cooling.premium

    # near expiry with an open renewal offer
    renewing = policies["renewal_offer"]
    offer = RenewalOffer.objects.get(policy=renewing)
    assert offer.status == "offered" and renewing.status == PolicyStatus.IN_FORCE
    assert renewing.expires_at is not None
    assert 0 < (timezone.localtime(renewing.expires_at).date() - today).days <= 30

    # expired, by the status sweep
    assert policies["expired"].status == PolicyStatus.EXPIRED

    # each issued through the real path: a paid sandbox payment, an issued application, the
    # issuance audited, an insurer delivery, its e-policy queued for rendering
    for policy in policies.values():
        app = Application.objects.get(pk=policy.application_id)
        assert app.status == ApplicationStatus.ISSUED and app.signatures.exists()
        payment = Payment.objects.get(reference_kind="application", reference_id=str(app.public_id))
        assert payment.status == "succeeded" and payment.amount > Decimal(0)
        assert AuditEntry.objects.filter(action="policy.issued", object_id=policy.number).exists()
        assert InsurerDelivery.objects.filter(policy=policy, kind="policy").exists()
    rendered = DBTaskResult.objects.filter(task_path__endswith="render_epolicy_task").count()
    assert rendered == 5
    # the daily jobs ran from five days ago to today, every one of them succeeded
    runs = JobRun.objects.filter(run_date__gte=today - datetime.timedelta(days=demo.JOBS_FROM_DAYS_AGO))
    assert runs.exists() and not runs.exclude(status="succeeded").exists()
    assert set(runs.values_list("run_date", flat=True)) == {
        today - datetime.timedelta(days=d) for d in range(demo.JOBS_FROM_DAYS_AGO + 1)
    }

    # the printed list says what each shows
    printed = out.getvalue()
    for policy in policies.values():
        assert policy.number in printed
    assert "宽限期" in printed and "续保报价已发出" in printed and "全额退保" in printed


def _with_story(policy: Policy) -> Policy:
    policy.status_story = demo._story_of(policy)  # type: ignore[attr-defined]
    return policy


def test_without_a_demo_customer_the_command_says_so() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="setup_demo"):
        call_command("load_demo_policies", phone="13800000000", stdout=StringIO())


def test_a_market_without_a_product_for_a_story_leaves_that_story_out() -> None:
    # given: the demo log-ins, no market
    create_demo_users()
    out = StringIO()

    # when
    call_command("load_demo_policies", stdout=out)

    # then: nothing bought, the set-up goes on and says why
    assert not Policy.objects.exists()
    assert "no medical product for 5 of them" in out.getvalue()
