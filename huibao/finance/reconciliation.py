"""Reconciliation (对账) use-cases: import a party's statement, match it with our books, resolve
each difference, close the month.

- `import_statement` streams the file (CSV in UTF-8 or GBK/GB18030, or .xlsx read-only) row by
  row, stages good lines in `StatementLine` (COPY on PostgreSQL), checks duplicates in SQL, and
  either matches or refuses the whole file: one transaction, nothing half-imported.
- `match` classifies every policy of the month set-based in SQL (our side: the insurer's
  premium-payable ledger lines with the policy dimension and the inbound commission entries; for
  a channel, its outbound commission entries) into one `ReconciliationItem` each.
- `resolve` records what finance decided for a difference (an adjusting entry posted to the
  ledger, a dispute, their figure accepted, ours kept), with who, when and why (audit chain).
- `close` closes the month once nothing is open; closed is final.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import hashlib
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from huibao.catalog.models import Insurer
from huibao.core import audit
from huibao.core.errors import Conflict, FieldError, ValidationFailed
from huibao.core.money import to_fen
from huibao.core.states import check_transition
from huibao.distribution.models import SalesUnit
from huibao.finance import accounts, ledger
from huibao.finance import reconciliation_rules as rules
from huibao.finance.models import (
    CommissionDirection,
    CommissionEntry,
    CommissionEvent,
    JournalLine,
    LedgerAccount,
)
from huibao.finance.reconciliation_models import (
    ITEM_TRANSITIONS,
    RECONCILIATION_TRANSITIONS,
    ItemCategory,
    ItemStatus,
    PartyKind,
    Reconciliation,
    ReconciliationItem,
    ReconciliationStatus,
    StatementEncoding,
    StatementLine,
    StatementMapping,
)
from huibao.policy.models import Policy

MAX_REPORTED_ERRORS = 200
STAGE_BATCH = 5000
SAMPLE_BYTES = 1 << 16
# VAT on commission income (增值税, 6 %): splits an adjustment of the VAT-inclusive receivable.
COMMISSION_VAT_RATE = Decimal("0.06")
MAX_TOLERANCE = Decimal("10.00")

DEFAULT_COLUMNS = {
    "policy_number": "保单号",
    "premium": "保费",
    "commission": "手续费",
    "date": "日期",
    "event": "业务类型",
}


@dataclass(frozen=True, slots=True)
class Party:
    kind: str  # PartyKind
    insurer: Insurer | None = None
    sales_unit: SalesUnit | None = None

    @classmethod
    def of_insurer(cls, insurer: Insurer) -> Party:
        return cls(PartyKind.INSURER, insurer=insurer)

    @classmethod
    def of_channel(cls, unit: SalesUnit) -> Party:
        return cls(PartyKind.CHANNEL, sales_unit=unit)

    @property
    def label(self) -> str:
        if self.insurer is not None:
            return self.insurer.short_name
        assert self.sales_unit is not None
        return self.sales_unit.name

    def filter(self) -> dict[str, Any]:
        if self.kind == PartyKind.INSURER:
            return {"party_kind": PartyKind.INSURER, "insurer": self.insurer}
        return {"party_kind": PartyKind.CHANNEL, "sales_unit": self.sales_unit}


@dataclass(frozen=True, slots=True)
class MappingSpec:
    columns: Mapping[str, str]
    header_row: int = 1
    encoding: str = StatementEncoding.AUTO
    date_format: str = ""


# --- mapping -----------------------------------------------------------------------------------


def mapping_for(party: Party) -> MappingSpec:
    """The party's saved mapping, or the common layout when none is saved yet."""
    saved = StatementMapping.objects.filter(**party.filter()).first()
    if saved is None:
        return MappingSpec(columns=dict(DEFAULT_COLUMNS))
    return MappingSpec(
        columns=dict(saved.columns),
        header_row=saved.header_row,
        encoding=saved.encoding,
        date_format=saved.date_format,
    )


def check_mapping(spec: MappingSpec) -> MappingSpec:
    errors: list[FieldError] = []
    for field, required in rules.FIELDS:
        value = str(spec.columns.get(field, "") or "").strip()
        if required and not value:
            errors.append(
                FieldError(
                    f"columns.{field}", "required", f"请填写「{rules.FIELD_LABELS[field]}」所在列的列名"
                )
            )
        elif len(value) > 60:
            errors.append(FieldError(f"columns.{field}", "too_long", "列名最多60个字符"))
    if not 1 <= spec.header_row <= 50:
        errors.append(FieldError("header_row", "out_of_range", "表头行号须在 1 到 50 之间"))
    if spec.encoding not in StatementEncoding.values:
        errors.append(FieldError("encoding", "invalid", "编码须为 auto、utf-8 或 gb18030"))
    if spec.date_format:
        try:
            datetime.date(2026, 1, 31).strftime(spec.date_format)
            if "%" not in spec.date_format or len(spec.date_format) > 24:
                raise ValueError
        except ValueError:
            errors.append(FieldError("date_format", "invalid", "日期格式无效（如 %Y-%m-%d）"))
    if errors:
        raise ValidationFailed("列映射有误：" + "；".join(e.message for e in errors), errors=errors)
    columns = {f: str(spec.columns.get(f, "") or "").strip() for f, _ in rules.FIELDS}
    return MappingSpec(columns, spec.header_row, spec.encoding, spec.date_format)


def save_mapping(party: Party, spec: MappingSpec) -> StatementMapping:
    spec = check_mapping(spec)
    saved, _created = StatementMapping.objects.update_or_create(
        **party.filter(),
        defaults={
            "columns": dict(spec.columns),
            "header_row": spec.header_row,
            "encoding": spec.encoding,
            "date_format": spec.date_format,
        },
    )
    return saved


# --- reading files -----------------------------------------------------------------------------


def detect_encoding(sample: bytes) -> str:
    """UTF-8 when the sample decodes as UTF-8 (a sequence cut at the sample's end allowed),
    otherwise GB18030 (a superset of GBK, what Chinese insurers' systems export)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=False)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8-sig"


def _is_xlsx(file_name: str, head: bytes) -> bool:
    return file_name.lower().endswith(".xlsx") or head[:2] == b"PK"


def read_rows(
    file_name: str, stream: IO[bytes], encoding: str = StatementEncoding.AUTO
) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """(line number, cells) for every row of a seekable binary file, streamed: memory does not
    grow with the number of rows."""
    head = stream.read(SAMPLE_BYTES)
    stream.seek(0)
    if _is_xlsx(file_name, head):
        yield from _xlsx_rows(stream)
        return
    if encoding == StatementEncoding.AUTO:
        encoding = detect_encoding(head)
    elif encoding == StatementEncoding.UTF8:
        encoding = "utf-8-sig"
    text = io.TextIOWrapper(stream, encoding=encoding, errors="strict", newline="")
    try:
        for number, row in enumerate(csv.reader(text), start=1):
            yield number, tuple(row)
    except UnicodeDecodeError as exc:
        raise ValidationFailed(
            f"文件不是 {encoding} 编码的文本，请在列映射中选择正确的编码",
            errors=[FieldError("encoding", "undecodable", f"无法按 {encoding} 解码文件，请选择正确的编码")],
        ) from exc
    except csv.Error as exc:
        raise ValidationFailed(
            "CSV 文件格式有误", errors=[FieldError("file", "invalid_csv", f"CSV 文件格式有误：{exc}")]
        ) from exc
    finally:
        text.detach()


def file_sha256(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    stream.seek(0)
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def _xlsx_rows(stream: IO[bytes]) -> Iterator[tuple[int, tuple[Any, ...]]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        book = load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ValidationFailed(
            "无法读取 Excel 文件",
            errors=[FieldError("file", "invalid_xlsx", "无法读取 Excel 文件（须为 .xlsx）")],
        ) from exc
    try:
        sheet = book.worksheets[0]
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, tuple(row)
    finally:
        book.close()


# --- import ------------------------------------------------------------------------------------


class _Stager:
    """Writes staged lines in batches: COPY on PostgreSQL, bulk inserts elsewhere."""

    def __init__(self, reconciliation_id: int):
        self.reconciliation_id = reconciliation_id
        self.pending: list[rules.StagedCells] = []
        self.count = 0

    def add(self, line: rules.ParsedLine) -> None:
        self.add_cells(
            (line.line, line.policy_number, line.premium, line.commission, line.occurred_on, line.event)
        )

    def add_cells(self, cells: rules.StagedCells) -> None:
        self.pending.append(cells)
        self.count += 1
        if len(self.pending) >= STAGE_BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        if connection.vendor == "postgresql":
            table = StatementLine._meta.db_table
            raw = connection.connection
            copy_sql = (
                f'COPY "{table}" (reconciliation_id, line_no, policy_number, premium, commission,'
                " occurred_on, event) FROM STDIN"
            )
            rec_id = self.reconciliation_id
            with raw.cursor() as cursor, cursor.copy(copy_sql) as copy:
                write = copy.write_row
                for cells in self.pending:
                    write((rec_id, *cells))
        else:
            StatementLine.objects.bulk_create(
                [
                    StatementLine(
                        reconciliation_id=self.reconciliation_id,
                        line_no=line,
                        policy_number=number,
                        premium=Decimal(premium),
                        commission=Decimal(commission),
                        occurred_on=date
                        if isinstance(date, datetime.date)
                        else datetime.date.fromisoformat(date),
                        event=event,
                    )
                    for line, number, premium, commission, date, event in self.pending
                ]
            )
        self.pending.clear()


def _duplicates(reconciliation_id: int, limit: int) -> list[rules.LineError]:
    table = StatementLine._meta.db_table
    with connection.cursor() as cursor:
        _plan_for_staged(cursor)
        cursor.execute(
            f"""SELECT line_no, first_line, policy_number, event FROM (
                  SELECT line_no, policy_number, event,
                         MIN(line_no) OVER (PARTITION BY policy_number, event) AS first_line
                  FROM "{table}" WHERE reconciliation_id = %s
                ) d WHERE line_no > first_line ORDER BY line_no LIMIT %s""",  # noqa: S608 (the table name only)
            [reconciliation_id, limit],
        )
        return [
            rules.duplicate_error(line, first, number, event)
            for line, first, number, event in cursor.fetchall()
        ]


def _check_tolerance(tolerance: Decimal) -> Decimal:
    if (
        not isinstance(tolerance, Decimal)
        or not tolerance.is_finite()
        or tolerance < 0
        or tolerance > MAX_TOLERANCE
    ):
        raise ValidationFailed(
            "容差须在 0.00 到 10.00 元之间",
            errors=[FieldError("tolerance", "out_of_range", "容差须在 0.00 到 10.00 元之间")],
        )
    if tolerance != to_fen(tolerance):
        raise ValidationFailed(
            "容差最多两位小数", errors=[FieldError("tolerance", "invalid", "容差最多两位小数（分）")]
        )
    return tolerance


def _stage_statement(
    rec: Reconciliation,
    spec: MappingSpec,
    file_name: str,
    stream: IO[bytes],
    period: tuple[datetime.date, datetime.date],
) -> tuple[int, str]:
    """Stages the file's lines for `rec` (its lines and the file's SHA-256), or raises
    `ValidationFailed` listing every bad line (the caller's transaction then writes nothing)."""
    digest = file_sha256(stream)
    errors: list[rules.LineError] = []
    error_count = 0
    stager = _Stager(rec.pk)
    columns: dict[str, int] | None = None
    fast_index: tuple[int, int, int, int, int] | None = None
    days = rules.period_days(period)
    for number, row in read_rows(file_name, stream, spec.encoding):
        if fast_index is not None:
            cells = rules.plain_cells(row, fast_index, days, number)
            if cells is not None:
                stager.add_cells(cells)
                continue
        if number < spec.header_row:
            continue
        if number == spec.header_row:
            try:
                columns = rules.header_columns(row, spec.columns, line=number)
            except rules.MappingProblem as problem:
                errors.extend(problem.errors)
                error_count += len(problem.errors)
                break
            if not spec.date_format:  # the fast path reads ISO dates only
                fast_index = (
                    columns["policy_number"],
                    columns.get("premium", -1),
                    columns["commission"],
                    columns["date"],
                    columns.get("event", -1),
                )
            continue
        if not any(cell not in (None, "") and str(cell).strip() for cell in row):
            continue  # blank rows (a spreadsheet's trailing ones)
        assert columns is not None
        parsed = rules.parse_row(row, columns, line=number, period=period, date_format=spec.date_format)
        if isinstance(parsed, list):
            error_count += len(parsed)
            if len(errors) < MAX_REPORTED_ERRORS:
                errors.extend(parsed[: MAX_REPORTED_ERRORS - len(errors)])
        else:
            stager.add(parsed)
    stager.flush()
    if columns is None and not errors:
        errors.append(
            rules.LineError(spec.header_row, "file", "no_header", f"文件没有第{spec.header_row}行（表头行）")
        )
        error_count += 1
    if columns is not None:
        duplicates = _duplicates(rec.pk, MAX_REPORTED_ERRORS)
        error_count += len(duplicates)
        errors.extend(duplicates[: max(0, MAX_REPORTED_ERRORS - len(errors))])
    if not errors and stager.count == 0:
        errors.append(rules.LineError(spec.header_row + 1, "file", "empty", "对账单没有数据行"))
        error_count += 1
    if errors:
        errors.sort(key=lambda e: e.line)
        raise ValidationFailed(
            f"对账单有 {error_count} 处错误，未导入任何一行",
            code="statement_invalid",
            errors=[FieldError(f"line[{e.line}].{e.field}", e.code, e.message) for e in errors],
        )
    return stager.count, digest


def import_statement(
    party: Party,
    period: tuple[datetime.date, datetime.date],
    file_name: str,
    stream: IO[bytes],
    *,
    spec: MappingSpec | None = None,
    tolerance: Decimal = Decimal("0.00"),
    actor: Any = None,
    remember_mapping: bool = True,
) -> Reconciliation:
    """Imports the party's statement for `period` and matches it, or raises `ValidationFailed`
    listing every bad line (up to `MAX_REPORTED_ERRORS`) with nothing written."""
    spec = check_mapping(spec or mapping_for(party))
    tolerance = _check_tolerance(tolerance)
    with transaction.atomic():
        existing = Reconciliation.objects.filter(**party.filter(), period_start=period[0]).first()
        if existing is not None:
            raise Conflict(
                f"{party.label} {period[0]:%Y-%m} 的对账单已导入",
                code="already_imported",
                errors=[
                    FieldError("month", "already_imported", f"{period[0]:%Y-%m} 的对账单已导入，不能再次导入")
                ],
            )
        rec = Reconciliation.objects.create(
            **party.filter(),
            period_start=period[0],
            period_end=period[1],
            tolerance=tolerance,
            file_name=(file_name or "")[:200],
            imported_by=actor if getattr(actor, "pk", None) else None,
        )
        count, digest = _stage_statement(rec, spec, file_name, stream, period)
        rec.lines = count
        rec.file_sha256 = digest
        rec.save(update_fields=["lines", "file_sha256"])
        match(rec)
        if remember_mapping:
            save_mapping(party, spec)
        audit.record(
            "finance.reconciliation.import",
            "finance.reconciliation",
            str(rec.public_id),
            actor=actor,
            after={"party": party.label, "month": rec.month, "lines": rec.lines, "sha256": rec.file_sha256},
        )
    return rec


# --- matching ----------------------------------------------------------------------------------


def _plan_for_staged(cursor: Any) -> None:
    if connection.vendor == "postgresql":
        # The staged lines are new: give the planner their numbers. JIT compiling costs seconds
        # and buys nothing for one pass of hash joins.
        cursor.execute(f'ANALYZE "{StatementLine._meta.db_table}"')
        cursor.execute("SET LOCAL jit = off")


def match(rec: Reconciliation, *, keep_resolved: bool = False) -> int:
    """Writes one item per policy on either side, set-based; returns the number of items
    written. `keep_resolved`: the items already resolved stay as they are (their policies are
    not matched again); only the others are matched anew."""
    items = ReconciliationItem.objects.filter(reconciliation=rec)
    (items.filter(status__in=UNRESOLVED) if keep_resolved else items).delete()
    sql, params = match_sql(rec, keep_resolved=keep_resolved)
    with connection.cursor() as cursor:
        _plan_for_staged(cursor)
        cursor.execute(sql, params)
        return cursor.rowcount


UNRESOLVED = (ItemStatus.MATCHED, ItemStatus.OPEN)


def match_sql(rec: Reconciliation, *, keep_resolved: bool = False) -> tuple[str, list[Any]]:
    """The one INSERT … SELECT that classifies the month. Amounts compare within `tolerance`
    (the `+ 0.0001` keeps SQLite's float sums of fen exact)."""
    lines = StatementLine._meta.db_table
    journal = JournalLine._meta.db_table
    commissions = CommissionEntry._meta.db_table
    policies = Policy._meta.db_table
    items = ReconciliationItem._meta.db_table
    start, end = rec.period_start, rec.period_end
    params: list[Any] = []
    if rec.party_kind == PartyKind.INSURER:
        assert rec.insurer is not None
        premium_account = LedgerAccount.objects.filter(
            code=accounts.premium_payable(rec.insurer).code
        ).first()
        our_premium = f"""SELECT policy_id, SUM(credit) - SUM(debit) AS amount FROM "{journal}"
            WHERE account_id = %s AND posted_on BETWEEN %s AND %s AND policy_id IS NOT NULL
            GROUP BY policy_id"""  # noqa: S608
        params += [premium_account.pk if premium_account else -1, start, end]
        our_commission = f"""SELECT policy_id, SUM(amount) AS amount FROM "{commissions}"
            WHERE insurer_id = %s AND direction = 'inbound' AND occurred_on BETWEEN %s AND %s
              AND policy_id IS NOT NULL GROUP BY policy_id"""  # noqa: S608
        params += [rec.insurer_id, start, end]
        policy_insurer = "AND pol.insurer_id = %s"
        policy_params: list[Any] = [rec.insurer_id]
        compare_premium = True
    else:
        our_premium = f'SELECT policy_id, 0 AS amount FROM "{journal}" WHERE 1 = 0 GROUP BY policy_id'  # noqa: S608
        our_commission = f"""SELECT policy_id, SUM(amount) AS amount FROM "{commissions}"
            WHERE sales_unit_id = %s AND direction = 'outbound' AND occurred_on BETWEEN %s AND %s
              AND policy_id IS NOT NULL GROUP BY policy_id"""  # noqa: S608
        params += [rec.sales_unit_id, start, end]
        policy_insurer = ""
        policy_params = []
        compare_premium = False
    tol = "CAST(%s AS NUMERIC) + 0.0001"
    kept = (
        f"""WHERE NOT EXISTS (SELECT 1 FROM "{items}" k
             WHERE k.reconciliation_id = %s AND k.policy_number = paired.policy_number)"""  # noqa: S608
        if keep_resolved
        else ""
    )
    premium_ok = f"ABS(o.premium - t.premium) <= {tol}" if compare_premium else "1 = 1"
    # Ours: premium and commission per policy (a full join: either may be missing), named by the
    # policy's number; theirs: the file's lines per policy number; the two full-joined by number.
    # A number only on theirs is looked up among our policies (of this insurer) for the link.
    sql = f"""
    WITH our_premium AS ({our_premium}),
         our_commission AS ({our_commission}),
         ours AS (
           SELECT p.number AS policy_number, p.id AS policy_id,
                  COALESCE(op.amount, 0) AS premium, COALESCE(oc.amount, 0) AS commission
           FROM our_premium op FULL OUTER JOIN our_commission oc ON oc.policy_id = op.policy_id
           JOIN "{policies}" p ON p.id = COALESCE(op.policy_id, oc.policy_id)),
         theirs AS (
           SELECT policy_number, SUM(premium) AS premium, SUM(commission) AS commission,
                  MIN(line_no) AS first_line
           FROM "{lines}" WHERE reconciliation_id = %s GROUP BY policy_number),
         paired AS (
           SELECT COALESCE(o.policy_number, t.policy_number) AS policy_number,
                  COALESCE(o.policy_id, pol.id) AS policy_id,
                  CASE WHEN t.policy_number IS NULL THEN 'ours_only'
                       WHEN o.policy_number IS NULL THEN 'theirs_only'
                       WHEN {premium_ok} AND ABS(o.commission - t.commission) <= {tol} THEN 'matched'
                       ELSE 'amount_differs' END AS category,
                  {"o.premium" if compare_premium else "CAST(NULL AS NUMERIC)"} AS our_premium,
                  {"t.premium" if compare_premium else "CAST(NULL AS NUMERIC)"} AS their_premium,
                  o.commission AS our_commission, t.commission AS their_commission, t.first_line
           FROM ours o FULL OUTER JOIN theirs t ON t.policy_number = o.policy_number
           LEFT JOIN "{policies}" pol
             ON o.policy_number IS NULL AND pol.number = t.policy_number {policy_insurer})
    INSERT INTO "{items}" (reconciliation_id, policy_number, policy_id, category, our_premium,
        their_premium, our_commission, their_commission, first_line, status, reason, journal_key)
    SELECT %s, policy_number, policy_id, category, our_premium, their_premium, our_commission,
           their_commission, first_line,
           CASE WHEN category = 'matched' THEN 'matched' ELSE 'open' END, '', ''
    FROM paired {kept}
    """  # noqa: S608 (table names and fixed fragments; every value is a placeholder)
    tol_params = [str(rec.tolerance)] * (2 if compare_premium else 1)
    kept_params = [rec.pk] if keep_resolved else []
    return sql, [*params, rec.pk, *tol_params, *policy_params, rec.pk, *kept_params]


# --- resolving and closing ----------------------------------------------------------------------


class Action:
    ADJUST = "adjust"
    DISPUTE = "dispute"
    ACCEPT_THEIRS = "accept_theirs"
    OURS_RIGHT = "ours_right"


ACTION_STATUS = {
    Action.ADJUST: ItemStatus.ADJUSTED,
    Action.DISPUTE: ItemStatus.DISPUTED,
    Action.ACCEPT_THEIRS: ItemStatus.ACCEPTED_THEIRS,
    Action.OURS_RIGHT: ItemStatus.OURS_RIGHT,
}


def _difference(ours: Decimal | None, theirs: Decimal | None) -> Decimal:
    return to_fen((theirs or Decimal("0")) - (ours or Decimal("0")))


def _post_adjustment(rec: Reconciliation, item: ReconciliationItem, actor: Any, reason: str) -> str:
    """Brings our books to their figures: the premium difference to the insurer's premium
    payable, the commission difference as an ADJUSTMENT commission entry with its ledger lines.
    Dated the period's last day (the month is open, so its books still take entries)."""
    on = rec.period_end
    base_key = f"recon:{rec.public_id}:{item.pk}"
    policy_id = item.policy_id
    memo = f"对账调整 {item.policy_number}: {reason}"
    posted: list[str] = []
    differences = accounts.reconciliation_differences()
    premium_diff = (
        _difference(item.our_premium, item.their_premium)
        if rec.party_kind == PartyKind.INSURER
        else Decimal("0")
    )
    if premium_diff != 0:
        assert rec.insurer is not None
        payable = accounts.premium_payable(rec.insurer)
        amount = abs(premium_diff)
        lines = (
            [
                ledger.debit(differences, amount, policy_id=policy_id, memo=memo),
                ledger.credit(payable, amount, policy_id=policy_id, memo=memo),
            ]
            if premium_diff > 0
            else [
                ledger.debit(payable, amount, policy_id=policy_id, memo=memo),
                ledger.credit(differences, amount, policy_id=policy_id, memo=memo),
            ]
        )
        ledger.post(
            f"{base_key}:premium",
            on=on,
            description=f"对账保费调整 {item.policy_number}",
            lines=lines,
            actor=actor,
        )
        posted.append(f"{base_key}:premium")
    commission_diff = _difference(item.our_commission, item.their_commission)
    if commission_diff != 0:
        amount = abs(commission_diff)
        if rec.party_kind == PartyKind.INSURER:
            assert rec.insurer is not None
            receivable = accounts.commission_receivable(rec.insurer)
            net = to_fen(amount / (1 + COMMISSION_VAT_RATE))
            vat = amount - net
            side = [ledger.debit(receivable, amount, policy_id=policy_id, memo=memo)]
            other = [ledger.credit(accounts.commission_income(), net, policy_id=policy_id, memo=memo)]
            if vat:
                other.append(ledger.credit(accounts.vat_payable(), vat, policy_id=policy_id, memo=memo))
            if commission_diff < 0:
                side = [ledger.credit(receivable, amount, policy_id=policy_id, memo=memo)]
                other = [
                    ledger.debit(line.account, line.credit, policy_id=policy_id, memo=memo) for line in other
                ]
            lines = side + other
            direction, unit = CommissionDirection.INBOUND, None
        else:
            assert rec.sales_unit is not None
            payable_unit = accounts.commission_payable(rec.sales_unit)
            expense = accounts.commission_expense()
            lines = (
                [
                    ledger.debit(expense, amount, policy_id=policy_id, memo=memo),
                    ledger.credit(payable_unit, amount, policy_id=policy_id, memo=memo),
                ]
                if commission_diff > 0
                else [
                    ledger.debit(payable_unit, amount, policy_id=policy_id, memo=memo),
                    ledger.credit(expense, amount, policy_id=policy_id, memo=memo),
                ]
            )
            direction, unit = CommissionDirection.OUTBOUND, rec.sales_unit
        ledger.post(
            f"{base_key}:commission",
            on=on,
            description=f"对账手续费调整 {item.policy_number}",
            lines=lines,
            actor=actor,
        )
        posted.append(f"{base_key}:commission")
        insurer_id = rec.insurer_id
        if insurer_id is None:
            policy = Policy.objects.filter(pk=policy_id).only("insurer_id").first() if policy_id else None
            insurer_id = policy.insurer_id if policy else None
        if insurer_id is not None:
            CommissionEntry.objects.get_or_create(
                key=f"{base_key}:commission",
                defaults={
                    "direction": direction,
                    "event": CommissionEvent.ADJUSTMENT,
                    "policy_id": policy_id,
                    "insurer_id": insurer_id,
                    "sales_unit": unit,
                    "amount": commission_diff,
                    "occurred_on": on,
                    "explanation": {
                        "rule": "reconciliation_adjustment",
                        "reconciliation": str(rec.public_id),
                        "policy_number": item.policy_number,
                        "ours": str(item.our_commission or Decimal("0")),
                        "theirs": str(item.their_commission or Decimal("0")),
                        "reason": reason,
                    },
                },
            )
    return ",".join(posted)[:128]


def resolve(item_id: int, action: str, reason: str, *, actor: Any, request: Any = None) -> ReconciliationItem:
    reason = (reason or "").strip()
    if action not in ACTION_STATUS:
        raise ValidationFailed(
            "处理方式无效",
            errors=[
                FieldError("action", "invalid", "处理方式须为 adjust、dispute、accept_theirs 或 ours_right")
            ],
        )
    if not reason:
        raise ValidationFailed("请填写处理原因", errors=[FieldError("reason", "required", "请填写处理原因")])
    if len(reason) > 200:
        raise ValidationFailed(
            "原因最多200个字符", errors=[FieldError("reason", "too_long", "原因最多200个字符")]
        )
    with transaction.atomic():
        item = (
            ReconciliationItem.objects.select_for_update(of=("self",))
            .select_related("reconciliation")
            .get(pk=item_id)
        )
        rec = (
            Reconciliation.objects.select_for_update(of=("self",))
            .select_related("insurer", "sales_unit")
            .get(pk=item.reconciliation_id)
        )
        if rec.status != ReconciliationStatus.OPEN:
            raise Conflict("本月对账已结账，不能再处理差异", code="reconciliation_closed")
        target = ACTION_STATUS[action]
        check_transition(ITEM_TRANSITIONS, item.status, target, what="reconciliation item")
        before = {"status": item.status, "reason": item.reason}
        if action == Action.ADJUST:
            item.journal_key = _post_adjustment(rec, item, actor, reason)
        item.status = target
        item.reason = reason
        item.resolved_by = actor if getattr(actor, "pk", None) else None
        item.resolved_at = timezone.now()
        item.save(update_fields=["status", "reason", "journal_key", "resolved_by", "resolved_at"])
        audit.record(
            f"finance.reconciliation.{action}",
            "finance.reconciliationitem",
            str(item.pk),
            actor=actor,
            request=request,
            before=before,
            after={
                "status": item.status,
                "reason": reason,
                "journal": item.journal_key,
                "policy_number": item.policy_number,
            },
        )
    return item


def _open_for_change(rec_id: int) -> Reconciliation:
    rec = Reconciliation.objects.select_for_update(of=("self",)).get(pk=rec_id)
    if rec.status != ReconciliationStatus.OPEN:
        raise Conflict(
            "该月对账已结账，不能再更改",
            code="reconciliation_closed",
            errors=[FieldError("status", "closed", "该月对账已结账，不能再导入或重新匹配")],
        )
    return rec


def _item_counts(rec: Reconciliation) -> dict[str, int]:
    return dict(
        ReconciliationItem.objects.filter(reconciliation=rec)
        .values_list("category")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("category", "n")
    )


def rematch(rec_id: int, *, actor: Any, request: Any = None) -> Reconciliation:
    """Matches an open month again against our books as they are now — postings made since
    the import (a late premium, an adjustment of another month) change the items — keeping every
    item already resolved as it was."""
    with transaction.atomic():
        rec = _open_for_change(rec_id)
        before = _item_counts(rec)
        match(rec, keep_resolved=True)
        audit.record(
            "finance.reconciliation.rematch",
            "finance.reconciliation",
            str(rec.public_id),
            actor=actor,
            request=request,
            before={"items": before},
            after={"items": _item_counts(rec)},
        )
    return rec


def replace_statement(
    rec_id: int,
    file_name: str,
    stream: IO[bytes],
    *,
    spec: MappingSpec | None = None,
    actor: Any = None,
    request: Any = None,
) -> Reconciliation:
    """Replaces an open month's statement by a corrected file (the party sent a new one): its
    lines and items are those of the new file, matched anew. Refused once a difference has been
    resolved (its resolution answered the old file), and for a file with any bad line — then the
    old statement stays, untouched."""
    with transaction.atomic():
        rec = _open_for_change(rec_id)
        party = Party.of_insurer(rec.insurer) if rec.insurer_id else Party.of_channel(rec.sales_unit)  # type: ignore[arg-type]
        spec = check_mapping(spec or mapping_for(party))
        resolved = (
            ReconciliationItem.objects.filter(reconciliation=rec).exclude(status__in=UNRESOLVED).count()
        )
        if resolved:
            raise Conflict(
                f"已处理 {resolved} 项差异，不能替换对账单",
                code="differences_resolved",
                errors=[
                    FieldError(
                        "file", "differences_resolved", f"已处理 {resolved} 项差异（按原对账单），不能替换"
                    )
                ],
            )
        before = {"file_name": rec.file_name, "sha256": rec.file_sha256, "lines": rec.lines}
        ReconciliationItem.objects.filter(reconciliation=rec).delete()
        StatementLine.objects.filter(reconciliation=rec).delete()
        count, digest = _stage_statement(rec, spec, file_name, stream, (rec.period_start, rec.period_end))
        rec.lines, rec.file_sha256, rec.file_name = count, digest, (file_name or "")[:200]
        rec.save(update_fields=["lines", "file_sha256", "file_name"])
        match(rec)
        audit.record(
            "finance.reconciliation.replace",
            "finance.reconciliation",
            str(rec.public_id),
            actor=actor,
            request=request,
            before=before,
            after={"file_name": rec.file_name, "sha256": rec.file_sha256, "lines": rec.lines},
        )
    return rec


def open_count(rec: Reconciliation) -> int:
    return ReconciliationItem.objects.filter(reconciliation=rec, status=ItemStatus.OPEN).count()


def close(rec_id: int, *, actor: Any, request: Any = None) -> Reconciliation:
    with transaction.atomic():
        rec = Reconciliation.objects.select_for_update(of=("self",)).get(pk=rec_id)
        check_transition(
            RECONCILIATION_TRANSITIONS, rec.status, ReconciliationStatus.CLOSED, what="reconciliation"
        )
        still_open = open_count(rec)
        if still_open:
            raise Conflict(
                f"还有 {still_open} 项差异未处理，不能结账",
                code="differences_open",
                errors=[FieldError("items", "open", f"还有 {still_open} 项差异未处理")],
            )
        rec.status = ReconciliationStatus.CLOSED
        rec.closed_by = actor if getattr(actor, "pk", None) else None
        rec.closed_at = timezone.now()
        rec.save(update_fields=["status", "closed_by", "closed_at"])
        audit.record(
            "finance.reconciliation.close",
            "finance.reconciliation",
            str(rec.public_id),
            actor=actor,
            request=request,
            before={"status": ReconciliationStatus.OPEN},
            after={"status": rec.status},
        )
    return rec


# --- figures and exports -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CategoryTotal:
    category: str
    label: str
    count: int
    open: int
    our_premium: Decimal
    their_premium: Decimal
    our_commission: Decimal
    their_commission: Decimal

    @property
    def premium_difference(self) -> Decimal:
        return self.their_premium - self.our_premium

    @property
    def commission_difference(self) -> Decimal:
        return self.their_commission - self.our_commission


def totals(rec: Reconciliation) -> list[CategoryTotal]:
    """Per category: items, those still open, and each side's sums (the one place they are summed)."""
    zero = Decimal("0.00")
    rows = {
        row["category"]: row
        for row in ReconciliationItem.objects.filter(reconciliation=rec)
        .values("category")
        .annotate(
            n=Count("id"),
            open=Count("id", filter=Q(status=ItemStatus.OPEN)),
            op=Sum("our_premium"),
            tp=Sum("their_premium"),
            oc=Sum("our_commission"),
            tc=Sum("their_commission"),
        )
    }
    result = []
    for value, label in ItemCategory.choices:
        row: Mapping[str, Any] = rows.get(value) or {}
        result.append(
            CategoryTotal(
                value,
                str(label),
                row.get("n", 0),
                row.get("open", 0),
                to_fen(row.get("op") or zero),
                to_fen(row.get("tp") or zero),
                to_fen(row.get("oc") or zero),
                to_fen(row.get("tc") or zero),
            )
        )
    return result


def disputes_workbook(rec: Reconciliation) -> bytes:
    """The disputed items as .xlsx, to send back to the party (write-only, streamed rows)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("异议清单")
    sheet.append([f"对账期间 {rec.month}", "", "", "", "", "", ""])
    sheet.append(["保单号", "我方保费", "对方保费", "我方手续费", "对方手续费", "差额(手续费)", "说明"])
    for item in ReconciliationItem.objects.filter(reconciliation=rec, status=ItemStatus.DISPUTED).iterator():
        sheet.append(
            [
                item.policy_number,
                str(item.our_premium) if item.our_premium is not None else "",
                str(item.their_premium) if item.their_premium is not None else "",
                str(item.our_commission) if item.our_commission is not None else "",
                str(item.their_commission) if item.their_commission is not None else "",
                str(_difference(item.our_commission, item.their_commission)),
                item.reason,
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
