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


def test_the_verify_snippet_of_the_docs_accepts_what_the_platform_signs():
    import re
    import time
    from pathlib import Path

    from django.conf import settings

    text = (Path(settings.BASE_DIR) / "docs" / "webhooks.md").read_text(encoding="utf-8")
    snippet = re.search(r"### Verifying the signature.*?```python\n(.*?)```", text, re.S).group(1)
    namespace: dict[str, object] = {}
    exec(snippet, namespace)  # our own documentation
    verify = namespace["verify"]
    body = b'{"id":"evt_9","type":"policy.issued"}'
    now = int(time.time())
    headers = {
        "Huibao-Webhook-Id": "evt_9",
        "Huibao-Timestamp": str(now),
        "Huibao-Signature": rules.signature("whsec_doc", "evt_9", now, body),
    }
    assert verify("whsec_doc", headers, body) is True
    assert verify("whsec_other", headers, body) is False
    assert verify("whsec_doc", headers, body + b"x") is False
    assert verify("whsec_doc", {**headers, "Huibao-Timestamp": str(now - 600)}, body) is False
