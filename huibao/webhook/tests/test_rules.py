from __future__ import annotations

from datetime import timedelta

import pytest

from huibao.webhook import rules


@pytest.mark.parametrize(
    ("attempts", "nominal"),
    [
        (1, timedelta(minutes=1)),
        (2, timedelta(minutes=5)),
        (3, timedelta(minutes=30)),
        (4, timedelta(hours=2)),
        (5, timedelta(hours=6)),
        (6, timedelta(hours=24)),
    ],
)
def test_retry_delay_follows_the_schedule_within_the_jitter_band(attempts, nominal):
    assert rules.retry_delay(attempts, jitter=0.5) == nominal
    low, high = rules.retry_delay(attempts, jitter=0.0), rules.retry_delay(attempts, jitter=0.999)
    assert low is not None and high is not None
    assert nominal * 0.9 <= low < nominal < high <= nominal * 1.1


def test_after_the_last_wait_there_is_no_retry():
    assert rules.retry_delay(len(rules.RETRY_SCHEDULE) + 1) is None
    assert rules.MAX_ATTEMPTS == 7
    with pytest.raises(ValueError):
        rules.retry_delay(0)


def test_a_signature_verifies_and_any_change_breaks_it():
    body = b'{"id":"evt_1","data":{"premium":"3.50"}}'
    header = rules.signature("whsec_k", "evt_1", 1_800_000_000, body)
    assert header.startswith("v1=") and len(header) == 3 + 64
    ok = dict(header=header, webhook_id="evt_1", timestamp="1800000000", body=body, now=1_800_000_010)
    assert rules.verify("whsec_k", **ok) is None
    assert rules.verify("whsec_other", **ok) == "bad_signature"
    assert rules.verify("whsec_k", **{**ok, "body": body + b" "}) == "bad_signature"
    assert rules.verify("whsec_k", **{**ok, "webhook_id": "evt_2"}) == "bad_signature"
    assert rules.verify("whsec_k", **{**ok, "timestamp": "1800000001"}) == "bad_signature"
    assert rules.verify("whsec_k", **{**ok, "now": 1_800_000_000 + 301}) == "stale_timestamp"
    assert rules.verify("whsec_k", **{**ok, "header": f"v1=00 {header}"}) is None
    assert rules.verify("whsec_k", **{**ok, "header": ""}) == "no_signature"


def test_excerpt_cuts_long_answers():
    assert rules.excerpt("short") == "short"
    cut = rules.excerpt("x" * 900)
    assert len(cut) == rules.EXCERPT_MAX and cut.endswith("…")
