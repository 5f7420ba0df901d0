"""Chain-head anchors: an append-only file beside the database that remembers the heads it saw.

The database alone cannot tell a provenance chain whose newest events were deleted from a
shorter history. After every committed transaction that appended provenance events, the store
appends one JSON line per touched chain to ``<data dir>/provenance-anchors.jsonl``::

    {"chain": 3, "seq": 41, "hash": "9f…", "db": "4be1…", "ts": "2026-11-30T10:00:00+00:00"}

``db`` fingerprints the database the line belongs to (so a data dir that is pointed at another
database does not raise false alarms). The file is created with mode 0600 and each commit's
lines are written with a single ``write`` on a descriptor opened with ``O_APPEND``, so
concurrent writers never interleave a line. It is not fsynced: a crash may lose the newest
anchors, which only weakens detection; it never makes an intact log look tampered with.

``labelloop audit verify`` checks that the newest anchored ``(seq, hash)`` of each chain still
exists in it (which covers every older anchor: each event's hash covers the one before it).

Example:
    >>> import tempfile, pathlib
    >>> log = AnchorLog(pathlib.Path(tempfile.mkdtemp()) / ANCHOR_FILE, "db1")
    >>> log.append({1: (4, "ab" * 32)})
    >>> log.append({1: (6, "cd" * 32)})
    >>> got = log.read()
    >>> got.heads["db1"][1][0], got.counts["db1"][1], got.lines, got.bad_lines
    (6, 2, 2, [])
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

__all__ = ["ANCHOR_FILE", "PENDING_HEADS", "AnchorLog", "AnchorRead", "database_fingerprint"]

ANCHOR_FILE = "provenance-anchors.jsonl"
PENDING_HEADS = "labelloop_pending_heads"
"""Key in a connection's ``info`` dict: chain -> (seq, hash) of the events appended in the open transaction."""


def database_fingerprint(url: str, data_dir: Path) -> str:
    """A short, stable name of a database: its URL (password hidden), data-dir relative for SQLite.

    The default SQLite file is named by its path relative to the data dir, so moving the whole
    data dir keeps its anchors valid.

    Example:
        >>> import pathlib
        >>> a = database_fingerprint("sqlite:////srv/a/labelloop.db", pathlib.Path("/srv/a"))
        >>> a == database_fingerprint("sqlite:////mnt/b/labelloop.db", pathlib.Path("/mnt/b"))
        True
    """
    name = url
    prefix = "sqlite:///"
    if url.startswith(prefix):
        path = Path(url[len(prefix) :])
        try:
            name = prefix + path.resolve().relative_to(data_dir.resolve()).as_posix()
        except ValueError:
            name = prefix + str(path.resolve())
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]


@dataclass(slots=True)
class AnchorRead:
    """What the anchor file holds.

    Only the newest anchor of each chain is kept: every event hash covers the one before it, so
    any cut or rewrite at or below an anchored seq shows at the newest one (memory stays one entry
    per chain however long the file grows).

    Attributes:
        exists: Whether the file exists.
        heads: Per database fingerprint, per chain, the newest anchored ``(seq, hashes)`` (more
            than one hash for that seq means the chain was rewritten after it was anchored).
        counts: Per database fingerprint, per chain, how many anchors were read.
        lines: How many lines were read.
        bad_lines: Numbers (1-based) of lines that are not a well-formed anchor.
    """

    exists: bool = False
    heads: dict[str, dict[int, tuple[int, set[str]]]] = field(default_factory=dict)
    counts: dict[str, dict[int, int]] = field(default_factory=dict)
    lines: int = 0
    bad_lines: list[int] = field(default_factory=list)


class AnchorLog:
    """The anchor file of one store (see the module docstring)."""

    def __init__(self, path: Path, db: str) -> None:
        self.path = path
        self.db = db

    def append(self, heads: Mapping[int, tuple[int, str]]) -> None:
        """Append one line per chain head; all lines of the call in one ``write``."""
        if not heads:
            return
        ts = datetime.now(UTC).isoformat()
        data = b"".join(
            orjson.dumps({"chain": chain, "seq": seq, "hash": digest, "db": self.db, "ts": ts}) + b"\n"
            for chain, (seq, digest) in sorted(heads.items())
        )
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def read(self) -> AnchorRead:
        """Parse the file; malformed lines are counted, not fatal."""
        out = AnchorRead()
        try:
            fh = self.path.open("rb")
        except FileNotFoundError:
            return out
        out.exists = True
        with fh:
            for n, line in enumerate(fh, start=1):
                out.lines = n
                try:
                    doc = orjson.loads(line)
                    chain, seq, digest, db = doc["chain"], doc["seq"], doc["hash"], doc["db"]
                except (orjson.JSONDecodeError, TypeError, KeyError):
                    out.bad_lines.append(n)
                    continue
                well_formed = (
                    type(chain) is int and type(seq) is int and seq > 0 and isinstance(db, str)
                    and isinstance(digest, str) and len(digest) == 64
                )  # fmt: skip
                if not well_formed:
                    out.bad_lines.append(n)
                    continue
                chains = out.heads.setdefault(db, {})
                newest = chains.get(chain)
                if newest is None or seq > newest[0]:
                    chains[chain] = (seq, {digest})
                elif seq == newest[0]:
                    newest[1].add(digest)
                counted = out.counts.setdefault(db, {})
                counted[chain] = counted.get(chain, 0) + 1
        return out
