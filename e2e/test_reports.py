"""The sales report in a real browser on a phone: the ECharts canvases draw under the CSP
(no inline script), and the agent's own page shows their sales with the holder's name masked."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from huibao.finance.models import CommissionDirection
from huibao.provider.tests.factories import login
from huibao.report.tests import factories as f

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_charts_draw_and_the_agent_sees_their_own(
    live_server: Any, phone: Any, screenshot_dir: Any
) -> None:
    # given: this month's sales of two agents and a channel
    world = f.World()
    today = timezone.localdate()
    mine = f.policy(world.health, world.a1, f.at(today, 9), "1200.00", holder="陈大文")
    f.policy(world.accident, world.a2, f.at(today, 10), "300.00")
    f.policy(world.accident, world.sub, f.at(today, 11), "450.00")
    f.commission(mine, "360.00", today)
    f.commission(mine, "180.00", today, direction=CommissionDirection.OUTBOUND, to=world.a1)
    finance = login(Client(), f.staff_user("e2e_fin", perms=("report.view_sales_report",)))
    base = live_server.url
    phone.context.add_cookies(
        [{"name": "sessionid", "value": finance.cookies["sessionid"].value, "url": base}]
    )

    # when: finance opens the sales report
    phone.goto(base + "/reports/sales/", wait_until="domcontentloaded", timeout=90_000)
    # then: every chart container holds a drawn ECharts canvas
    expect(phone.locator("h1")).to_have_text("销售报表")
    for name in ("trend", "insurer", "line", "ranking"):
        chart = phone.get_by_test_id(f"chart-{name}")
        # a ceiling for a loaded machine (1 MB of ECharts), not a speed check
        expect(chart).to_have_attribute("data-chart-ready", "1", timeout=90_000)
        expect(chart.locator("canvas").first).to_be_visible()
    painted = phone.evaluate(
        """() => {
          const c = document.querySelector('[data-testid="chart-insurer"] canvas');
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i]) n++; } return n;
        }"""
    )
    assert painted > 1000  # the pie's pixels, not an empty canvas
    expect(phone.get_by_test_id("report-total").locator('[data-figure="premium"]')).to_have_text("1950.00")
    phone.screenshot(path=str(screenshot_dir / "report-sales.png"), full_page=True)

    # and the agent sees their own sales only, the holder's name masked
    agent = login(Client(), world.agent_users[0])
    phone.context.clear_cookies()
    phone.context.add_cookies([{"name": "sessionid", "value": agent.cookies["sessionid"].value, "url": base}])
    phone.goto(base + "/reports/me/", wait_until="domcontentloaded", timeout=90_000)
    expect(phone.get_by_test_id("my-policies")).to_contain_text("陈**")
    expect(phone.get_by_test_id("my-policies")).not_to_contain_text("陈大文")
    expect(phone.get_by_test_id("my-figures").locator('[data-figure="premium"]')).to_have_text("1200.00")
    phone.screenshot(path=str(screenshot_dir / "report-me.png"), full_page=True)
