"""The security audit log: every request the API refuses is kept (who, from where, what, why).

Refused means: not logged in or bad credentials (401), a role or CSRF check said no (403), an
object outside the caller's reach (404: another project, or an object of another project asked
for through one's own), too many attempts (429). The log never holds a request body, a
password or a token. A flood from one address is summarised: after ``burst`` rows in a minute,
further refusals from that address are only counted, and the count is written with the next row
that address gets.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from labelloop.storage import Store
    >>> store = Store.open("sqlite://", Path(tempfile.mkdtemp()))
    >>> log = RefusalLog(burst=2)
    >>> for _ in range(5):
    ...     _ = log.record(store, ip="10.0.0.9", method="GET", path="/api/me", status=401, code="LL-AUTH", reason="x")
    >>> [r["suppressed"] for r in latest(store, 10)]
    [0, 0]
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from labelloop.core.accounts import Refusal
from labelloop.errors import InputRejected
from labelloop.storage import Store, now
from labelloop.storage.refusals_repo import RefusalRepo

__all__ = ["RefusalLog", "latest"]

_WINDOW_S = 60.0


@dataclass
class _Window:
    start: float
    written: int = 0
    suppressed: int = 0


@dataclass
class RefusalLog:
    """Writes refusals, at most ``burst`` rows per address per minute (the rest are counted).

    Attributes:
        burst: Rows one address may cause per minute.
        max_addresses: Addresses remembered at once (the oldest windows are dropped beyond).
    """

    burst: int = 30
    max_addresses: int = 10_000
    _windows: dict[str, _Window] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _admit(self, ip: str) -> int | None:
        """The count of suppressed refusals to write with this one, or None to only count it."""
        t = time.monotonic()
        with self._lock:
            w = self._windows.get(ip)
            if w is None or t - w.start >= _WINDOW_S:
                carried = w.suppressed if w is not None else 0
                if len(self._windows) >= self.max_addresses:
                    for old in list(self._windows)[: self.max_addresses // 10 or 1]:
                        del self._windows[old]
                w = self._windows[ip] = _Window(t, 0, carried)
            if w.written >= self.burst:
                w.suppressed += 1
                return None
            w.written += 1
            carried, w.suppressed = w.suppressed, 0
            return carried

    def record(
        self,
        store: Store,
        *,
        ip: str,
        method: str,
        path: str,
        status: int,
        code: str,
        reason: str,
        user_id: int | None = None,
        username: str | None = None,
    ) -> bool:
        """Keep one refusal; False when it was only counted (a flood from ``ip``)."""
        suppressed = self._admit(ip)
        if suppressed is None:
            return False
        row = Refusal(now(), user_id, username, ip, method, path, status, code, reason, suppressed)
        with store.transaction() as tx:
            RefusalRepo(tx.conn).add(row)
        return True


def latest(
    store: Store, limit: int = 100, *, before_id: int | None = None, username: str | None = None
) -> list[dict[str, object]]:
    """The newest refusals as JSON objects (``before_id`` pages back).

    Raises:
        InputRejected: ``limit`` outside 1..1000.
    """
    if not 1 <= limit <= 1000:
        raise InputRejected("limit", "1..1000", str(limit))
    with store.read() as tx:
        return [r.to_json() for r in RefusalRepo(tx.conn).latest(limit, before_id=before_id, username=username)]
