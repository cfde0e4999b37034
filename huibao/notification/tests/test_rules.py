from datetime import timedelta

import pytest

from huibao.notification import rules
from huibao.notification.rules import Preferences, Reachable

ALL = frozenset({rules.INBOX, rules.EMAIL, rules.SMS})


@pytest.mark.parametrize(
    ("category", "prefs", "reachable", "renders", "expected"),
    [
        # Service: inbox always, then e-mail and SMS as chosen and reachable.
        ("service", Preferences(), Reachable(True, True), ALL, ("inbox", "email", "sms")),
        ("service", Preferences(email=False, sms=False), Reachable(True, True), ALL, ("inbox",)),
        ("service", Preferences(), Reachable(email=False, sms=True), ALL, ("inbox", "sms")),
        ("service", Preferences(), Reachable(True, True), frozenset({"inbox", "email"}), ("inbox", "email")),
        # Marketing: nothing without consent, the same choices with it.
        ("marketing", Preferences(), Reachable(True, True), ALL, ()),
        ("marketing", Preferences(marketing=True), Reachable(True, True), ALL, ("inbox", "email", "sms")),
        ("marketing", Preferences(marketing=True, sms=False), Reachable(True, True), ALL, ("inbox", "email")),
    ],
)
def test_channels_for(category, prefs, reachable, renders, expected):
    assert (
        rules.channels_for(category=category, preferences=prefs, reachable=reachable, renders=renders)
        == expected
    )


def test_an_unknown_category_is_refused():
    with pytest.raises(ValueError):
        rules.channels_for(
            category="spam", preferences=Preferences(), reachable=Reachable(True, True), renders=ALL
        )


def test_defaults_keep_marketing_off():
    assert Preferences() == Preferences(email=True, sms=True, marketing=False)


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [
        (1, timedelta(minutes=1)),
        (2, timedelta(minutes=2)),
        (3, timedelta(minutes=4)),
        (6, timedelta(minutes=32)),
        (9, timedelta(minutes=256)),
        (10, timedelta(hours=6)),  # 512 min, capped
        (1000, timedelta(hours=6)),
    ],
)
def test_back_off_doubles_and_is_capped(attempts, delay):
    assert rules.retry_delay(attempts) == delay


def test_back_off_never_shrinks():
    delays = [rules.retry_delay(n) for n in range(1, 40)]
    assert delays == sorted(delays)


def test_gives_up_after_max_attempts():
    assert not rules.gives_up(5, 6)
    assert rules.gives_up(6, 6)
    with pytest.raises(ValueError):
        rules.retry_delay(0)
