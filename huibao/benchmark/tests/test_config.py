"""Bench mode is refused on a server that is not a developer's or an explicit bench run."""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from huibao.benchmark.config import check_bench_mode

_WHAT = (
    "import django; django.setup()\n"
    "from django.conf import settings\n"
    "from django.urls import Resolver404, resolve\n"
    "try:\n"
    "    resolve('/api/bench/floor/00000000-0000-0000-0000-000000000000')\n"
    "    mounted = 'mounted'\n"
    "except Resolver404:\n"
    "    mounted = 'absent'\n"
    "timed = 'huibao.benchmark.timing.ServerTimingMiddleware' in settings.MIDDLEWARE\n"
    "timing = 'timing' if timed else 'plain'\n"
    "print(mounted, timing)\n"
)


def _start(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HUIBAO_BENCH", "HUIBAO_ALLOW_BENCH"))}
    return subprocess.run(
        [sys.executable, "-c", _WHAT],
        # DEBUG off: the sandboxes of a test set-up must be named to be allowed.
        env={
            **base,
            "DJANGO_SETTINGS_MODULE": "huibao.settings",
            "HUIBAO_ALLOW_SANDBOX": "payment,payout,identity,face,insurer,sms",
            **env,
        },
        capture_output=True,
        text=True,
    )


def test_with_debug_off_bench_mode_refuses_to_start_naming_the_setting():
    # when
    result = _start(HUIBAO_BENCH_FLOOR="1", DEBUG="0")
    # then
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "HUIBAO_BENCH_FLOOR" in result.stderr
    assert "HUIBAO_ALLOW_BENCH_FLOOR" in result.stderr


def test_explicitly_allowed_bench_mode_mounts_the_floor_and_times_every_request():
    # when
    result = _start(HUIBAO_BENCH_FLOOR="1", DEBUG="0", HUIBAO_ALLOW_BENCH_FLOOR="1")
    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["mounted", "timing"]


def test_without_bench_mode_there_is_no_floor_url_and_no_timing_header():
    # when
    result = _start(DEBUG="0")
    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["absent", "plain"]


@pytest.mark.parametrize(
    ("enabled", "debug", "allowed", "profile_dir", "refused"),
    [
        (False, False, False, "", False),
        (True, True, False, "", False),
        (True, False, True, "", False),
        (True, False, False, "", True),
        (False, True, False, "/tmp/profiles", True),
        (True, True, False, "/tmp/profiles", False),
    ],
)
def test_check_bench_mode(enabled, debug, allowed, profile_dir, refused):
    if refused:
        with pytest.raises(ImproperlyConfigured, match="HUIBAO_BENCH"):
            check_bench_mode(enabled=enabled, debug=debug, allowed=allowed, profile_dir=profile_dir)
    else:
        check_bench_mode(enabled=enabled, debug=debug, allowed=allowed, profile_dir=profile_dir)
