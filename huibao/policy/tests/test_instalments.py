"""Monthly payment (月交): the checkout charges the first instalment, issuance starts the billing
schedule, and the e-policy, the policy page and "my policies" show it."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from huibao.application.services.pay import pay
from huibao.application.states import ApplicationStatus
from huibao.billing.models import PremiumSchedule
from huibao.core.models import AuditEntry
from huibao.policy import documents
from huibao.policy.tests import factories as f

pytestmark = pytest.mark.django_db
D = Decimal


def _monthly_app(
    customer, premium: str = "320.00", mode: str = "monthly", status: str = ApplicationStatus.SIGNED
):
    version = f.product_version()
    return f.application(
        [(version, f.Person(), 500_000, premium, {"term": "1y", "payment_mode": mode})],
        customer=customer,
        status=status,
    )


def test_checkout_charges_the_first_instalment_for_monthly_payment() -> None:
    # given: a signed application of 320.00 a year, paid monthly
    user = f.customer()
    app = _monthly_app(user)
    # when
    payment = pay(app, user=user)
    # then: 320 / 12 = 26.666… → 26.67, not the annual premium
    assert payment.amount == D("26.67")
    app.refresh_from_db()
    assert app.total_premium == D("320.00")


def test_checkout_charges_the_whole_premium_for_annual_payment() -> None:
    user = f.customer()
    app = _monthly_app(user, mode="annual")
    assert pay(app, user=user).amount == D("320.00")


def test_issuance_starts_the_schedule_and_the_epolicy_shows_it(client) -> None:
    # given: a monthly application paid at checkout
    user = f.customer()
    app = _monthly_app(user, premium="1000.00", status=ApplicationStatus.AWAITING_PAYMENT)
    # when
    policy = f.issue(app)[0]
    # then: twelve instalments, the first paid by the checkout's payment
    schedule = PremiumSchedule.objects.get(reference_kind="policy", reference_id=policy.number)
    rows = list(schedule.instalments.order_by("number"))
    assert [r.status for r in rows] == ["paid"] + ["due"] * 11
    assert rows[0].amount == D("83.33") and rows[-1].amount == D("83.37")
    assert rows[0].due_on == timezone.localtime(policy.effective_at).date()
    assert schedule.line == "critical_illness" and schedule.grace_days == 60
    # the e-policy: 首期保险费（月交） is the first instalment; the year's plan is listed
    sections = {s.heading: s for s in documents.epolicy_sections(policy)}
    info = dict(sections["保单信息"].table)
    assert info["首期保险费（月交）"] == "¥83.33"
    plan = sections["缴费计划"].table
    assert len(plan) == 12 and plan[0][1].startswith("¥83.33") and "已缴" in plan[0][1]
    assert plan[11][1].startswith("¥83.37") and "待缴" in plan[11][1]
    assert dict(sections["保险费"].table)["年度保险费"] == "¥1,000.00"
    assert dict(sections["保险费"].table)["交费期间"] == "1年"  # a one-year cover paid monthly
    # the pages
    client.force_login(user)
    page = client.get(reverse("policy:detail", args=[policy.public_id])).content.decode()
    assert 'data-testid="premium-schedule"' in page and page.count('data-testid="instalment"') == 12
    mine = client.get(reverse("policy:mine")).content.decode()
    assert 'data-testid="billing"' in mine and "83.33" in mine


def test_annual_policy_has_no_schedule_and_keeps_its_epolicy() -> None:
    user = f.customer()
    app = _monthly_app(user, mode="annual", status=ApplicationStatus.AWAITING_PAYMENT)
    policy = f.issue(app)[0]
    assert not PremiumSchedule.objects.exists()
    sections = {s.heading: s for s in documents.epolicy_sections(policy)}
    assert "缴费计划" not in sections
    assert dict(sections["保单信息"].table)["首期保险费（年交）"] == "¥320.00"


def test_a_lapse_is_recorded_on_the_policy() -> None:
    from huibao.billing import services as billing
    from huibao.policy import services
    from huibao.policy.models import PolicyStatusChange
    from huibao.policy.states import PolicyStatus

    # given: an issued monthly policy, in force
    user = f.customer()
    policy = f.issue(_monthly_app(user, status=ApplicationStatus.AWAITING_PAYMENT))[0]
    services.update_policy_statuses(policy.effective_at)
    schedule = PremiumSchedule.objects.get(reference_id=policy.number)
    # when: the second instalment stays unpaid past the 60 days of grace
    day = schedule.instalments.get(number=2).due_on + datetime.timedelta(days=61)
    assert billing.lapse_after_grace(day) == 1
    # then: the policy's listener moved it (through its grace period) to lapsed, on that day
    policy.refresh_from_db()
    assert policy.status == PolicyStatus.LAPSED
    change = PolicyStatusChange.objects.filter(policy=policy).last()
    assert change is not None and change.reason == "grace_over"
    assert timezone.localtime(change.at).date() == day
    entry = AuditEntry.objects.filter(action="policy.status_changed", object_id=policy.number).last()
    assert entry is not None and entry.after["lapsed_on"] == day.isoformat()
