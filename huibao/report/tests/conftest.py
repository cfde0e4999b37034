from __future__ import annotations

import datetime

import pytest

from huibao.finance.models import CommissionDirection
from huibao.report.tests import factories as f
from huibao.report.tests.factories import World

D = datetime.date
OUT = CommissionDirection.OUTBOUND


@pytest.fixture
def world(db: None) -> World:
    """The seeded sales of March and April 2026 (see test_report_selectors for the figures)."""
    w = World()
    # p1 at 23:30 on 31 March (Shanghai; 15:30 UTC), p2 ten minutes past midnight on 1 April
    # (still 31 March in UTC): the first is March and Q1, the second April and Q2.
    w.p1 = f.policy(w.health, w.a1, f.at(D(2026, 3, 31), 23, 30), "1000.00", cooling_off_until=D(2026, 4, 15))
    w.p2 = f.policy(w.accident, w.a2, f.at(D(2026, 4, 1), 0, 10), "200.00", holder="赵六六")
    w.p3 = f.policy(w.health, w.a3, f.at(D(2026, 4, 15)), "500.00")
    w.p4 = f.policy(w.accident, w.sub, f.at(D(2026, 4, 20)), "300.00")
    w.p5 = f.policy(w.health, None, f.at(D(2026, 4, 21)), "50.00")  # sold on the web, no seller
    f.commission(w.p1, "300.00", D(2026, 3, 31))
    f.commission(w.p1, "150.00", D(2026, 3, 31), direction=OUT, to=w.a1)
    f.commission(w.p2, "40.00", D(2026, 4, 1))
    f.commission(w.p2, "20.00", D(2026, 4, 1), direction=OUT, to=w.a2)
    f.commission(w.p2, "5.00", D(2026, 4, 1), direction=OUT, to=w.team1)  # the team's override
    f.commission(w.p3, "100.00", D(2026, 4, 15))
    f.commission(w.p3, "60.00", D(2026, 4, 15), direction=OUT, to=w.a3)
    f.commission(w.p4, "60.00", D(2026, 4, 20))
    f.commission(w.p4, "30.00", D(2026, 4, 20), direction=OUT, to=w.channel)
    f.commission(None, "10.00", D(2026, 4, 25), direction=OUT, to=w.channel, insurer=w.picc)  # a bonus
    f.cancellation(w.p2, f.at(D(2026, 4, 10), 9), "180.00")
    return w
