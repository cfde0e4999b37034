"""Settlement use-cases: generate a statement for a party and a period, submit it, approve it
(four eyes above a set amount), mark it paid (posting the ledger), void it; flag the overdue
ones; and the month's commission run in bulk (the benchmark's, until the commission rules are
wired to it).

Generation is set-based SQL (INSERT … SELECT), so its memory does not grow with the lines.
Each line's `source_key` is unique: a ledger line or a commission entry is settled by one
statement at most. A statement takes every unsettled line dated up to its period's end, so an
entry booked after its own period's statement was made (a late entry) goes to the next one.

Settings (code defaults here; `docs/settlement.md`):
- `HUIBAO_SETTLEMENT_FOUR_EYES_ABOVE` (¥100,000.00): above it two different approvers.
- `HUIBAO_SETTLEMENT_WITHHOLDING` ("labour"): tax withheld from agents' commission — "labour"
  (劳务报酬 pre-withholding), "flat" (`HUIBAO_SETTLEMENT_WITHHOLDING_FLAT_RATE`) or "none".
- `HUIBAO_SETTLEMENT_UNIT_PERIOD` ("monthly"), `HUIBAO_SETTLEMENT_UNIT_DAYS_TO_PAY` (15).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from huibao.catalog.models import Insurer
from huibao.core import audit
from huibao.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from huibao.core.money import as_decimal, to_fen
from huibao.core.states import check_transition
from huibao.distribution.models import AgreementStatus, InsurerAgreement, SalesUnit, SalesUnitKind
from huibao.finance import accounts, ledger
from huibao.finance import settlement_rules as rules
from huibao.finance.models import CommissionEntry, JournalLine, JournalTransaction, LedgerAccount
from huibao.finance.settlement_models import SettlementLine, SettlementStatement, StatementStatusChange
from huibao.finance.settlement_states import (
    OPEN_STATUSES,
    TRANSITIONS,
    LineKind,
    PartyKind,
    SettlementMode,
    StatementStatus,
)
from huibao.policy.models import Policy

OBJ_TYPE = "settlement_statement"
LEDGER_KEY_PREFIX = "settlement:"


def four_eyes_above() -> Decimal:
    return as_decimal(str(getattr(settings, "HUIBAO_SETTLEMENT_FOUR_EYES_ABOVE", "100000.00")))


def withholding_method() -> str:
    return str(getattr(settings, "HUIBAO_SETTLEMENT_WITHHOLDING", rules.WITHHOLDING_LABOUR))


def withholding_flat_rate() -> Decimal:
    return as_decimal(str(getattr(settings, "HUIBAO_SETTLEMENT_WITHHOLDING_FLAT_RATE", "0.20")))


def unit_period_kind() -> str:
    return str(getattr(settings, "HUIBAO_SETTLEMENT_UNIT_PERIOD", rules.MONTHLY))


def unit_days_to_pay() -> int:
    return int(getattr(settings, "HUIBAO_SETTLEMENT_UNIT_DAYS_TO_PAY", 15))


def _invalid(field: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, errors=[FieldError(field, code, message)])


def _period(text: str, kind: str) -> rules.Period:
    try:
        return rules.parse_period(text, kind)
    except rules.RuleError as exc:
        raise _invalid(exc.field, "period_invalid", exc.message) from None


# --- generation ---------------------------------------------------------------------------------


def agreement_for(insurer: Insurer, period_text: str) -> InsurerAgreement:
    """The agreement whose terms settle `insurer` for the period: the latest one (not a draft)
    in force on any day of it."""
    rough = _period(period_text, rules.QUARTERLY if "Q" in period_text.upper() else rules.MONTHLY)
    agreement = (
        InsurerAgreement.objects.filter(insurer=insurer, valid_from__lte=rough.end)
        .exclude(status=AgreementStatus.DRAFT)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=rough.start))
        .order_by("-valid_from", "-id")
        .first()
    )
    if agreement is None:
        raise _invalid("insurer", "no_agreement", f"保险公司{insurer.short_name}在该期间没有生效的合作协议")
    return agreement


def _number(prefix: str, party_id: int, period: rules.Period) -> str:
    attempts = SettlementStatement.objects.filter(
        Q(insurer_id=party_id) if prefix == "I" else Q(sales_unit_id=party_id), period_key=period.key
    ).count()
    return f"JS{period.compact}-{prefix}{party_id}-{attempts + 1}"


def _live(filter_: Q, period: rules.Period) -> SettlementStatement | None:
    return (
        SettlementStatement.objects.filter(filter_, period_key=period.key)
        .exclude(status=StatementStatus.VOIDED)
        .first()
    )


def _table(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


_INSERT = (
    "INSERT INTO {sl} (statement_id, kind, source_key, journal_line_id, commission_entry_id,"
    " policy_id, occurred_on, event, amount)"
)


_JOURNAL_KEY = "'journal:' || CAST(jl.id AS VARCHAR(20))"
_COMMISSION_KEY = "'commission:' || CAST(ce.id AS VARCHAR(20))"


def _insert_premium_lines(statement: SettlementStatement, account_id: int, until: datetime.date) -> None:
    # Premium owed to the insurer: credits (collected) less debits (refunds) on its payable
    # account, except the settlement's own payments to it. Only table names are formatted in.
    sl, jl, jt = _table(SettlementLine), _table(JournalLine), _table(JournalTransaction)
    key = connection.ops.quote_name("key")
    sql = (
        f"{_INSERT.format(sl=sl)} SELECT %s, %s, {_JOURNAL_KEY}, jl.id, NULL, jl.policy_id,"  # noqa: S608
        f" jl.posted_on, '', jl.credit - jl.debit FROM {jl} jl JOIN {jt} jt ON jt.id = jl.transaction_id"
        f" WHERE jl.account_id = %s AND jl.posted_on <= %s AND jt.{key} NOT LIKE %s"
        f" AND NOT EXISTS (SELECT 1 FROM {sl} s WHERE s.source_key = {_JOURNAL_KEY})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [statement.pk, LineKind.PREMIUM, account_id, until, LEDGER_KEY_PREFIX + "%"])


def _insert_commission_lines(
    statement: SettlementStatement, kind: str, party: Q, until: datetime.date
) -> None:
    entries = CommissionEntry.objects.filter(party, occurred_on__lte=until, settlement_ref="")
    ids, params = entries.values("id").query.sql_with_params()
    sl, ce = _table(SettlementLine), _table(CommissionEntry)
    sql = (
        f"{_INSERT.format(sl=sl)} SELECT %s, %s, {_COMMISSION_KEY}, NULL, ce.id, ce.policy_id,"  # noqa: S608
        f" ce.occurred_on, ce.event, ce.amount FROM {ce} ce WHERE ce.id IN ({ids})"
        f" AND NOT EXISTS (SELECT 1 FROM {sl} s WHERE s.source_key = {_COMMISSION_KEY})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [statement.pk, kind, *params])
    CommissionEntry.objects.filter(
        pk__in=SettlementLine.objects.filter(statement=statement, source_key__isnull=False).values(
            "commission_entry_id"
        ),
    ).update(settlement_ref=statement.number)


def _sums(statement: SettlementStatement) -> tuple[Decimal, Decimal, int]:
    rows = (
        SettlementLine.objects.filter(statement=statement)
        .values("kind")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    by_kind = {r["kind"]: to_fen(as_decimal(r["total"] or Decimal("0"))) for r in rows}
    count = SettlementLine.objects.filter(statement=statement).count()
    commission = by_kind.get(LineKind.COMMISSION_IN, Decimal("0")) + by_kind.get(
        LineKind.COMMISSION_OUT, Decimal("0")
    )
    return by_kind.get(LineKind.PREMIUM, Decimal("0.00")), to_fen(commission), count


def _apply_totals(statement: SettlementStatement, totals: rules.Totals, count: int) -> None:
    statement.premium_total = totals.premium
    statement.commission_total = totals.commission
    statement.tax_withheld = totals.tax
    statement.net_amount = totals.net
    statement.payable = totals.payable
    statement.receivable = totals.receivable
    statement.approval_amount = totals.approval_amount
    statement.approvals_needed = rules.approvals_needed(totals.approval_amount, four_eyes_above())
    statement.line_count = count
    statement.save()


def _record_change(statement: SettlementStatement, before: str, actor: Any, note: str = "") -> None:
    StatementStatusChange.objects.create(
        statement=statement, from_status=before, to_status=statement.status, note=note[:200], actor=actor
    )
    audit.record(
        f"finance.settlement_{statement.status}"
        if before != statement.status
        else "finance.settlement_noted",
        OBJ_TYPE,
        statement.number,
        actor=actor if actor is not None else "system",
        before={"status": before},
        after={"status": statement.status, "net": str(statement.net_amount), "note": note[:200]},
    )


def generate_insurer_statement(
    insurer: Insurer, period_text: str, *, actor: Any = None
) -> SettlementStatement:
    """The insurer's statement for the period (by its agreement's terms): the one already made
    (idempotent), or a new draft. Refuses a period with nothing to settle."""
    agreement = agreement_for(insurer, period_text)
    period = _period(period_text, agreement.settlement_period)
    mode = rules.insurer_mode(
        premium_collector=agreement.premium_collector, net_settlement=agreement.net_settlement
    )
    with transaction.atomic():
        Insurer.objects.select_for_update().filter(pk=insurer.pk).first()  # one generator per insurer
        existing = _live(Q(insurer=insurer), period)
        if existing is not None:
            return existing
        statement = SettlementStatement.objects.create(
            number=_number("I", insurer.pk, period),
            party_kind=PartyKind.INSURER,
            insurer=insurer,
            agreement=agreement,
            party_name=insurer.name,
            period_kind=period.kind,
            period_key=period.key,
            period_start=period.start,
            period_end=period.end,
            due_on=rules.due_on(period, agreement.days_to_pay),
            mode=mode,
            prepared_by=actor,
        )
        if mode != SettlementMode.COMMISSION_ONLY:
            account_id = (
                LedgerAccount.objects.filter(code=accounts.premium_payable(insurer).code)
                .values_list("pk", flat=True)
                .first()
            )
            if account_id is not None:
                _insert_premium_lines(statement, account_id, period.end)
        _insert_commission_lines(
            statement, LineKind.COMMISSION_IN, Q(insurer=insurer, direction="inbound"), period.end
        )
        premium, commission, count = _sums(statement)
        if count == 0:
            transaction.set_rollback(True)
            raise _invalid(
                "period", "nothing_to_settle", f"{insurer.short_name}在{period.key}没有待结算的保费或手续费"
            )
        _apply_totals(statement, rules.insurer_totals(mode, premium, commission), count)
        _record_change(statement, "", actor, note="generated")
    return statement


def generate_unit_statement(unit: SalesUnit, period_text: str, *, actor: Any = None) -> SettlementStatement:
    """A channel's or an agent's commission statement for the period, tax withheld from an
    agent's per `HUIBAO_SETTLEMENT_WITHHOLDING`. Idempotent like the insurers'."""
    period = _period(period_text, unit_period_kind())
    with transaction.atomic():
        SalesUnit.objects.select_for_update().filter(pk=unit.pk).first()
        existing = _live(Q(sales_unit=unit), period)
        if existing is not None:
            return existing
        statement = SettlementStatement.objects.create(
            number=_number("U", unit.pk, period),
            party_kind=PartyKind.SALES_UNIT,
            sales_unit=unit,
            party_name=unit.name,
            period_kind=period.kind,
            period_key=period.key,
            period_start=period.start,
            period_end=period.end,
            due_on=rules.due_on(period, unit_days_to_pay()),
            mode=SettlementMode.OUTBOUND,
            prepared_by=actor,
        )
        _insert_commission_lines(
            statement, LineKind.COMMISSION_OUT, Q(sales_unit=unit, direction="outbound"), period.end
        )
        _premium, commission, count = _sums(statement)
        if count == 0:
            transaction.set_rollback(True)
            raise _invalid("period", "nothing_to_settle", f"{unit.name}在{period.key}没有待结算的佣金")
        method = withholding_method() if unit.kind == SalesUnitKind.AGENT else rules.WITHHOLDING_NONE
        withheld = rules.withholding_tax(commission, method=method, flat_rate=withholding_flat_rate())
        statement.tax_detail = withheld.as_dict()
        _apply_totals(statement, rules.outbound_totals(commission, withheld.tax), count)
        _record_change(statement, "", actor, note="generated")
    return statement


@dataclass(frozen=True, slots=True)
class PeriodRun:
    created: int
    existing: int
    empty: int


def generate_period(month: datetime.date, *, actor: Any = None) -> PeriodRun:
    """Every insurer's and every paid sales unit's statement for the period ending with
    `month`'s month (an insurer settled quarterly only when the month closes its quarter)."""
    created = existing = empty = 0
    insurer_ids = (
        InsurerAgreement.objects.exclude(status=AgreementStatus.DRAFT)
        .values_list("insurer_id", flat=True)
        .distinct()
    )
    for insurer in Insurer.objects.filter(pk__in=insurer_ids).order_by("pk"):
        try:
            agreement = agreement_for(insurer, f"{month:%Y-%m}")
        except ValidationFailed:
            continue
        period = rules.period_containing(month, agreement.settlement_period)
        if period.end.month != month.month:
            continue
        before = _live(Q(insurer=insurer), period)
        try:
            generate_insurer_statement(insurer, period.key, actor=actor)
        except ValidationFailed:
            empty += 1
            continue
        existing += before is not None
        created += before is None
    unit_period = rules.period_containing(month, unit_period_kind())
    if unit_period.end.month == month.month:
        unit_ids = (
            CommissionEntry.objects.filter(
                direction="outbound", settlement_ref="", occurred_on__lte=unit_period.end
            )
            .values_list("sales_unit_id", flat=True)
            .distinct()
            .order_by()
        )
        for unit in SalesUnit.objects.filter(pk__in=list(unit_ids)).order_by("pk"):
            try:
                generate_unit_statement(unit, unit_period.key, actor=actor)
            except ValidationFailed:
                empty += 1
                continue
            created += 1
    return PeriodRun(created, existing, empty)


# --- the workflow -------------------------------------------------------------------------------


def _locked(statement: SettlementStatement | str) -> SettlementStatement:
    number = statement if isinstance(statement, str) else statement.number
    found = SettlementStatement.objects.select_for_update().filter(number=number).first()
    if found is None:
        raise NotFound(f"结算单不存在：{number}", code="statement_not_found")
    return found


def _move(statement: SettlementStatement, target: str) -> str:
    before = statement.status
    check_transition(TRANSITIONS, before, target, what=f"结算单{statement.number}")
    statement.status = target
    return before


def submit(statement: SettlementStatement | str, *, actor: Any) -> SettlementStatement:
    with transaction.atomic():
        row = _locked(statement)
        before = _move(row, StatementStatus.SUBMITTED)
        row.submitted_by = actor
        row.submitted_at = timezone.now()
        if row.prepared_by_id is None:
            row.prepared_by = actor
        row.save()
        _record_change(row, before, actor)
    return row


def return_to_draft(statement: SettlementStatement | str, *, actor: Any, reason: str) -> SettlementStatement:
    reason = (reason or "").strip()
    if not reason:
        raise _invalid("reason", "required", "退回原因：必填")
    with transaction.atomic():
        row = _locked(statement)
        before = _move(row, StatementStatus.DRAFT)
        row.first_approved_by = None
        row.first_approved_at = None
        row.save()
        _record_change(row, before, actor, note=reason)
    return row


def approve(statement: SettlementStatement | str, *, actor: Any) -> SettlementStatement:
    """Approves a submitted statement. The preparer and the submitter can never approve it;
    above `HUIBAO_SETTLEMENT_FOUR_EYES_ABOVE` it takes two approvals by different users (the
    first leaves it submitted)."""
    with transaction.atomic():
        row = _locked(statement)
        if row.status != StatementStatus.SUBMITTED:
            check_transition(TRANSITIONS, row.status, StatementStatus.APPROVED, what=f"结算单{row.number}")
        preparers = frozenset(pk for pk in (row.prepared_by_id, row.submitted_by_id) if pk is not None)
        approved_by = (row.first_approved_by_id,) if row.first_approved_by_id else ()
        check = rules.check_approval(
            approver_id=actor.pk, preparer_ids=preparers, approved_by=approved_by, needed=row.approvals_needed
        )
        if not check.allowed:
            message = (
                "制单人或提交人不能审批自己的结算单"
                if check.code == "own_statement"
                else "金额超过双人复核限额，需另一位财务人员复核"
            )
            raise Conflict(message, code=check.code)
        if not check.complete:
            row.first_approved_by = actor
            row.first_approved_at = timezone.now()
            row.save()
            _record_change(row, row.status, actor, note="first approval")
            return row
        before = _move(row, StatementStatus.APPROVED)
        row.approved_by = actor
        row.approved_at = timezone.now()
        row.save()
        _record_change(row, before, actor)
    return row


def _signed(ref: accounts.AccountRef, amount: Decimal, *, debit_side: bool) -> list[ledger.Line]:
    """A line for `amount` on its natural side, or on the other side when negative; none for 0."""
    if amount == 0:
        return []
    if (amount > 0) == debit_side:
        return [ledger.debit(ref, abs(amount))]
    return [ledger.credit(ref, abs(amount))]


def _postings(row: SettlementStatement) -> list[tuple[str, str, list[ledger.Line]]]:
    key = f"{LEDGER_KEY_PREFIX}{row.number}"
    if row.party_kind == PartyKind.SALES_UNIT:
        assert row.sales_unit is not None
        lines = [
            *_signed(accounts.commission_payable(row.sales_unit), row.commission_total, debit_side=True),
            *_signed(accounts.cash(), row.net_amount, debit_side=False),
            *_signed(accounts.withholding_tax_payable(), row.tax_withheld, debit_side=False),
        ]
        return [(key, f"佣金结算 {row.number}", lines)]
    assert row.insurer is not None
    premium = _signed(accounts.premium_payable(row.insurer), row.premium_total, debit_side=True)
    commission = _signed(accounts.commission_receivable(row.insurer), row.commission_total, debit_side=False)
    if row.mode == SettlementMode.GROSS:
        return [
            (
                f"{key}:premium",
                f"保费结算 {row.number}",
                [*premium, *_signed(accounts.cash(), row.premium_total, debit_side=False)],
            ),
            (
                f"{key}:commission",
                f"手续费结算 {row.number}",
                [*commission, *_signed(accounts.cash(), row.commission_total, debit_side=True)],
            ),
        ]
    return [
        (
            key,
            f"保险公司结算 {row.number}",
            [*premium, *commission, *_signed(accounts.cash(), row.net_amount, debit_side=False)],
        )
    ]


def mark_paid(
    statement: SettlementStatement | str, *, actor: Any, bank_reference: str, paid_on: datetime.date | None
) -> SettlementStatement:
    """Records the money moved: posts the ledger (idempotent by the statement's number) and
    marks its commission entries paid."""
    bank_reference = (bank_reference or "").strip()
    errors = []
    if not bank_reference:
        errors.append(FieldError("bank_reference", "required", "银行流水号：必填"))
    elif len(bank_reference) > 64:
        errors.append(FieldError("bank_reference", "too_long", "银行流水号：最多64个字符"))
    if paid_on is None:
        errors.append(FieldError("paid_on", "required", "付款日期：必填"))
    elif paid_on > timezone.localdate():
        errors.append(FieldError("paid_on", "in_future", "付款日期：不能晚于今天"))
    if errors:
        raise ValidationFailed("；".join(e.message for e in errors), errors=errors)
    assert paid_on is not None
    with transaction.atomic():
        row = _locked(statement)
        if paid_on < row.period_start:
            raise _invalid("paid_on", "before_period", "付款日期：不能早于结算期间的开始")
        before = _move(row, StatementStatus.PAID)
        for key, description, lines in _postings(row):
            if len(lines) >= 2:
                ledger.post(key, on=paid_on, description=description, lines=lines, actor=actor)
        now = timezone.now()
        CommissionEntry.objects.filter(settlement_ref=row.number).update(paid_at=now)
        row.bank_reference = bank_reference
        row.paid_on = paid_on
        row.paid_at = now
        row.paid_by = actor
        row.save()
        _record_change(row, before, actor, note=bank_reference)
    return row


def void(statement: SettlementStatement | str, *, actor: Any, reason: str) -> SettlementStatement:
    """Voids an unpaid statement and frees its lines: the period can be generated again."""
    reason = (reason or "").strip()
    if not reason:
        raise _invalid("reason", "required", "作废原因：必填")
    if len(reason) > 200:
        raise _invalid("reason", "too_long", "作废原因：最多200个字符")
    with transaction.atomic():
        row = _locked(statement)
        before = _move(row, StatementStatus.VOIDED)
        SettlementLine.objects.filter(statement=row).update(source_key=None)
        CommissionEntry.objects.filter(settlement_ref=row.number).update(settlement_ref="")
        row.void_reason = reason
        row.save()
        _record_change(row, before, actor, note=reason)
    return row


# --- overdue ------------------------------------------------------------------------------------


def overdue_candidates(today: datetime.date) -> Any:
    return SettlementStatement.objects.filter(status__in=OPEN_STATUSES, due_on__lt=today)


def flag_overdue(today: datetime.date) -> list[SettlementStatement]:
    """Flags (once) every unpaid statement past its due date; returns those newly flagged."""
    with transaction.atomic():
        rows = list(
            overdue_candidates(today)
            .filter(overdue_flagged_at__isnull=True)
            .select_for_update()
            .order_by("due_on", "id")
        )
        now = timezone.now()
        for row in rows:
            row.overdue_flagged_at = now
            row.save(update_fields=["overdue_flagged_at", "updated_at"])
            audit.record(
                "finance.settlement_overdue",
                OBJ_TYPE,
                row.number,
                actor="system",
                after={"due_on": row.due_on, "status": row.status},
            )
    return rows


# --- the month's commission run in bulk ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunRates:
    """A rate table row: commission rates of net premium for an insurer's policies."""

    inbound: Decimal  # the insurer pays the agency
    outbound: Decimal  # the agency pays the policy's seller


def bulk_commission_run(
    month: datetime.date, rates: Mapping[int, RunRates], *, insurer_ids: Sequence[int] | None = None
) -> int:
    """Writes the inbound and outbound commission entries of the policies issued in `month`'s
    month, set-based (two INSERT … SELECT statements), at the rate table's rates; idempotent by
    entry key ("run:<yyyy-mm>:in|out:<policy id>"). Returns the entries written.

    This is the benchmark's commission run: the commission rules (versioned policies, tiers,
    clawbacks; another area of issue 12) are to be wired in here by the integrator, producing
    the same rows. The base is the policy's premium as recorded; rounding is SQL ROUND(…, 2) on
    numeric (half away from zero, i.e. half up for these non-negative amounts)."""
    if not rates:
        return 0
    period = rules.period_containing(month, rules.MONTHLY)
    tz = timezone.get_current_timezone()
    since = datetime.datetime.combine(period.start, datetime.time.min, tzinfo=tz)
    until = datetime.datetime.combine(period.end + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz)
    chosen = [(pk, r) for pk, r in sorted(rates.items()) if insurer_ids is None or pk in insurer_ids]
    values = ", ".join(["(CAST(%s AS INTEGER), CAST(%s AS NUMERIC), CAST(%s AS NUMERIC))"] * len(chosen))
    rate_params: list[Any] = []
    for pk, r in chosen:
        rate_params.extend([pk, str(r.inbound), str(r.outbound)])
    explanation = json.dumps({"rule": "bulk_commission_run", "period": period.key, "base": "policy.premium"})
    if connection.vendor == "postgresql":
        issued_on = "CAST(p.issued_at AT TIME ZONE %s AS DATE)"
        day_param: list[Any] = [str(tz)]
    else:  # SQLite stores UTC text; the platform's day is Asia/Shanghai (UTC+8, no DST)
        issued_on = "DATE(p.issued_at, %s)"
        day_param = ["+8 hours"]
    written = 0
    for direction, rate_col, unit_col, cond in (
        ("inbound", "r.inbound", "NULL", ""),
        ("outbound", "r.outbound", "p.seller_id", " AND p.seller_id IS NOT NULL"),
    ):
        tag = "in" if direction == "inbound" else "out"
        sql = (
            f"WITH rates(insurer_id, inbound, outbound) AS (VALUES {values}) "  # noqa: S608
            f"INSERT INTO {_table(CommissionEntry)} ({connection.ops.quote_name('key')}, direction, event,"
            " policy_id, insurer_id, sales_unit_id, policy_year, base, rate, amount, explanation,"
            " occurred_on, settlement_ref, paid_at, created_at)"
            f" SELECT %s || CAST(p.id AS VARCHAR(20)), %s, 'issued', p.id, p.insurer_id, {unit_col}, 1,"
            f" p.premium, {rate_col}, ROUND(p.premium * {rate_col}, 2), %s, {issued_on}, '', NULL, %s"
            f" FROM {_table(Policy)} p JOIN rates r ON r.insurer_id = p.insurer_id"
            f" WHERE p.issued_at >= %s AND p.issued_at < %s{cond}"
            " ON CONFLICT (key) DO NOTHING"
        )
        params = [
            *rate_params,
            f"run:{period.key}:{tag}:",
            direction,
            explanation,
            *day_param,
            *(connection.ops.adapt_datetimefield_value(v) for v in (timezone.now(), since, until)),
        ]
        prefix = f"run:{period.key}:{tag}:"
        before = (
            0
            if connection.vendor == "postgresql"
            else CommissionEntry.objects.filter(key__startswith=prefix).count()
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            if connection.vendor == "postgresql":
                written += max(cursor.rowcount, 0)
            else:  # SQLite's rowcount of an INSERT after a WITH clause is not the rows inserted
                written += CommissionEntry.objects.filter(key__startswith=prefix).count() - before
    return written


__all__ = [
    "PeriodRun",
    "RunRates",
    "approve",
    "bulk_commission_run",
    "flag_overdue",
    "generate_insurer_statement",
    "generate_period",
    "generate_unit_statement",
    "mark_paid",
    "return_to_draft",
    "submit",
    "void",
]
