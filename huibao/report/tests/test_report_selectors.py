"""The sales report's figures on the seeded world (conftest.world), table-driven: periods in
Asia/Shanghai, groups, the hierarchy roll-up, and who sees what."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine

from huibao.distribution.models import SalesUnitKind, SalesUnitMember
from huibao.policy.models import Policy
from huibao.report import rules, selectors
from huibao.report.rules import Group, Period
from huibao.report.selectors import Scope
from huibao.report.tests import factories as f

D = datetime.date
ALL = Scope(everything=True)
# (policies, premium, commission in, commission out, cancellations)
type Expect = tuple[int, str, str, str, int]


def figures(fig) -> Expect:
    return (
        fig.policies,
        str(fig.premium),
        str(fig.commission_in),
        str(fig.commission_out),
        fig.cancellations,
    )


def by_key(report) -> dict[str, Expect]:
    return {r.key: figures(r.figures) for r in report.by_key}


@pytest.mark.parametrize(
    ("period", "since", "until", "expected"),
    [
        # 23:30 on 31 March (Shanghai) is March and Q1; 00:10 on 1 April is April and Q2.
        (
            Period.MONTH,
            D(2026, 3, 1),
            D(2026, 5, 1),
            {
                D(2026, 3, 1): (1, "1000.00", "300.00", "150.00", 0),
                D(2026, 4, 1): (4, "1050.00", "200.00", "125.00", 1),
            },
        ),
        (
            Period.QUARTER,
            D(2026, 1, 1),
            D(2026, 7, 1),
            {
                D(2026, 1, 1): (1, "1000.00", "300.00", "150.00", 0),
                D(2026, 4, 1): (4, "1050.00", "200.00", "125.00", 1),
            },
        ),
        (
            Period.DAY,
            D(2026, 3, 31),
            D(2026, 4, 2),
            {
                D(2026, 3, 31): (1, "1000.00", "300.00", "150.00", 0),
                D(2026, 4, 1): (1, "200.00", "40.00", "25.00", 0),
            },
        ),
        (
            # Monday 30 March – Sunday 5 April holds p1 and p2; the week of 6 April the cancellation
            Period.WEEK,
            D(2026, 3, 30),
            D(2026, 4, 20),
            {
                D(2026, 3, 30): (2, "1200.00", "340.00", "175.00", 0),
                D(2026, 4, 6): (0, "0", "0", "0", 1),
                D(2026, 4, 13): (1, "500.00", "100.00", "60.00", 0),
            },
        ),
        (Period.YEAR, D(2026, 1, 1), D(2027, 1, 1), {D(2026, 1, 1): (5, "2050.00", "500.00", "275.00", 1)}),
    ],
)
def test_periods(world, period, since, until, expected) -> None:
    report = selectors.sales_report(ALL, period=period, since=since, until=until)
    found = {r.period: figures(r.figures) for r in report.by_period}
    for day, want in expected.items():
        got = found[day]
        assert (got[0], Decimal(got[1]), Decimal(got[2]), Decimal(got[3]), got[4]) == (
            want[0],
            Decimal(want[1]),
            Decimal(want[2]),
            Decimal(want[3]),
            want[4],
        )
    # every period of the window is a row, the empty ones too (a chart's axis has no gaps)
    assert [r.period for r in report.by_period] == sorted(found)
    assert len(report.by_period) == len(list(rules.periods(period, since, until)))


APRIL = (D(2026, 4, 1), D(2026, 5, 1))
SPRING = (D(2026, 3, 1), D(2026, 5, 1))


@pytest.mark.parametrize(
    ("group", "window", "expected"),
    [
        (
            Group.INSURER,
            APRIL,
            {"pingan": (2, "550.00", "100.00", "60.00", 0), "picc": (2, "500.00", "100.00", "65.00", 1)},
        ),
        (
            Group.LINE,
            APRIL,
            # the bonus has no policy, so no line
            {
                "medical": (2, "550.00", "100.00", "60.00", 0),
                "accident": (2, "500.00", "100.00", "55.00", 1),
                "": (0, "0", "0", "10.00", 0),
            },
        ),
        (
            Group.PRODUCT,
            SPRING,
            {
                "health-1": (3, "1550.00", "400.00", "210.00", 0),
                "acc-1": (2, "500.00", "100.00", "55.00", 1),
                "": (0, "0", "0", "10.00", 0),
            },
        ),
        (
            # The team's override on A2's sale counts for A2 (the cost of that sale).
            Group.SELLER,
            APRIL,
            {
                "A2": (1, "200.00", "40.00", "25.00", 1),
                "A3": (1, "500.00", "100.00", "60.00", 0),
                "CH-S": (1, "300.00", "60.00", "30.00", 0),
                "CH": (0, "0", "0", "10.00", 0),  # the bonus has no policy: its payee
                "": (1, "50.00", "0", "0", 0),  # the web sale
            },
        ),
        (
            Group.TEAM,
            APRIL,
            {
                "SH-T1": (1, "200.00", "40.00", "25.00", 1),
                "SH-T2": (1, "500.00", "100.00", "60.00", 0),
                "": (2, "350.00", "60.00", "40.00", 0),  # the channel's and the web's: no team
            },
        ),
        (
            Group.BRANCH,
            SPRING,
            {"SH": (3, "1700.00", "440.00", "235.00", 1), "": (2, "350.00", "60.00", "40.00", 0)},
        ),
        (
            Group.AGENCY,
            SPRING,
            {"HQ": (4, "2000.00", "500.00", "275.00", 1), "": (1, "50.00", "0", "0", 0)},
        ),
        (
            Group.CHANNEL,
            APRIL,
            {"CH": (1, "300.00", "60.00", "40.00", 0), "": (3, "750.00", "140.00", "85.00", 1)},
        ),
        (
            Group.AGENT,
            SPRING,
            {
                "A1": (1, "1000.00", "300.00", "150.00", 0),
                "A2": (1, "200.00", "40.00", "25.00", 1),
                "A3": (1, "500.00", "100.00", "60.00", 0),
                "": (2, "350.00", "60.00", "40.00", 0),
            },
        ),
    ],
)
def test_groups_and_roll_up(world, group, window, expected) -> None:
    report = selectors.sales_report(ALL, period=Period.MONTH, since=window[0], until=window[1], group=group)
    got = {k: (v[0], Decimal(v[1]), Decimal(v[2]), Decimal(v[3]), v[4]) for k, v in by_key(report).items()}
    want = {k: (v[0], Decimal(v[1]), Decimal(v[2]), Decimal(v[3]), v[4]) for k, v in expected.items()}
    assert got == want
    # the groups add up to the total
    assert report.total.premium == sum((r.figures.premium for r in report.by_key), Decimal(0))


def test_margin_and_names(world) -> None:
    report = selectors.sales_report(
        ALL, period=Period.MONTH, since=APRIL[0], until=APRIL[1], group=Group.TEAM
    )
    rows = {r.key: r for r in report.by_key}
    assert rows["SH-T1"].name == "一组"
    assert rows["SH-T1"].figures.margin == Decimal("15.00")
    assert rows["SH-T1"].figures.refunds == Decimal("180.00")
    assert report.total.margin == Decimal("75.00")
    line = selectors.sales_report(ALL, period=Period.MONTH, since=APRIL[0], until=APRIL[1], group=Group.LINE)
    assert {r.key: r.name for r in line.by_key} == {"medical": "医疗险", "accident": "意外险", "": "—"}


def test_report_is_a_few_grouped_queries(world, django_assert_max_num_queries) -> None:
    with django_assert_max_num_queries(5):  # three aggregates and the two reads of the roll-up
        selectors.sales_report(ALL, period=Period.DAY, since=SPRING[0], until=SPRING[1], group=Group.BRANCH)


# --- who sees what -----------------------------------------------------------------------------


def test_scope_of_an_agent_is_their_own_sales(world) -> None:
    scope = selectors.scope_for(world.agent_users[0])
    assert scope is not None and not scope.everything
    assert scope.roots == ("HQ/SH/SH-T1/A1",) and scope.agent == world.a1
    report = selectors.sales_report(scope, period=Period.MONTH, since=SPRING[0], until=SPRING[1])
    assert figures(report.total) == (1, "1000.00", "300.00", "150.00", 0)
    numbers = {p.number for p in selectors.recent_policies(scope)}
    assert numbers == {world.p1.number}  # not A2's, not A3's


def test_scope_of_a_team_manager_is_the_team(world) -> None:
    manager = f.staff_user("t1boss")
    SalesUnitMember.objects.create(unit=world.team1, user=manager, is_manager=True)
    scope = selectors.scope_for(manager)
    assert scope is not None and scope.roots == ("HQ/SH/SH-T1",) and scope.managed == (world.team1,)
    report = selectors.sales_report(
        scope, period=Period.MONTH, since=SPRING[0], until=SPRING[1], group=Group.AGENT
    )
    assert set(by_key(report)) == {"A1", "A2"}


def test_scope_of_a_channel_member_is_the_channel_subtree(world) -> None:
    clerk = f.staff_user("chclerk")
    SalesUnitMember.objects.create(unit=world.channel, user=clerk)
    scope = selectors.scope_for(clerk)
    report = selectors.sales_report(scope, period=Period.MONTH, since=APRIL[0], until=APRIL[1])
    # the sub-channel's sale and the channel's bonus
    assert figures(report.total) == (1, "300.00", "60.00", "40.00", 0)


def test_nested_memberships_collapse_to_the_outermost_root(world) -> None:
    user = f.staff_user("both")
    SalesUnitMember.objects.create(unit=world.branch, user=user)
    SalesUnitMember.objects.create(unit=world.team1, user=user, is_manager=True)
    assert selectors.scope_for(user).roots == ("HQ/SH",)


def test_finance_sees_everything_and_others_nothing(world) -> None:
    finance = f.staff_user("fin", perms=("report.view_sales_report",))
    assert selectors.scope_for(finance).everything
    assert selectors.scope_for(f.staff_user("nobody")) is None


def test_commission_totals_by_state(world) -> None:
    f.commission(
        world.p1, "10.00", D(2026, 3, 31), direction="outbound", to=world.a1, paid=True, event="adjustment"
    )
    during = selectors.commission_totals([world.a1], D(2026, 4, 10))  # p1's cooling-off runs to 15 April
    assert (during.pending, during.earned, during.paid) == (
        Decimal("150.00"),
        Decimal("0.00"),
        Decimal("10.00"),
    )
    after = selectors.commission_totals([world.a1], D(2026, 4, 16))
    assert (after.pending, after.earned, after.paid, after.earned_total) == (
        Decimal("0.00"),
        Decimal("150.00"),
        Decimal("10.00"),
        Decimal("160.00"),
    )
    # another agent's entries are not A1's
    assert selectors.commission_totals([world.a3], D(2026, 4, 16)).earned == Decimal("60.00")


# --- a moved seller -----------------------------------------------------------------------------


def test_a_moved_agents_sales_stay_with_the_team_that_made_them(world) -> None:
    # given: A2 sold p2 (1 April) in team 1, then moved to team 2 on 1 May and sold again there
    from huibao.distribution.services import move_unit

    with time_machine.travel(f.at(D(2026, 5, 1), 9), tick=False):
        move_unit(world.a2, world.team2, actor="system")
    world.a2.refresh_from_db()
    assert world.a2.path == "HQ/SH/SH-T2/A2"
    f.policy(world.accident, world.a2, f.at(D(2026, 5, 10)), "70.00")
    f.commission(Policy.objects.get(premium=Decimal("70.00")), "7.00", D(2026, 5, 10))

    # when
    report = selectors.sales_report(
        ALL, period=Period.MONTH, since=D(2026, 3, 1), until=D(2026, 6, 1), group=Group.TEAM
    )

    # then: April's sale (and its refund, and the team's override) stays with team 1; May's is team 2's
    got = by_key(report)
    assert got["SH-T1"] == (2, "1200.00", "340.00", "175.00", 1)  # with A1's March sale
    assert got["SH-T2"] == (2, "570.00", "107.00", "60.00", 0)
    # the agent's own report holds both sales, wherever they were made
    own = selectors.sales_report(
        selectors.scope_for(world.agent_users[1]),
        period=Period.MONTH,
        since=D(2026, 3, 1),
        until=D(2026, 6, 1),
    )
    assert figures(own.total)[:2] == (2, "270.00")
    # team 2's manager sees what team 2 sold: not A2's April sale
    manager = f.staff_user("t2boss")
    SalesUnitMember.objects.create(unit=world.team2, user=manager, is_manager=True)
    mine = selectors.sales_report(
        selectors.scope_for(manager), period=Period.MONTH, since=D(2026, 3, 1), until=D(2026, 6, 1)
    )
    assert figures(mine.total)[:2] == (2, "570.00")


def test_a_move_records_where_every_unit_of_the_subtree_stood(world) -> None:
    from huibao.distribution.models import SalesUnitPathChange
    from huibao.distribution.services import move_unit

    north = f.unit("BJ", SalesUnitKind.BRANCH, world.hq, world.agency, name="北京分公司")
    move_unit(world.team1, north, actor="system")

    changes = {
        c.unit.code: (c.old_path, c.new_path) for c in SalesUnitPathChange.objects.select_related("unit")
    }
    assert changes == {
        "SH-T1": ("HQ/SH/SH-T1", "HQ/BJ/SH-T1"),
        "A1": ("HQ/SH/SH-T1/A1", "HQ/BJ/SH-T1/A1"),
        "A2": ("HQ/SH/SH-T1/A2", "HQ/BJ/SH-T1/A2"),
    }
