"""The report's daily job (registered in `ReportConfig.ready()`)."""

from __future__ import annotations

from huibao.jobs.registry import JobContext
from huibao.report import services


def daily_sales(ctx: JobContext) -> None:
    sent = services.send_daily_reports(
        ctx.run_date, cursor=ctx.cursor, checkpoint=ctx.save_cursor, stop=lambda: ctx.should_stop
    )
    ctx.check_stop()
    ctx.progress(sent)
