"""The report's message templates (Chinese; registered in `ReportConfig.ready()`)."""

from __future__ import annotations

from huibao.notification import rules
from huibao.notification.catalogue import MessageTemplate, register

DAILY = "report.daily_sales"

TEMPLATES = (
    MessageTemplate(
        code=DAILY,
        category=rules.SERVICE,
        required=(
            "day",
            "scope",
            "policies",
            "premium",
            "commission_in",
            "commission_out",
            "margin",
            "cancellations",
            "month_premium",
        ),
        title="销售日报：{{ day|date:'n月j日' }}（{{ scope }}）",
        body=(
            "{{ day|date:'Y年n月j日' }}{{ scope }}：出单{{ policies }}件，保费{{ premium }}元；"
            "应收手续费{{ commission_in }}元，应付佣金{{ commission_out }}元，毛利{{ margin }}元；"
            "退保{{ cancellations }}件。本月累计保费{{ month_premium }}元。详见工作台“报表”。"
        ),
        email_subject="【汇保】销售日报 {{ day|date:'Y-m-d' }}（{{ scope }}）",
        email_body=(
            "您好：\n\n{{ day|date:'Y年n月j日' }}{{ scope }}的销售情况：\n"
            "出单件数：{{ policies }}\n保费：{{ premium }}元\n"
            "应收手续费：{{ commission_in }}元\n应付佣金：{{ commission_out }}元\n"
            "毛利（手续费减佣金）：{{ margin }}元\n退保件数：{{ cancellations }}\n"
            "本月累计保费：{{ month_premium }}元\n\n"
            "明细与图表请登录汇保工作台查看“报表”。\n\n汇保"
        ),
    ),
)


def register_all() -> None:
    for template in TEMPLATES:
        register(template)
