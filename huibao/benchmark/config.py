"""The settings' check of bench mode: a plain function, imported by `huibao.settings` (no Django)."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


def check_bench_mode(*, enabled: bool, debug: bool, allowed: bool, profile_dir: str) -> None:
    """Refuses bench mode on a server that is not a developer's or an explicit bench run.

    The floor endpoint writes rows and audit entries for any logged-in user, and the timing
    header tells a client how the server spends its time: neither belongs on a public server.
    """
    if profile_dir and not enabled:
        raise ImproperlyConfigured("HUIBAO_BENCH_PROFILE_DIR is set but HUIBAO_BENCH_FLOOR is not")
    if enabled and not debug and not allowed:
        raise ImproperlyConfigured(
            "HUIBAO_BENCH_FLOOR is set with DEBUG off: bench mode is for benchmark runs only; "
            "set HUIBAO_ALLOW_BENCH_FLOOR=1 as well if this server is one"
        )
