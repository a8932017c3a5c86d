"""Per-principal rate limits: a token bucket per caller, answered with ThrottlingException.

botocore retries ThrottlingException with backoff, so a burst slows a client down
instead of failing it.
"""

from __future__ import annotations

import threading
import time

from sagebox.errors import ThrottlingError


class Throttled(ThrottlingError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


MAX_BUCKETS = 10_000


class RateLimiter:
    def __init__(self, rate: float = 100.0, burst: float = 200.0) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, principal: str) -> None:
        """Take one token for ``principal``; raise :class:`Throttled` when none is left."""
        now = time.monotonic()
        with self._lock:
            if len(self._buckets) > MAX_BUCKETS:
                self._forget_idle(now)
            tokens, last = self._buckets.get(principal, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                wait = (1.0 - tokens) / self.rate
                self._buckets[principal] = (tokens, now)
                raise Throttled(
                    f"Rate exceeded for {principal}: at most {self.rate:g} requests a second "
                    f"(bursts of {self.burst:g}). Retry after {wait:.2f} s.",
                    wait,
                )
            self._buckets[principal] = (tokens - 1.0, now)

    def _forget_idle(self, now: float) -> None:
        """Drop buckets that have refilled completely: they hold no state worth keeping."""
        full = self.burst / self.rate
        self._buckets = {
            p: (tokens, last) for p, (tokens, last) in self._buckets.items() if now - last < full
        }
