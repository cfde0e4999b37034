"""The report pages, the Excel export, the API and the daily report on the seeded world."""

from __future__ import annotations

import datetime
import json
import re
from decimal import Decimal
from io import BytesIO

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from huibao.distribution.models import SalesUnitMember
from huibao.finance.models import CommissionDirection
from huibao.jobs.registry import JobContext
from huibao.notification.models import OutboxMessage
from huibao.policy.tests.factories import staff_login
from huibao.report import jobs, services
from huibao.report.tests import factories as f

D = datetime.date
SPRING = {"period": "month", "end": "2026-04-30", "count": "2"}


def chart_json(html: str, element_id: str) -> dict:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert match, f"no {element_id} data block"
    return json.loads(match.group(1))


@pytest.fixture
def finance(world):
    return f.staff_user("fin", groups=("finance",), perms=("report.view_sales_report",))


def test_sales_page_has_the_figures_and_the_charts(client, world, finance) -> None:
    # given
    staff_login(client, finance)
    # when
    response = client.get("/reports/sales/", {**SPRING, "group": "insurer"})
    # then
    assert response.status_code == 200
    html = response.content.decode()
    trend = chart_json(html, "chart-trend")
    assert trend["labels"] == ["2026-03", "2026-04"]
    assert trend["series"][0]["values"] == ["1000.00", "1050.00"]  # premium
    assert trend["series"][1]["values"] == ["150.00", "75.00"]  # margin
    insurer = chart_json(html, "chart-insurer")
    assert {i["name"]: i["value"] for i in insurer["items"]} == {"平安": "1550.00", "人保": "500.00"}
    ranking = chart_json(html, "chart-ranking")
    assert (
        ranking["labels"][-1] == "张一" and ranking["values"][-1] == "1000.00"
    )  # the top agent last (top bar)
    for name in ("chart-trend", "chart-insurer", "chart-line", "chart-ranking"):
        assert f'data-chart="{name}"' in html
    assert "vendor/echarts/echarts.min.js" in html and "report/charts.js" in html
    assert 'data-key="pingan"' in html
    # no inline script beyond the JSON data blocks (the CSP refuses them)
    assert not re.search(r"<script(?![^>]*(type=\"application/json\"|src=))[^>]*>", html)


def test_sales_page_names_a_bad_parameter(client, world, finance) -> None:
    staff_login(client, finance)
    response = client.get("/reports/sales/", {"period": "fortnight", "count": "0"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "统计周期只能是" in html


def test_excel_export_reads_back_as_numbers(client, world, finance) -> None:
    staff_login(client, finance)
    response = client.get("/reports/sales/", {**SPRING, "group": "team", "format": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(BytesIO(response.content))
    periods = list(wb.worksheets[0].iter_rows(values_only=True))
    assert periods[0][0] == "期间"
    assert periods[1][0] == "2026-03" and periods[1][2] == 1 and periods[1][3] == 1000
    assert isinstance(periods[2][3], int | float) and Decimal(str(periods[2][3])) == Decimal("1050")
    groups = {row[0]: row for row in wb.worksheets[1].iter_rows(min_row=2, values_only=True)}
    assert groups["SH-T1"][1] == "一组" and groups["SH-T1"][2] == 2
    assert Decimal(str(groups["SH-T1"][6])) == Decimal("165")  # margin 300+40 − 150−25


def test_an_agent_sees_only_their_own_sales(client, world) -> None:
    # given: A1 sold today too; A2 sold today to someone else
    today = timezone.localdate()
    mine = f.policy(world.health, world.a1, f.at(today, 9), "88.00", holder="陈大文", cooling_off_until=today)
    theirs = f.policy(world.health, world.a2, f.at(today, 9), "99.00", holder="周其他")
    f.commission(mine, "20.00", today, direction=CommissionDirection.OUTBOUND, to=world.a1)
    staff_login(client, world.agent_users[0])
    # when
    page = client.get("/reports/me/").content.decode()
    report = client.get("/reports/sales/", SPRING).content.decode()
    # then: my policy with the holder's name masked, not A2's
    assert mine.number in page and "陈**" in page and "陈大文" not in page
    assert theirs.number not in page and world.p2.number not in page
    assert 'data-figure="pending">20.00<' in page  # in cooling-off until today
    assert chart_json(report, "chart-trend")["series"][0]["values"] == ["1000.00", "0.00"]


def test_a_team_manager_sees_each_agent(client, world) -> None:
    manager = f.staff_user("t1boss")
    SalesUnitMember.objects.create(unit=world.team1, user=manager, is_manager=True)
    today = timezone.localdate()
    f.policy(world.health, world.a2, f.at(today, 9), "99.00")
    staff_login(client, manager)
    page = client.get("/reports/me/").content.decode()
    assert 'data-testid="my-team"' in page and 'data-key="A2"' in page and 'data-key="A3"' not in page


def test_a_user_without_a_scope_is_refused(client, world) -> None:
    staff_login(client, f.staff_user("nobody"))
    assert client.get("/reports/sales/").status_code == 403
    assert client.get("/reports/me/").status_code == 403
    home = client.get("/reports/")
    assert home.status_code == 200 and 'data-testid="home-figures"' not in home.content.decode()


def test_home_lists_the_sections_and_the_figures(client, world, finance) -> None:
    staff_login(client, finance)
    html = client.get("/reports/").content.decode()
    assert 'data-section="report.sales"' in html and 'data-testid="figures-month"' in html
    assert 'data-section="report.me"' not in html  # finance is no seller


def test_pages_need_a_verified_staff_log_in(client, world) -> None:
    client.force_login(world.agent_users[0])  # no TOTP
    assert client.get("/reports/me/").status_code == 302


# --- API ------------------------------------------------------------------------------------------


def test_api_sales_for_finance(client, world, finance) -> None:
    staff_login(client, finance)
    body = client.get("/api/v1/reports/sales", {**SPRING, "group": "branch"}).json()
    assert body["scope"] == [] and body["since"] == "2026-03-01" and body["until"] == "2026-05-01"
    assert body["total"]["premium"] == "2050.00" and body["total"]["margin"] == "225.00"
    groups = {g["key"]: g["figures"] for g in body["groups"]}
    assert groups["SH"]["policies"] == 3 and groups["SH"]["commission_out"] == "235.00"


def test_api_scopes_an_agent(client, world) -> None:
    staff_login(client, world.agent_users[2])
    body = client.get("/api/v1/reports/sales", {**SPRING, "group": "agent"}).json()
    assert body["scope"] == ["HQ/SH/SH-T2/A3"]
    assert [g["key"] for g in body["groups"]] == ["A3"]
    assert body["total"]["premium"] == "500.00"


def test_api_bad_input_names_the_fields(client, world, finance) -> None:
    staff_login(client, finance)
    response = client.get("/api/v1/reports/sales", {"period": "fortnight", "count": "x", "end": "31/04"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_failed"
    assert {e["field"] for e in body["errors"]} == {"period", "count", "end"}


def test_api_refuses_who_has_no_scope(client, world) -> None:
    staff_login(client, f.staff_user("nobody"))
    response = client.get("/api/v1/reports/sales")
    assert response.status_code == 403 and response.json()["code"] == "not_allowed"


# --- the daily report -----------------------------------------------------------------------------


def test_daily_report_once_per_manager_and_day(world) -> None:
    # given: the managers of team 1 and team 2, and a finance clerk
    boss1, boss2 = f.staff_user("boss1"), f.staff_user("boss2")
    SalesUnitMember.objects.create(unit=world.team1, user=boss1, is_manager=True)
    SalesUnitMember.objects.create(unit=world.team2, user=boss2, is_manager=True)
    SalesUnitMember.objects.create(unit=world.team2, user=f.staff_user("clerk"))  # not a manager
    clerk = f.staff_user("fin2", groups=("finance",))
    saved: list[object] = []
    ctx = JobContext(
        job="report.daily_sales",
        run_date=D(2026, 4, 2),
        cursor=None,
        _save=saved.append,
        _progress=lambda *a: None,
    )
    # when: the job runs twice for 2 April (yesterday's figures: 1 April)
    jobs.daily_sales(ctx)
    again = services.send_daily_reports(D(2026, 4, 2))
    # then
    assert again == 0
    inbox = {
        m.user_id: m for m in OutboxMessage.objects.filter(channel="inbox", template="report.daily_sales")
    }
    assert set(inbox) == {boss1.pk, boss2.pk, clerk.pk}
    assert (
        OutboxMessage.objects.filter(user=boss1, template="report.daily_sales").count() == 2
    )  # inbox + e-mail
    assert "出单1件，保费200.00元" in inbox[boss1.pk].body and "一组" in inbox[boss1.pk].subject
    assert "毛利15.00元" in inbox[boss1.pk].body and "退保0件" in inbox[boss1.pk].body
    assert "出单0件" in inbox[boss2.pk].body
    assert "全公司" in inbox[clerk.pk].subject and "本月累计保费200.00元" in inbox[clerk.pk].body
    assert saved and saved[-1] == {"user": max(boss1.pk, boss2.pk, clerk.pk)}
    # a resumed run starts after the cursor: nothing is left to write
    assert services.send_daily_reports(D(2026, 4, 2), cursor=saved[-1]) == 0


def test_demo_sends_the_daily_report_once(world, finance) -> None:
    from huibao.report.demo import load_demo_report

    first = load_demo_report()
    assert first.messages == 2  # the finance clerk: inbox and e-mail
    assert load_demo_report().messages == 0
