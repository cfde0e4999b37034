from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from huibao.account import rules
from huibao.account.roles import ROLES, resolve_permissions

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "13800138000"),
        (" 138 0013 8000 ", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("008613800138000", "13800138000"),
        ("8613800138000", "13800138000"),
    ],
)
def test_normalize_phone_strips_noise_and_country_code(raw, expected):
    # given / when
    result = rules.normalize_phone(raw)
    # then
    assert result == expected


@pytest.mark.parametrize(
    ("phone", "valid"),
    [
        ("13800138000", True),
        ("19912345678", True),
        ("12800138000", False),  # second digit must be 3-9
        ("1380013800", False),  # 10 digits
        ("138001380001", False),  # 12 digits
        ("23800138000", False),
        ("1380013800a", False),
        ("", False),
    ],
)
def test_is_valid_phone_accepts_only_mainland_mobiles(phone, valid):
    assert rules.is_valid_phone(phone) is valid


@pytest.mark.parametrize(
    ("attempts", "burnt", "expires_in", "matches", "reason", "ok"),
    [
        (0, False, 60, True, "ok", True),
        (0, False, 60, False, "mismatch", False),
        (3, False, 60, False, "mismatch", False),
        (4, False, 60, False, "exhausted", False),  # the 5th wrong try burns the code
        (5, True, 60, True, "exhausted", False),  # burnt by tries: even the right code is refused
        (0, True, 60, True, "burnt", False),  # already used
        (0, False, 0, True, "expired", False),
        (0, False, -1, True, "expired", False),
    ],
)
def test_check_code_decision_table(attempts, burnt, expires_in, matches, reason, ok):
    # given
    expires_at = NOW + timedelta(seconds=expires_in)
    # when
    outcome = rules.check_code(
        now=NOW, expires_at=expires_at, attempts=attempts, burnt=burnt, matches=matches
    )
    # then
    assert (outcome.reason, outcome.ok) == (reason, ok)


def test_resend_wait_counts_down_sixty_seconds():
    assert rules.resend_wait(now=NOW, last_sent_at=None) == 0
    assert rules.resend_wait(now=NOW, last_sent_at=NOW - timedelta(seconds=10)) == 50
    assert rules.resend_wait(now=NOW, last_sent_at=NOW - timedelta(seconds=60)) == 0


def test_resolve_permissions_expands_patterns_and_reports_missing():
    # given
    available = {"catalog.view_product", "catalog.add_product", "rating.view_quote", "core.view_auditentry"}
    # when
    result = resolve_permissions(["catalog.view_*", "rating.view_quote", "claim.view_claim"], available)
    # then
    assert result.granted == {"catalog.view_product", "rating.view_quote"}
    assert result.missing == ("claim.view_claim",)


def test_every_role_has_a_chinese_label():
    assert {code: role.label for code, role in ROLES.items()} == {
        "operator": "运营",
        "agent": "销售代理",
        "underwriter": "核保",
        "claims_adjuster": "理赔",
        "provider": "服务商",
        "fraud_analyst": "风控",
        "fraud_lead": "风控主管",
        "finance": "财务",
        "customer_service": "客服",
        "auditor": "审计",
        "channel_manager": "渠道经理",
        "admin": "管理员",
    }


@pytest.mark.parametrize(
    ("now", "window", "expected"),
    [
        (0.0, 600, (0, 600)),
        (599.2, 600, (0, 1)),
        (600.0, 600, (1, 600)),
        (3601.5, 3600, (1, 3599)),
    ],
)
def test_window_position_is_the_fixed_window_and_the_seconds_left(now, window, expected):
    assert rules.window_position(now, window) == expected


def test_wait_after_is_zero_within_every_limit_else_the_furthest_window():
    hour, day = rules.RateLimit(5, 3600), rules.RateLimit(10, 86400)
    assert rules.wait_after([(hour, 5, 100), (day, 10, 5000)]) == 0
    assert rules.wait_after([(hour, 6, 100), (day, 6, 5000)]) == 100
    assert rules.wait_after([(hour, 11, 100), (day, 11, 5000)]) == 5000
