from django.apps import AppConfig


class ReportConfig(AppConfig):
    name = "huibao.report"
    label = "report"
    verbose_name = "Reports"

    def ready(self) -> None:
        # Reports (issue 12, item 8): the back-office home and the sales report in the staff nav,
        # the agents' own page for anyone with a sales scope, the daily report job and its message.
        from django.utils.translation import gettext_lazy as _

        from huibao.core.backoffice import register_section
        from huibao.jobs.registry import register_job
        from huibao.report import jobs, notices, selectors

        notices.register_all()
        register_section("report.home", _("工作台首页"), "report:home", order=10)
        register_section(
            "report.sales",
            _("销售报表"),
            "report:sales",
            test=lambda u: selectors.scope_for(u) is not None,
            order=20,
        )
        register_section(
            "report.me",
            _("我的业绩"),
            "report:me",
            test=lambda u: (s := selectors.scope_for(u)) is not None and bool(s.agent or s.managed),
            order=25,
        )
        register_job(
            "report.daily_sales",
            jobs.daily_sales,
            order=900,
            description="daily sales report to each manager (yesterday, their subtree)",
        )
