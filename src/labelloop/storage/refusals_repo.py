"""The security audit log: requests the API refused (see :class:`labelloop.core.accounts.Refusal`).

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from labelloop.storage import Store
    >>> from labelloop.storage.repositories import now
    >>> store = Store.open("sqlite://", Path(tempfile.mkdtemp()))
    >>> row = Refusal(now(), None, None, "10.0.0.1", "GET", "/api/me", 401, "LL-AUTH", "not logged in")
    >>> with store.transaction() as tx:
    ...     _ = RefusalRepo(tx.conn).add(row)
    >>> with store.read() as tx:
    ...     [r.status for r in RefusalRepo(tx.conn).latest(10)]
    [401]
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select

from labelloop.core.accounts import Refusal
from labelloop.storage import tables_accounts as ta

__all__ = ["RefusalRepo"]

_LIMITS = {"username": 100, "ip": 64, "method": 10, "path": 300, "code": 40, "reason": 300}


def _refusal(row: Any) -> Refusal:
    r = row._mapping
    return Refusal(
        r["at"], r["user_id"], r["username"], r["ip"], r["method"], r["path"], r["status"], r["code"], r["reason"],
        r["suppressed"], r["id"],
    )  # fmt: skip


class RefusalRepo:
    """Append and read refusals (newest first)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, refusal: Refusal) -> int:
        """Store one refusal (text fields cut to their column sizes); return its id."""
        values: dict[str, Any] = {
            "at": refusal.at, "user_id": refusal.user_id, "status": refusal.status, "suppressed": refusal.suppressed,
        }  # fmt: skip
        for name, size in _LIMITS.items():
            text = getattr(refusal, name)
            values[name] = None if text is None else str(text)[:size]
        key = self.conn.execute(insert(ta.refusals).values(**values)).inserted_primary_key
        assert key is not None
        return int(key[0])

    def latest(self, limit: int, *, before_id: int | None = None, username: str | None = None) -> list[Refusal]:
        """The newest refusals, optionally older than ``before_id`` (paging) and of one user."""
        r = ta.refusals
        q = select(r).order_by(r.c.id.desc()).limit(limit)
        if before_id is not None:
            q = q.where(r.c.id < before_id)
        if username is not None:
            q = q.where(r.c.username == username)
        return [_refusal(row) for row in self.conn.execute(q)]
