"""The chart of accounts: one function per account, so every poster names an account the same
way. Accounts are created on first use (`ledger.account`).

Normal balances: assets and expenses are debit-normal, liabilities, income and equity
credit-normal (`ledger.balance` returns the balance on the account's normal side).

| code                                   | kind      | what it holds                                  |
|----------------------------------------|-----------|------------------------------------------------|
| cash                                   | asset     | the agency's collection account (备付金/收款户) |
| premium_payable:insurer:<code>         | liability | premium collected, owed to the insurer         |
| commission_receivable:insurer:<code>   | asset     | commission (手续费) the insurer owes, VAT incl. |
| commission_income                      | income    | commission income, net of VAT                  |
| vat_payable                            | liability | output VAT on commission income                |
| commission_payable:unit:<code>         | liability | commission owed to a channel or an agent       |
| premium_receivable:unit:<code>         | asset     | premium a channel collected for us (embedded)  |
| commission_expense                     | expense   | commission paid out to channels and agents     |
| withholding_tax_payable                | liability | individual income tax withheld from agents     |
| refunds_payable                        | liability | premium to give back to customers              |
| reconciliation_differences             | expense   | premium differences adjusted in reconciliation |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from huibao.finance.models import AccountKind

if TYPE_CHECKING:
    from huibao.catalog.models import Insurer
    from huibao.distribution.models import SalesUnit


@dataclass(frozen=True, slots=True)
class AccountRef:
    code: str
    name: str
    kind: str
    party_kind: str = ""
    party_id: int | None = None


def cash() -> AccountRef:
    return AccountRef("cash", "银行存款-收款户", AccountKind.ASSET)


def _of_insurer(prefix: str, label: str, kind: str, insurer: Insurer) -> AccountRef:
    return AccountRef(
        f"{prefix}:insurer:{insurer.code}", f"{label}-{insurer.short_name}", kind, "insurer", insurer.pk
    )


def premium_payable(insurer: Insurer) -> AccountRef:
    return _of_insurer("premium_payable", "应付保费", AccountKind.LIABILITY, insurer)


def commission_receivable(insurer: Insurer) -> AccountRef:
    return _of_insurer("commission_receivable", "应收手续费", AccountKind.ASSET, insurer)


def commission_income() -> AccountRef:
    return AccountRef("commission_income", "手续费收入", AccountKind.INCOME)


def vat_payable() -> AccountRef:
    return AccountRef("vat_payable", "应交税费-增值税(销项)", AccountKind.LIABILITY)


def commission_payable(unit: SalesUnit) -> AccountRef:
    return AccountRef(
        f"commission_payable:unit:{unit.code}",
        f"应付佣金-{unit.name}",
        AccountKind.LIABILITY,
        "sales_unit",
        unit.pk,
    )


def premium_receivable(unit: SalesUnit) -> AccountRef:
    """Premium a channel collected at its own checkout for the policies it sold embedded, which
    it owes the platform until it settles (huibao.embedded)."""
    return AccountRef(
        f"premium_receivable:unit:{unit.code}",
        f"应收渠道保费-{unit.name}",
        AccountKind.ASSET,
        "sales_unit",
        unit.pk,
    )


def commission_expense() -> AccountRef:
    return AccountRef("commission_expense", "佣金支出", AccountKind.EXPENSE)


def withholding_tax_payable() -> AccountRef:
    return AccountRef("withholding_tax_payable", "应交税费-代扣个人所得税", AccountKind.LIABILITY)


def refunds_payable() -> AccountRef:
    return AccountRef("refunds_payable", "应付退保金", AccountKind.LIABILITY)


# Reconciliation area: where an adjusted premium difference with an insurer is booked against.
def reconciliation_differences() -> AccountRef:
    return AccountRef("reconciliation_differences", "对账差异调整", AccountKind.EXPENSE)
