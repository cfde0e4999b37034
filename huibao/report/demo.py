"""The reports in the demo (`manage.py load_demo_report`, run by `setup_demo`): the pages read
what the other demos wrote (the demo policies, the sales hierarchy and commissions of the
distribution and finance demos); this sends yesterday's daily report to every manager and to the
finance and operations staff, once (the outbox's dedup key: run again, it sends nothing)."""

from __future__ import annotations

from dataclasses import dataclass

from huibao.report import rules, selectors, services
from huibao.report.rules import Period
from huibao.report.selectors import Scope


@dataclass(frozen=True, slots=True)
class DemoReport:
    messages: int
    month_policies: int
    month_premium: str


def load_demo_report() -> DemoReport:
    today = selectors.today()
    written = services.send_daily_reports(today)
    month = selectors.sales_report(
        Scope(everything=True),
        period=Period.MONTH,
        since=rules.period_start(Period.MONTH, today),
        until=rules.period_end(Period.DAY, today),
    ).total
    return DemoReport(messages=written, month_policies=month.policies, month_premium=f"{month.premium:.2f}")
