"""Settings built from the environment."""

import os
import subprocess
import sys

import pytest


def _settings_of(**env: str) -> str:
    """`SESSION_ENGINE | cache backend` as the settings module builds them in a fresh process."""
    code = "import huibao.settings as s; print(s.SESSION_ENGINE, '|', s.CACHES['default']['BACKEND'])"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("redis_url", "expected"),
    [
        # given a shared cache, when the settings load, then sessions are read through it
        (
            "redis://127.0.0.1:6379/0",
            "django.contrib.sessions.backends.cached_db | django.core.cache.backends.redis.RedisCache",
        ),
        # given only the per-process cache, then sessions stay in the database alone
        ("", "django.contrib.sessions.backends.db | django.core.cache.backends.locmem.LocMemCache"),
    ],
)
def test_sessions_are_cached_only_in_a_shared_cache(redis_url: str, expected: str) -> None:
    assert _settings_of(REDIS_URL=redis_url) == expected
