"""Failed-login rate limiting: a client that keeps sending unknown tokens is locked out for a while.

Per client address, failures are counted in a sliding window; ``max_failures`` of them lock the client out
for ``lockout_s`` (doubling for each further lockout in a row, up to ``max_lockout_s``). While locked out,
every request of that client that carries a token is answered 429 with ``Retry-After`` *before* the token
is looked at, so a guesser gets at most ``max_failures`` guesses per lockout (10 per 60 s by default:
0.17 guesses/s, far below the 10/s ceiling) while other clients, and this one after the lockout, log in as
usual. A successful login clears the client's count. Memory is bounded: at most ``max_clients`` addresses
are tracked (the least recently seen is forgotten first).

Pure logic around an injected clock (monotonic seconds); the API calls it from its auth dependency.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["AuthLimiter", "Lockout"]


@dataclass
class _Client:
    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0
    lockouts: int = 0  # in a row, since the last success or quiet window


@dataclass(frozen=True)
class Lockout:
    """A lockout that just began: for how long, after how many failures in the window."""

    seconds: float
    failures: int
    lockouts_in_a_row: int


class AuthLimiter:
    """Counts failed logins per client and locks clients out (see the module docstring)."""

    def __init__(
        self,
        *,
        max_failures: int = 10,
        window_s: float = 60.0,
        lockout_s: float = 60.0,
        max_lockout_s: float = 900.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.lockout_s = lockout_s
        self.max_lockout_s = max_lockout_s
        self.max_clients = max_clients
        self.clock = clock
        self._clients: OrderedDict[str, _Client] = OrderedDict()
        self._lock = threading.Lock()  # sync endpoints authenticate from worker threads
        #: Requests answered 429 and lockouts begun (for /metrics).
        self.refused = 0
        self.lockouts = 0

    def retry_after(self, client: str) -> int | None:
        """Whole seconds until ``client`` may try again, or None if it may try now."""
        with self._lock:
            c = self._clients.get(client)
            left = (c.locked_until - self.clock()) if c is not None else 0.0
            if left <= 0:
                return None
            self.refused += 1
        return max(1, math.ceil(left))

    def failed(self, client: str) -> Lockout | None:
        """Record a failed login; returns the lockout it triggered, if any (log it: one line per lockout)."""
        with self._lock:
            return self._failed(client, self.clock())

    def _failed(self, client: str, now: float) -> Lockout | None:
        c = self._touch(client)
        if now > c.locked_until + self.window_s:
            c.lockouts = 0  # a whole window since its last lockout ended: back to the short lockout
        c.failures = [t for t in c.failures if now - t <= self.window_s]
        c.failures.append(now)
        if len(c.failures) < self.max_failures:
            return None
        seconds = min(self.max_lockout_s, self.lockout_s * 2**c.lockouts)
        c.lockouts += 1
        c.locked_until = now + seconds
        failures, c.failures = len(c.failures), []
        self.lockouts += 1
        return Lockout(seconds, failures, c.lockouts)

    def succeeded(self, client: str) -> None:
        """A good login: forget the client's failures."""
        with self._lock:
            self._clients.pop(client, None)

    def tracked(self) -> int:
        """How many client addresses are tracked now."""
        return len(self._clients)

    def _touch(self, client: str) -> _Client:
        c = self._clients.pop(client, None) or _Client()
        self._clients[client] = c  # most recently seen last
        while len(self._clients) > self.max_clients:
            self._clients.popitem(last=False)  # forget the least recently seen client
        return c
