"""A file cache of LLM answers keyed by (prompt, model, constraint), in SQLite under the data dir.

Plain ``sqlite3`` (one small table in its own file, no migration): a re-run with the same prompt
and model costs nothing. Writers from several processes (Ray workers) wait on the file lock.

Example:
    >>> import tempfile, pathlib
    >>> c = AnswerCache(pathlib.Path(tempfile.mkdtemp()) / "llm.sqlite3")
    >>> k = cache_key("m", [{"role": "user", "content": "hi"}], {})
    >>> c.get(k) is None
    True
    >>> c.put(k, {"content": "x"}); c.get(k)
    {'content': 'x'}
    >>> c.close()
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["AnswerCache", "cache_key"]


def cache_key(model: str, messages: Sequence[dict[str, str]], schema: dict[str, Any], **params: Any) -> str:
    """SHA-256 of the model, the messages, the answer schema and sampling parameters."""
    blob = json.dumps([model, list(messages), schema, params], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


class AnswerCache:
    """Key → JSON answer, in one SQLite file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached answer, or None."""
        with self._lock:
            row = self._db.execute("SELECT value FROM answers WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        value = json.loads(row[0])
        return value if isinstance(value, dict) else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Store an answer (last write wins)."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?)", (key, json.dumps(value)))

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()
