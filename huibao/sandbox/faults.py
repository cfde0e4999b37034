"""Injected failures: each sandbox plays a remote system, so it fails like one — on demand or at
random."""

from __future__ import annotations

import random
import threading

from django.conf import settings


class FaultInjector:
    """A sandbox's injected failures: the next n calls when forced, then a share set by a setting
    (`rate_setting`, 0.0–1.0). Process-wide and thread-safe."""

    def __init__(self, rate_setting: str) -> None:
        self.rate_setting = rate_setting
        self._lock = threading.Lock()
        self._forced = 0

    def rate(self) -> float:
        return float(getattr(settings, self.rate_setting, 0.0) or 0.0)

    def force(self, count: int) -> None:
        """The next `count` calls fail (tests and demos); 0 clears."""
        with self._lock:
            self._forced = max(0, count)

    def left(self) -> int:
        with self._lock:
            return self._forced

    def take(self) -> bool:
        """Whether this call fails: a forced failure while any are left, else at the configured rate."""
        with self._lock:
            if self._forced > 0:
                self._forced -= 1
                return True
        rate = self.rate()
        return rate > 0 and random.random() < rate
