"""The bench's reading of what the server reported: rates over the steady part of a run,
statements grouped by kind, profiles merged per step."""

from __future__ import annotations

import cProfile
import json

import pytest

from bench.issue import Costs, FlowCost, _steady_rate
from bench.profile import statement_kind, summarise, summarise_step
from huibao.benchmark.timing import Timing


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        (
            'SELECT "a"."id" FROM "application_application" WHERE "a"."id" = %s FOR UPDATE',
            "SELECT application_application (FOR UPDATE)",
        ),
        ('INSERT INTO "core_auditentry" ("action") VALUES (%s) RETURNING "id"', "INSERT core_auditentry"),
        ('UPDATE "benchmark_floorrow" SET "step" = %s WHERE "id" = %s', "UPDATE benchmark_floorrow"),
        ('SAVEPOINT "s140_x1"', "SAVEPOINT"),
        ('RELEASE SAVEPOINT "s140_x1"', "RELEASE"),
        ("BEGIN", "BEGIN"),
    ],
)
def test_statements_are_grouped_by_verb_and_table(sql, kind):
    assert statement_kind(sql) == kind


def test_the_rate_counts_only_what_ends_between_the_ramp_and_the_deadline():
    # given: a 20 s run (ramp: its first quarter), answers every 0.5 s from 0 to 30 s
    done = [i * 0.5 for i in range(61)]
    # when
    per_request = _steady_rate(done, 0.0, 20.0)
    per_flow = _steady_rate(done, 0.0, 20.0, per=14)
    # then: 5 s … 20 s hold 31 answers over 15 s
    assert per_request == round(31 / 15, 2)
    assert per_flow == round(31 / 15 / 14, 2)
    assert _steady_rate(done, 5.0, 5.0) == 0.0


def test_a_flows_cost_adds_its_answers_and_the_phase_keeps_medians_per_step():
    # given
    costs, flow = Costs(), FlowCost()
    answers = [
        ("start", Timing(10.0, 4.0, 5, {}, cpu_ms=6.0, process_cpu_ms=6.5)),
        (
            "notify",
            Timing(
                30.0, 12.0, 22, {"policy_policynumbersequence": (9.0, 0.5)}, cpu_ms=15.0, process_cpu_ms=16.0
            ),
        ),
        ("check", None),  # an answer without the header still counts as a request
    ]
    # when
    for step, timing in answers:
        flow.add(costs.step(step, timing))
    costs.flows.append(
        (flow.app_ms, flow.sql_ms, flow.statements, flow.requests, flow.cpu_ms, flow.process_cpu_ms)
    )
    summary = costs.summary()
    # then
    assert (flow.app_ms, flow.cpu_ms, flow.statements, flow.requests) == (40.0, 21.0, 27, 3)
    assert summary["server_ms_per_flow"] == 40.0
    assert summary["server_cpu_ms_per_flow"] == 21.0
    assert summary["server_process_cpu_ms_per_flow"] == 22.5
    assert summary["steps"]["notify"]["process_cpu_ms"] == 16.0
    assert summary["statements_per_flow"] == 27
    assert summary["steps"]["notify"]["statements"] == 22
    assert summary["locks"]["policy_policynumbersequence"]["held_p50_ms"] == 9.0


def _busy() -> int:
    return sum(i * i for i in range(20_000))


def test_profiles_of_a_step_are_merged_with_their_statements(tmp_path):
    # given: two profiled requests of one step, as the server writes them
    for n in (1, 2):
        profiler = cProfile.Profile()
        profiler.enable()
        _busy()
        profiler.disable()
        profiler.dump_stats(tmp_path / f"confirm.100.{n}.prof")
        (tmp_path / f"confirm.100.{n}.sql.json").write_text(
            json.dumps(
                ['SELECT "x" FROM "application_application" FOR UPDATE', 'INSERT INTO "core_auditentry"']
            )
        )
    steps = {
        "confirm": {"n": 2, "server_ms": 60.0, "cpu_ms": 16.0, "statements": 22.0},
        "quote": {"n": 2, "server_ms": 8.0, "cpu_ms": 3.0, "statements": 3.0},
    }
    # when
    one = summarise_step(sorted(tmp_path.glob("confirm.*.prof")))
    top = summarise(tmp_path, steps, flows=2, top=1)
    # then
    assert one["profiled_requests"] == 2
    assert one["statements_per_request_by_kind"] == {
        "SELECT application_application (FOR UPDATE)": 1.0,
        "INSERT core_auditentry": 1.0,
    }
    assert sum(one["own_time_by_area_pct"].values()) == pytest.approx(100, abs=0.5)
    assert list(top) == ["confirm", "statements_by_step"]
    assert top["confirm"]["cpu_ms_per_flow"] == 16.0


def test_memory_flat_allows_half_as_much_again_plus_32_mb() -> None:
    from bench import harness

    small = {"peak_mb_over_base": 20.0}
    assert harness.memory_flat(small, {"peak_mb_over_base": 62.0}) == {
        "value": 62.0,
        "target": "<= 62",
        "met": True,
    }
    assert not harness.memory_flat(small, {"peak_mb_over_base": 62.1})["met"]


def test_memory_figures_are_the_base_the_peak_and_the_peak_over_the_base() -> None:
    from bench import harness

    base = harness.rss_mb()
    figures = harness.memory_figures(base)
    assert base > 0 and figures["base_mb"] == round(base, 1)
    # each rounded on its own: the peak over the base is within rounding of peak minus base
    assert abs(figures["peak_mb_over_base"] - (figures["peak_mb"] - figures["base_mb"])) <= 0.1 + 1e-9
