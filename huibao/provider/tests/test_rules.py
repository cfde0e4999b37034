"""Region prefixes and ranking, without the database."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huibao.provider.rules import Candidate, normalise_region, rank_providers, region_match, status_line


@pytest.mark.parametrize(
    ("code", "prefix"),
    [
        ("440000", "44"),
        ("440300", "4403"),
        ("440305", "440305"),
        ("44", "44"),
        ("4403", "4403"),
        (" 310000 ", "31"),
        ("4", None),
        ("44030", None),
        ("44a305", None),
        ("", None),
    ],
)
def test_normalise_region(code, prefix):
    assert normalise_region(code) == prefix


@pytest.mark.parametrize(
    ("served", "region", "match"),
    [
        (("44",), "440305", 2),
        (("44", "4403"), "440305", 4),
        (("440305",), "440305", 6),
        (("4401",), "440305", 0),
        ((), "440305", 0),
        (("31",), "44", 0),
        (("4403",), "44", 0),  # serving a city is not serving the whole province
    ],
)
def test_region_match_is_longest_prefix(served, region, match):
    assert region_match(served, region) == match


def c(id_: int, name: str, *, regions=("44",), caps=("survey",), open_tasks=0, **kw) -> Candidate:
    return Candidate(id_, name, frozenset(caps), tuple(regions), open_tasks, **kw)


def test_ranking_prefers_specific_region_then_low_workload():
    # given: a province-wide provider with no work, two city providers, one busier
    cands = [
        c(1, "广东全省", regions=("44",)),
        c(2, "深圳甲", regions=("4403",), open_tasks=5),
        c(3, "深圳乙", regions=("4403",), open_tasks=1),
        c(4, "上海", regions=("31",)),
    ]
    # when
    ranked = rank_providers(cands, kind="survey", region="440305")
    # then
    assert [r.candidate.id for r in ranked] == [3, 2, 1]
    assert [r.match for r in ranked] == [4, 4, 2]


def test_ranking_drops_incapable_inactive_excluded_and_skipped():
    cands = [
        c(1, "能查勘"),
        c(2, "只救援", caps=("rescue",)),
        c(3, "暂停", active=False),
        c(4, "被排除", excluded_by=frozenset({"pingan"})),
        c(5, "已拒单"),
    ]
    ranked = rank_providers(cands, kind="survey", region="440305", insurer="pingan", skip=frozenset({5}))
    assert [r.candidate.id for r in ranked] == [1]
    # another insurer does use provider 4
    assert {
        r.candidate.id for r in rank_providers(cands, kind="survey", region="440305", insurer="cpic")
    } == {1, 4, 5}


@given(st.lists(st.tuples(st.sampled_from(["44", "4403", "440305", "31"]), st.integers(0, 50)), max_size=12))
def test_ranked_order_never_puts_a_weaker_match_first(rows):
    cands = [c(i, f"p{i}", regions=(r,), open_tasks=n) for i, (r, n) in enumerate(rows)]
    ranked = rank_providers(cands, kind="survey", region="440305")
    keys = [(-r.match, r.candidate.open_tasks) for r in ranked]
    assert keys == sorted(keys)
    assert all(r.match > 0 for r in ranked)


def test_status_line_is_chinese_and_names_provider():
    assert (
        status_line("accepted", kind_label="查勘", provider_name="平安公估")
        == "平安公估已接单，将尽快为您提供查勘服务"
    )
    assert status_line("in_progress", kind_label="救援", provider_name="A", note="已到达现场").endswith(
        "（已到达现场）"
    )
