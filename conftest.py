"""Test-wide configuration: deterministic hypothesis runs, no network."""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "huibao",
    deadline=None,
    derandomize=True,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile("huibao")
