"""A report request's parameters (period, group, count, end date) checked once, for the pages,
the Excel export and the API: a bad value is a `ValidationFailed` naming the field."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass

from huibao.core.errors import FieldError, ValidationFailed
from huibao.report import rules
from huibao.report.rules import Group, Period


@dataclass(frozen=True, slots=True)
class ReportQuery:
    period: Period
    group: Group
    since: datetime.date
    until: datetime.date  # exclusive
    count: int
    end: datetime.date  # a day of the last period shown


def parse(
    params: Mapping[str, str], *, today: datetime.date, default_group: Group = Group.TOTAL
) -> ReportQuery:
    errors: list[FieldError] = []
    raw_period = (params.get("period") or Period.MONTH.value).strip()
    raw_group = (params.get("group") or default_group.value).strip()
    try:
        period = Period(raw_period)
    except ValueError:
        period = Period.MONTH
        allowed = "、".join(p.value for p in Period)
        errors.append(FieldError("period", "invalid", f"统计周期只能是 {allowed}"))
    try:
        group = Group(raw_group)
    except ValueError:
        group = default_group
        allowed = "、".join(g.value for g in Group)
        errors.append(FieldError("group", "invalid", f"分组只能是 {allowed}"))
    count = rules.DEFAULT_COUNT[period]
    raw_count = (params.get("count") or "").strip()
    if raw_count:
        limit = rules.MAX_COUNT[period]
        if not raw_count.isdigit() or not 1 <= int(raw_count) <= limit:
            errors.append(FieldError("count", "out_of_range", f"期数须为 1 至 {limit} 的整数"))
        else:
            count = int(raw_count)
    end = today
    raw_end = (params.get("end") or "").strip()
    if raw_end:
        try:
            end = datetime.date.fromisoformat(raw_end)
        except ValueError:
            errors.append(FieldError("end", "invalid", "截止日期格式应为 YYYY-MM-DD"))
    if errors:
        raise ValidationFailed("报表查询参数有误", errors=errors)
    since, until = rules.window(period, end, count)
    return ReportQuery(period=period, group=group, since=since, until=until, count=count, end=end)
