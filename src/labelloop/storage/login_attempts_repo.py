"""Recent log-in attempts, counted per (user name, address) and per address within a window.

Every server process of an instance reads and writes the same rows, so ``labelloop serve
--workers N`` keeps one rate limit rather than N. Times are wall-clock seconds (``time.time()``),
the one clock the processes share.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from labelloop.storage import Store
    >>> store = Store.open("sqlite://", Path(tempfile.mkdtemp()))
    >>> with store.transaction() as tx:
    ...     repo = LoginAttemptRepo(tx.conn)
    ...     repo.add("alice", "10.0.0.1", 100.0); repo.add("bob", "10.0.0.1", 101.0)
    ...     repo.recent("alice", "10.0.0.1", since=50.0)
    Recent(user=1, user_first=100.0, ip=2, ip_first=100.0)
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, delete, func, insert, select

from labelloop.storage import tables_accounts as ta

__all__ = ["LoginAttemptRepo", "Recent"]


class Recent(NamedTuple):
    """Attempts since a time: of this user name from this address, and of the address (with the oldest)."""

    user: int
    user_first: float | None
    ip: int
    ip_first: float | None


class LoginAttemptRepo:
    """Add, count and prune log-in attempts (user names are compared lower-cased)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def recent(self, username: str, ip: str, *, since: float) -> Recent:
        """The attempts newer than ``since``: one indexed range of the address's rows."""
        t = ta.login_attempts
        mine = t.c.username == username.lower()[:100]
        row = self.conn.execute(
            select(func.count().filter(mine), func.min(t.c.at).filter(mine), func.count(), func.min(t.c.at)).where(
                t.c.ip == ip[:64], t.c.at > since
            )
        ).one()
        return Recent(int(row[0]), row[1], int(row[2]), row[3])

    def add(self, username: str, ip: str, at: float) -> None:
        """Record one attempt."""
        self.conn.execute(insert(ta.login_attempts).values(username=username.lower()[:100], ip=ip[:64], at=at))

    def prune(self, *, before: float) -> int:
        """Forget attempts older than ``before`` (outside every window); return how many."""
        return int(self.conn.execute(delete(ta.login_attempts).where(ta.login_attempts.c.at <= before)).rowcount)

    def clear(self) -> None:
        """Forget every attempt (an administrator lifting the limit)."""
        self.conn.execute(delete(ta.login_attempts))
