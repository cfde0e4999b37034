"""Pure payment rules, no database."""

from __future__ import annotations

import datetime
import itertools

from huibao.payment import rules


def test_staleness_window_is_five_minutes_both_ways() -> None:
    now = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    assert not rules.is_stale(now - datetime.timedelta(minutes=5), now)
    assert rules.is_stale(now - datetime.timedelta(minutes=5, seconds=1), now)
    assert rules.is_stale(now + datetime.timedelta(minutes=6), now)


def test_retry_schedule_grows_and_ends() -> None:
    delays = [rules.retry_delay(n) for n in range(1, len(rules.RETRY_DELAYS) + 2)]
    assert delays[0] == datetime.timedelta(seconds=15) and delays[-1] is None
    assert all(a <= b for a, b in itertools.pairwise(delays[:-1]))  # type: ignore[operator]


def test_test_cards_and_real_name_match() -> None:
    assert rules.card_outcome("4000000000000002") == "declined"
    assert rules.card_outcome("4000000000000069") == "expired"
    assert rules.card_outcome("4242424242424242") == "success"
    assert rules.payer_is_applicant("张 三", "11010519900307123x", "张三", "11010519900307123X")
    # the middle dot of a minority name, typed as one of its look-alikes
    assert rules.payer_is_applicant(
        "阿卜杜拉·买买提", "110105199003071239", "阿卜杜拉•买买提", "110105199003071239"
    )
    assert not rules.payer_is_applicant("张三", "110105199003071239", "张三", "110105198511204566")
