"""Settlement statements end to end against the database: totals per agreement terms,
idempotent generation, late entries, void and regeneration, four eyes, payment posting the
ledger, agents' withholding tax, and the overdue job."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from huibao.core.errors import Conflict, InvalidTransition, ValidationFailed
from huibao.distribution.models import SalesUnitKind
from huibao.finance import accounts, ledger, settlement, settlement_jobs
from huibao.finance.models import CommissionEntry, JournalTransaction
from huibao.finance.settlement_models import SettlementLine, SettlementStatement
from huibao.finance.settlement_states import StatementStatus
from huibao.finance.tests import settlement_factories as f
from huibao.jobs.registry import JobContext
from huibao.notification.models import OutboxMessage

pytestmark = pytest.mark.django_db
D = Decimal
NOV = datetime.date(2025, 11, 10)
DEC = datetime.date(2025, 12, 5)


def _full_approval(statement: SettlementStatement) -> SettlementStatement:
    preparer, approver = f.finance_user("prep"), f.finance_user("appr")
    settlement.submit(statement, actor=preparer)
    return settlement.approve(statement, actor=approver)


@pytest.mark.parametrize(
    ("terms", "mode", "premium", "commission", "net", "lines"),
    [
        ({"net_settlement": True}, "net", "3000.00", "450.00", "2550.00", 4),
        ({"net_settlement": False}, "gross", "3000.00", "450.00", "2550.00", 4),
        ({"premium_collector": "insurer"}, "commission_only", "0.00", "450.00", "-450.00", 2),
    ],
)
def test_an_insurer_statement_totals_per_the_agreement(terms, mode, premium, commission, net, lines):
    # given: two premiums, and their commission, in November; one premium in December
    ins = f.insurer(**terms)
    f.premium(ins, "1000.00", NOV)
    f.premium(ins, "2000.00", NOV + datetime.timedelta(days=5))
    f.premium(ins, "5000.00", DEC)
    f.inbound(ins, "150.00", NOV)
    f.inbound(ins, "300.00", NOV)
    f.inbound(ins, "750.00", DEC)
    # when
    statement = settlement.generate_insurer_statement(ins, "2025-11")
    # then
    assert statement.mode == mode and statement.status == StatementStatus.DRAFT
    assert (statement.premium_total, statement.commission_total, statement.net_amount) == (
        D(premium),
        D(commission),
        D(net),
    )
    assert statement.line_count == lines == SettlementLine.objects.filter(statement=statement).count()
    assert statement.due_on == datetime.date(2025, 12, 15)
    # the settled entries carry the statement's number; December's do not
    assert set(
        CommissionEntry.objects.filter(settlement_ref=statement.number).values_list("amount", flat=True)
    ) == {
        D("150.00"),
        D("300.00"),
    }


def test_a_refund_reduces_the_premium_to_remit():
    ins = f.insurer()
    f.premium(ins, "1000.00", NOV)
    f.premium(ins, "-400.00", NOV)
    statement = settlement.generate_insurer_statement(ins, "2025-11")
    assert statement.premium_total == D("600.00") and statement.net_amount == D("600.00")


def test_generation_is_idempotent_per_insurer_and_period():
    # given
    ins = f.insurer()
    f.premium(ins, "1000.00", NOV)
    first = settlement.generate_insurer_statement(ins, "2025-11")
    # when: generated again, even after a new entry of the period arrived
    f.inbound(ins, "100.00", NOV)
    again = settlement.generate_insurer_statement(ins, "2025-11")
    # then
    assert again.pk == first.pk and again.net_amount == D("1000.00")
    assert SettlementStatement.objects.filter(insurer=ins).count() == 1


def test_a_late_entry_goes_to_the_next_period_and_nothing_is_settled_twice():
    # given: November's statement made, then a November entry booked late
    ins = f.insurer()
    f.premium(ins, "1000.00", NOV)
    f.inbound(ins, "100.00", NOV)
    november = settlement.generate_insurer_statement(ins, "2025-11")
    late = f.inbound(ins, "40.00", NOV)
    f.premium(ins, "500.00", NOV)
    f.premium(ins, "2000.00", DEC)
    # when
    december = settlement.generate_insurer_statement(ins, "2025-12")
    # then: the late ones are in December's, November's lines are not repeated
    assert december.premium_total == D("2500.00") and december.commission_total == D("40.00")
    late.refresh_from_db()
    assert late.settlement_ref == december.number
    assert november.premium_total == D("1000.00")
    keys = list(SettlementLine.objects.values_list("source_key", flat=True))
    assert len(keys) == len(set(keys)) == 5


def test_nothing_to_settle_is_refused_and_writes_nothing():
    ins = f.insurer()
    with pytest.raises(ValidationFailed) as caught:
        settlement.generate_insurer_statement(ins, "2025-11")
    assert caught.value.code == "nothing_to_settle" and caught.value.errors[0].field == "period"
    assert not SettlementStatement.objects.exists()


def test_a_bad_period_and_a_missing_agreement_name_the_field():
    ins = f.insurer()
    with pytest.raises(ValidationFailed) as caught:
        settlement.generate_insurer_statement(ins, "2025-13")
    assert caught.value.errors[0].field == "period"
    ins.agreements.all().delete()
    with pytest.raises(ValidationFailed) as caught:
        settlement.generate_insurer_statement(ins, "2025-11")
    assert caught.value.errors[0].field == "insurer" and caught.value.code == "no_agreement"


def test_a_quarterly_agreement_settles_the_quarter():
    ins = f.insurer(settlement_period="quarterly", days_to_pay=30)
    f.premium(ins, "100.00", datetime.date(2025, 10, 3))
    f.premium(ins, "200.00", NOV)
    statement = settlement.generate_insurer_statement(ins, "2025-Q4")
    assert statement.period_key == "2025-Q4" and statement.premium_total == D("300.00")
    assert statement.due_on == datetime.date(2026, 1, 30)


def test_voiding_releases_the_lines_for_a_new_statement():
    # given
    ins = f.insurer()
    f.premium(ins, "1000.00", NOV)
    entry = f.inbound(ins, "100.00", NOV)
    first = settlement.generate_insurer_statement(ins, "2025-11")
    # when
    settlement.void(first, actor=f.finance_user("fin"), reason="协议费率有误")
    entry.refresh_from_db()
    assert entry.settlement_ref == ""
    second = settlement.generate_insurer_statement(ins, "2025-11")
    # then
    assert second.pk != first.pk and second.number.endswith("-2")
    assert second.net_amount == D("900.00")
    entry.refresh_from_db()
    assert entry.settlement_ref == second.number


def test_void_needs_a_reason():
    ins = f.insurer()
    f.premium(ins, "1000.00", NOV)
    statement = settlement.generate_insurer_statement(ins, "2025-11")
    with pytest.raises(ValidationFailed) as caught:
        settlement.void(statement, actor=None, reason="  ")
    assert caught.value.errors[0].field == "reason"
    statement.refresh_from_db()
    assert statement.status == StatementStatus.DRAFT


# --- four eyes ----------------------------------------------------------------------------------


def test_the_preparer_can_never_approve_their_own():
    ins = f.insurer()
    f.premium(ins, "1000.00", NOV)
    preparer = f.finance_user("prep")
    statement = settlement.generate_insurer_statement(ins, "2025-11", actor=preparer)
    settlement.submit(statement, actor=preparer)
    with pytest.raises(Conflict) as caught:
        settlement.approve(statement, actor=preparer)
    assert caught.value.code == "own_statement"
    statement.refresh_from_db()
    assert statement.status == StatementStatus.SUBMITTED


def test_below_the_threshold_one_other_approver_is_enough(settings):
    settings.HUIBAO_SETTLEMENT_FOUR_EYES_ABOVE = "100000.00"
    ins = f.insurer()
    f.premium(ins, "100000.00", NOV)  # exactly at the threshold
    statement = settlement.generate_insurer_statement(ins, "2025-11")
    assert statement.approvals_needed == 1
    approved = _full_approval(statement)
    assert approved.status == StatementStatus.APPROVED


def test_above_the_threshold_two_different_approvers(settings):
    # given
    settings.HUIBAO_SETTLEMENT_FOUR_EYES_ABOVE = "100000.00"
    ins = f.insurer()
    f.premium(ins, "100000.01", NOV)
    preparer, first, second = f.finance_user("prep"), f.finance_user("a1"), f.finance_user("a2")
    statement = settlement.generate_insurer_statement(ins, "2025-11", actor=preparer)
    assert statement.approvals_needed == 2
    settlement.submit(statement, actor=preparer)
    # when: the first approval leaves it submitted, the same person again is refused
    once = settlement.approve(statement, actor=first)
    assert once.status == StatementStatus.SUBMITTED and once.first_approved_by == first
    with pytest.raises(Conflict) as caught:
        settlement.approve(statement, actor=first)
    assert caught.value.code == "second_approver_required"
    # then: a second, different approver approves it
    twice = settlement.approve(statement, actor=second)
    assert twice.status == StatementStatus.APPROVED and twice.approved_by == second


def test_a_draft_cannot_be_approved_or_paid():
    ins = f.insurer()
    f.premium(ins, "10.00", NOV)
    statement = settlement.generate_insurer_statement(ins, "2025-11")
    with pytest.raises(InvalidTransition):
        settlement.approve(statement, actor=f.finance_user("a"))
    with pytest.raises(InvalidTransition):
        settlement.mark_paid(statement, actor=None, bank_reference="B1", paid_on=DEC)


# --- paid ---------------------------------------------------------------------------------------


def test_paying_a_net_statement_posts_the_ledger_and_marks_the_entries_paid():
    # given: 3000 premium, 450 commission: the agency remits 2550
    ins = f.insurer()
    f.premium(ins, "3000.00", NOV)
    entry = f.inbound(ins, "450.00", NOV)
    ledger.post(
        "commission:test",
        on=NOV,
        description="commission earned",
        lines=[
            ledger.debit(accounts.commission_receivable(ins), D("450.00")),
            ledger.credit(accounts.commission_income(), D("450.00")),
        ],
    )
    statement = _full_approval(settlement.generate_insurer_statement(ins, "2025-11"))
    cash_before = ledger.balance(accounts.cash())
    # when
    paid = settlement.mark_paid(
        statement, actor=f.finance_user("payer"), bank_reference="BOC20251210001", paid_on=DEC
    )
    # then
    assert paid.status == StatementStatus.PAID and paid.bank_reference == "BOC20251210001"
    txn = JournalTransaction.objects.get(key=f"settlement:{statement.number}")
    lines = {(line.account.code, line.debit, line.credit) for line in txn.lines.select_related("account")}
    assert lines == {
        (f"premium_payable:insurer:{ins.code}", D("3000.00"), D("0.00")),
        (f"commission_receivable:insurer:{ins.code}", D("0.00"), D("450.00")),
        ("cash", D("0.00"), D("2550.00")),
    }
    assert ledger.balance(accounts.premium_payable(ins)) == D("0.00")
    assert ledger.balance(accounts.commission_receivable(ins)) == D("0.00")
    assert ledger.balance(accounts.cash()) == cash_before - D("2550.00")
    entry.refresh_from_db()
    assert entry.paid_at is not None
    # the payment's own line on the payable account is never settled again
    f.premium(ins, "10.00", DEC)
    december = settlement.generate_insurer_statement(ins, "2025-12")
    assert december.premium_total == D("10.00") and december.line_count == 1


def test_paying_a_gross_statement_posts_the_pair():
    ins = f.insurer(net_settlement=False)
    f.premium(ins, "3000.00", NOV)
    f.inbound(ins, "450.00", NOV)
    statement = _full_approval(settlement.generate_insurer_statement(ins, "2025-11"))
    settlement.mark_paid(statement, actor=None, bank_reference="B-1", paid_on=DEC)
    premium = JournalTransaction.objects.get(key=f"settlement:{statement.number}:premium")
    commission = JournalTransaction.objects.get(key=f"settlement:{statement.number}:commission")
    assert {
        (line.account.code, line.debit, line.credit) for line in premium.lines.select_related("account")
    } == {
        (f"premium_payable:insurer:{ins.code}", D("3000.00"), D("0.00")),
        ("cash", D("0.00"), D("3000.00")),
    }
    assert {
        (line.account.code, line.debit, line.credit) for line in commission.lines.select_related("account")
    } == {
        ("cash", D("450.00"), D("0.00")),
        (f"commission_receivable:insurer:{ins.code}", D("0.00"), D("450.00")),
    }


@pytest.mark.parametrize(
    ("reference", "paid_on", "field"),
    [
        ("", DEC, "bank_reference"),
        ("B1", None, "paid_on"),
        ("B1", datetime.date(2999, 1, 1), "paid_on"),
        ("B1", datetime.date(2025, 10, 1), "paid_on"),
    ],
)
def test_bad_payment_details_name_the_field_and_change_nothing(reference, paid_on, field):
    ins = f.insurer()
    f.premium(ins, "10.00", NOV)
    statement = _full_approval(settlement.generate_insurer_statement(ins, "2025-11"))
    with pytest.raises(ValidationFailed) as caught:
        settlement.mark_paid(statement, actor=None, bank_reference=reference, paid_on=paid_on)
    assert caught.value.errors[0].field == field
    statement.refresh_from_db()
    assert statement.status == StatementStatus.APPROVED
    assert not JournalTransaction.objects.filter(key__startswith="settlement:").exists()


# --- channels and agents ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "method", "commission", "tax", "net"),
    [
        (SalesUnitKind.AGENT, "labour", "10000.00", "1600.00", "8400.00"),
        (SalesUnitKind.AGENT, "labour", "3000.00", "440.00", "2560.00"),
        (SalesUnitKind.AGENT, "flat", "3000.00", "600.00", "2400.00"),
        (SalesUnitKind.AGENT, "none", "3000.00", "0.00", "3000.00"),
        (SalesUnitKind.CHANNEL, "labour", "10000.00", "0.00", "10000.00"),  # a company: no IIT
    ],
)
def test_a_unit_statement_withholds_per_the_settings(settings, kind, method, commission, tax, net):
    # given
    settings.HUIBAO_SETTLEMENT_WITHHOLDING = method
    settings.HUIBAO_SETTLEMENT_WITHHOLDING_FLAT_RATE = "0.20"
    ins = f.insurer()
    seller = f.unit(kind)
    half = str(D(commission) / 2)
    f.outbound(ins, seller, half, NOV)
    f.outbound(ins, seller, half, NOV)
    # when
    statement = settlement.generate_unit_statement(seller, "2025-11")
    # then
    assert (statement.commission_total, statement.tax_withheld, statement.net_amount) == (
        D(commission),
        D(tax),
        D(net),
    )
    assert statement.tax_detail["method"] == (method if kind == SalesUnitKind.AGENT else "none")


def test_paying_an_agent_posts_commission_payable_cash_and_tax(settings):
    settings.HUIBAO_SETTLEMENT_WITHHOLDING = "labour"
    ins = f.insurer()
    agent = f.unit(SalesUnitKind.AGENT)
    entry = f.outbound(ins, agent, "10000.00", NOV)
    statement = _full_approval(settlement.generate_unit_statement(agent, "2025-11"))
    settlement.mark_paid(statement, actor=None, bank_reference="ICBC-9", paid_on=DEC)
    txn = JournalTransaction.objects.get(key=f"settlement:{statement.number}")
    assert {(line.account.code, line.debit, line.credit) for line in txn.lines.select_related("account")} == {
        (f"commission_payable:unit:{agent.code}", D("10000.00"), D("0.00")),
        ("cash", D("0.00"), D("8400.00")),
        ("withholding_tax_payable", D("0.00"), D("1600.00")),
    }
    entry.refresh_from_db()
    assert entry.paid_at is not None and entry.settlement_ref == statement.number


def test_generate_period_makes_every_partys_statement_once():
    a, b, quarterly = f.insurer(), f.insurer(), f.insurer(settlement_period="quarterly")
    channel = f.unit()
    f.premium(a, "100.00", NOV)
    f.inbound(b, "10.00", NOV)
    f.premium(quarterly, "100.00", NOV)
    f.outbound(a, channel, "5.00", NOV)
    run = settlement.generate_period(NOV)
    assert run.created == 3  # a, b and the channel; the quarterly insurer waits for December
    again = settlement.generate_period(NOV)
    assert again.created == 0 and again.existing == 2
    assert SettlementStatement.objects.count() == 3


# --- overdue ------------------------------------------------------------------------------------


def _ctx(day: datetime.date) -> JobContext:
    return JobContext(
        job="finance.settlement_overdue",
        run_date=day,
        cursor=None,
        _save=lambda v: None,
        _progress=lambda d, t: None,
    )


def test_the_overdue_job_flags_unpaid_statements_once_and_tells_finance():
    # given: November's statement due 15 December, unpaid; a paid one also past due
    ins, other = f.insurer(), f.insurer()
    f.premium(ins, "100.00", NOV)
    f.premium(other, "100.00", NOV)
    staff = f.finance_user("clerk")
    unpaid = settlement.generate_insurer_statement(ins, "2025-11")
    paid = _full_approval(settlement.generate_insurer_statement(other, "2025-11"))
    settlement.mark_paid(paid, actor=None, bank_reference="B", paid_on=DEC)
    # when: the day after the due date, twice
    settlement_jobs.overdue_job(_ctx(datetime.date(2025, 12, 15)))
    assert not SettlementStatement.objects.filter(overdue_flagged_at__isnull=False).exists()
    settlement_jobs.overdue_job(_ctx(datetime.date(2025, 12, 16)))
    settlement_jobs.overdue_job(_ctx(datetime.date(2025, 12, 16)))
    # then
    unpaid.refresh_from_db()
    paid.refresh_from_db()
    assert unpaid.overdue_flagged_at is not None and paid.overdue_flagged_at is None
    messages = OutboxMessage.objects.filter(user=staff)
    assert messages.count() >= 1
    assert all(unpaid.number in m.body and paid.number not in m.body for m in messages)
    assert messages.values("channel").distinct().count() == messages.count()  # one per channel, not repeated


def test_the_demo_is_idempotent_and_shows_an_overdue_statement():
    # given: three insurers without agreements (the demo market's)
    from huibao.catalog.models import Insurer
    from huibao.finance.settlement_demo import load_demo_settlement

    for code in ("demo-a", "demo-b", "demo-c"):
        Insurer.objects.create(code=code, name=f"演示{code}", short_name=code, kind="property")
    today = datetime.date(2025, 12, 3)
    # when
    first = load_demo_settlement(today)
    count = SettlementStatement.objects.count()
    again = load_demo_settlement(today)
    # then: 3 insurers and 2 units over two months; nothing doubled the second time
    assert first.statements == count == 10 and first.overdue == 5
    assert SettlementStatement.objects.count() == count and again.overdue == 0
    assert SettlementStatement.objects.filter(status=StatementStatus.SUBMITTED).count() == 1
    october = SettlementStatement.objects.filter(period_key="2025-10", insurer__code="demo-a").get()
    assert october.premium_total == D("28006.50") and october.mode == "net"


def test_the_bulk_commission_run_writes_the_months_entries_once():
    # given: one issued policy, moved into November and sold by a channel
    from django.utils import timezone as tz

    from huibao.finance.settlement import RunRates, bulk_commission_run
    from huibao.policy.models import Policy
    from huibao.policy.tests.factories import simple_issued

    policy = simple_issued()
    channel = f.unit()
    issued = datetime.datetime(2025, 11, 30, 23, 30, tzinfo=tz.get_current_timezone())  # local day: 30 Nov
    Policy.objects.filter(pk=policy.pk).update(issued_at=issued, seller=channel)
    rates = {policy.insurer_id: RunRates(inbound=D("0.15"), outbound=D("0.09"))}
    # when
    written = bulk_commission_run(datetime.date(2025, 11, 1), rates)
    again = bulk_commission_run(datetime.date(2025, 11, 1), rates)
    december = bulk_commission_run(datetime.date(2025, 12, 1), rates)
    # then
    assert (written, again, december) == (2, 0, 0)
    entries = {e.direction: e for e in CommissionEntry.objects.filter(policy=policy)}
    assert D(str(entries["inbound"].amount)) == (policy.premium * D("0.15")).quantize(D("0.01"))
    assert D(str(entries["outbound"].amount)) == (policy.premium * D("0.09")).quantize(D("0.01"))
    assert entries["outbound"].sales_unit == channel and entries["inbound"].sales_unit is None
    assert entries["inbound"].occurred_on == datetime.date(2025, 11, 30)
