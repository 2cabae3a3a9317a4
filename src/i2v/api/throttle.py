"""Growing delays after wrong tokens, per client address.

The rate limit alone lets a guesser keep trying at the normal request rate. Here
each address gets a few free mistakes; after that every further wrong token
doubles the time the address must wait before it may try again (1 s, 2 s, 4 s,
... up to 15 minutes). A right token clears the record; so does a quiet hour.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

#: Wrong tokens an address may send before it has to wait.
FREE_FAILURES = 5
#: The longest wait between two tries.
MAX_DELAY_SECONDS = 900.0
#: A record this old (since the last wrong token) is forgotten.
FORGET_SECONDS = 3600.0
#: Addresses beyond this many are pruned (oldest first), so a flood cannot grow memory.
MAX_ADDRESSES = 10_000


@dataclass
class _Record:
    failures: int
    last: float
    locked_until: float


class LoginThrottle:
    """Remembers wrong tokens per address and says how long an address must wait."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._records: dict[str, _Record] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, address: str) -> float:
        """Seconds until ``address`` may try a token again (0: now)."""
        now = self._clock()
        with self._lock:
            record = self._records.get(address)
            if record is None:
                return 0.0
            if now - record.last > FORGET_SECONDS:
                del self._records[address]
                return 0.0
            return max(0.0, record.locked_until - now)

    def failed(self, address: str) -> None:
        """Record a wrong token from ``address``."""
        now = self._clock()
        with self._lock:
            record = self._records.get(address)
            if record is None or now - record.last > FORGET_SECONDS:
                if len(self._records) >= MAX_ADDRESSES:
                    oldest = sorted(self._records, key=lambda a: self._records[a].last)
                    for key in oldest[: MAX_ADDRESSES // 2]:
                        del self._records[key]
                record = self._records[address] = _Record(0, now, now)
            record.failures += 1
            record.last = now
            over = record.failures - FREE_FAILURES
            if over >= 0:
                record.locked_until = now + min(MAX_DELAY_SECONDS, 2.0**over)

    def succeeded(self, address: str) -> None:
        """Forget ``address``'s wrong tokens: it knows a right one."""
        with self._lock:
            self._records.pop(address, None)
