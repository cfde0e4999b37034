"""A month of agency business end to end (issue 12, item 10): policies sold by an agent in
November and paid on the sandbox gateway, one cancelled inside its cooling-off period; on 3
December finance imports the insurer's statement (the sandbox insurer's, with its differences),
resolves every difference and closes the month, then settles with the insurer and with the agent
(four eyes above the threshold) and marks both paid. The books end where they should: nothing
owed to or by the insurer for November, nothing owed to the agent, every transaction balanced."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.test import Client

from huibao.account.sms import reset_sms_backends
from huibao.application.services.pay import pay
from huibao.application.states import ApplicationStatus
from huibao.core.errors import Conflict
from huibao.finance import accounts, ledger, settlement
from huibao.finance import reconciliation as recon
from huibao.finance.models import CommissionEntry, JournalLine
from huibao.finance.reconciliation_models import ItemCategory, ItemStatus, ReconciliationItem
from huibao.finance.reconciliation_rules import month_period
from huibao.finance.tests import commission_factories as fc
from huibao.finance.tests.booking_jobs import booking_jobs, run_booking_jobs  # noqa: F401 (the fixture)
from huibao.finance.tests.settlement_factories import finance_user
from huibao.payment.tests.factories import GOOD_CARD
from huibao.policy import cancellation
from huibao.policy import services as policy_services
from huibao.policy.models import Policy
from huibao.policy.tests import cancel_factories as cf
from huibao.policy.tests import factories as f
from huibao.rating.services import clear_cache
from huibao.sandbox import insurer_statement, notifications
from huibao.sandbox import payment as sandbox_payment

pytestmark = pytest.mark.django_db
D = Decimal
SOLD = datetime.date(2026, 11, 10)
CANCELLED = datetime.date(2026, 11, 16)
CLOSING = datetime.date(2026, 12, 3)
NOVEMBER = month_period(2026, 11)


@pytest.fixture(autouse=True)
def _sms_and_gateway(settings, monkeypatch):
    settings.SMS_BACKEND = "huibao.account.sms.ConsoleSmsBackend"
    settings.HUIBAO_SETTLEMENT_FOUR_EYES_ABOVE = "1000.00"
    reset_sms_backends()
    clear_cache()
    monkeypatch.setattr(notifications, "http_post", f.client_transport(Client()))
    yield
    reset_sms_backends()
    clear_cache()


def _sold_by(agent, version, premium: str) -> Policy:
    """Signed, paid on the sandbox gateway and issued through the real paid hook."""
    user = f.customer()
    app = f.application(
        [(version, f.Person(), 500_000, D(premium), {"term": "1y", "payment_mode": "annual"})],
        customer=user,
        status=ApplicationStatus.SIGNED,
    )
    app.seller = agent
    app.save(update_fields=["seller"])
    payment = pay(app, user=user)
    sandbox_payment.submit_payment(
        payment.provider_txn_id,
        payer_name=app.applicant_name,
        id_number=app.applicant_id_number,
        card_number=GOOD_CARD,
        action="pay",
    )
    assert sandbox_payment.deliver(payment.provider_txn_id)
    return Policy.objects.get(application=app)


@pytest.mark.usefixtures("booking_jobs")
def test_a_month_from_sales_to_closed_reconciliation_and_paid_settlements() -> None:
    # given: an insurer (its monthly, net-settled agreement made by the factories), 30% inbound
    # on the line, 10% to the agent who sells
    h = fc.hierarchy()
    version = f.product_version(cooling_off_days=15)
    insurer = version.product.insurer
    line = version.product.line
    fc.plan("in-month", [{"line": line, "rate": "0.30"}], insurer=insurer)
    fc.plan("out-month", [{"line": line, "rate": "0.10"}], unit=h.agent)
    clerk, approver, second = finance_user("clerk"), finance_user("approver"), finance_user("second")

    # when: seven policies sold in November, one of them cancelled inside its cooling-off period
    with cf.at(SOLD):
        sold = [
            _sold_by(h.agent, version, p)
            for p in ("320.00", "500.00", "212.00", "880.00", "640.00", "410.00", "275.50")
        ]
        assert run_booking_jobs() == 7  # the issuances' booking jobs, run by the worker
    assert all(p.seller_id == h.agent.pk for p in sold)
    with cf.at(CANCELLED):
        policy_services.update_policy_statuses()
        gone = sold[2]
        request = cancellation.request_cancellation(gone, user=gone.customer, reason="no_longer_needed")
        request = cancellation.confirm(request, user=gone.customer, code=cf.sms_code())
        cancellation.refund(request.pk)  # the refund job (queued at confirmation), run now
    gone.refresh_from_db()
    assert gone.status.startswith("cancelled")

    # then: the month's commission, clawback included, is what the rates give
    kept = sum((D(p.premium) for p in sold if p.pk != gone.pk), D("0"))
    inbound = CommissionEntry.objects.filter(insurer=insurer, direction="inbound").aggregate(s=Sum("amount"))[
        "s"
    ]
    outbound = CommissionEntry.objects.filter(sales_unit=h.agent).aggregate(s=Sum("amount"))["s"]
    assert inbound == (kept * D("0.30")).quantize(D("0.01"))
    assert outbound == (kept * D("0.10")).quantize(D("0.01"))
    premium_owed = ledger.balance(accounts.premium_payable(insurer), on=NOVEMBER[1])
    assert premium_owed == kept

    with cf.at(CLOSING):
        # when: the insurer's statement (the sandbox insurer's, with its differences) imported
        data = insurer_statement.statement_file(insurer, "2026-11", "csv")
        rec = recon.import_statement(
            recon.Party.of_insurer(insurer),
            NOVEMBER,
            "statement.csv",
            io.BytesIO(data),
            spec=insurer_statement.MAPPING,
            actor=clerk,
        )
        items = ReconciliationItem.objects.filter(reconciliation=rec)
        categories = {i.category for i in items}
        assert {ItemCategory.MATCHED, ItemCategory.AMOUNT_DIFFERS, ItemCategory.THEIRS_ONLY} <= categories
        with pytest.raises(Conflict):
            recon.close(rec.pk, actor=clerk)  # differences open
        # and every difference resolved: ours is right for amounts, theirs-only disputed
        for item in items.filter(status=ItemStatus.OPEN):
            action = (
                recon.Action.DISPUTE if item.category == ItemCategory.THEIRS_ONLY else recon.Action.OURS_RIGHT
            )
            recon.resolve(item.pk, action, "核对投保单与保费入账记录", actor=clerk)
        closed = recon.close(rec.pk, actor=clerk)
        assert closed.status == "closed"

        # when: settled with the insurer and the agent, four eyes above ¥1,000
        to_insurer = settlement.generate_insurer_statement(insurer, "2026-11", actor=clerk)
        assert to_insurer.premium_total == kept and to_insurer.commission_total == inbound
        assert to_insurer.net_amount == kept - inbound  # positive: the agency pays the insurer
        settlement.submit(to_insurer, actor=clerk)
        with pytest.raises(Conflict):
            settlement.approve(to_insurer, actor=clerk)  # the preparer never approves
        settlement.approve(to_insurer, actor=approver)
        settlement.approve(to_insurer, actor=second)
        settlement.mark_paid(to_insurer, actor=approver, bank_reference="CMB20261203001", paid_on=CLOSING)
        to_agent = settlement.generate_unit_statement(h.agent, "2026-11", actor=clerk)
        assert to_agent.commission_total == outbound
        settlement.submit(to_agent, actor=clerk)
        settlement.approve(to_agent, actor=approver)
        settlement.mark_paid(to_agent, actor=approver, bank_reference="CMB20261203002", paid_on=CLOSING)

    # then: nothing owed either way for November, the agent paid (tax withheld kept apart)
    assert ledger.balance(accounts.premium_payable(insurer)) == 0
    assert ledger.balance(accounts.commission_receivable(insurer)) == 0
    assert ledger.balance(accounts.commission_payable(h.agent)) == 0
    assert not CommissionEntry.objects.filter(insurer=insurer, paid_at__isnull=True).exists()
    totals = JournalLine.objects.aggregate(d=Sum("debit"), c=Sum("credit"))
    assert totals["d"] == totals["c"]
    cash = ledger.balance(accounts.cash())
    to_agent.refresh_from_db()
    assert cash == kept - (kept - inbound) - (outbound - to_agent.tax_withheld)
