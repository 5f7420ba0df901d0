"""Provenance audit: recompute the hash chains and the row digests, name the first bad event.

What :func:`verify` detects, per chain (one per project):

* an **edited** event — its stored ``hash`` is not the SHA-256 of its canonical body;
* a **removed**, **inserted** or **reordered** event — ``seq`` is not the next number, or
  ``prev_hash`` is not the hash of the event stored before it;
* an **edited or removed row** — a batch event's row count or digest no longer matches the
  rows it covers (items, suggestions, annotations, reviews, redacted media, originals);
* a row **written around the log** — a label or item row that no event covers, newer than the
  first row the log covers (rows from before the log existed are counted, not flagged);
* a **cut tail** — the newest events of a chain were deleted: the remaining events are intact,
  so the database alone cannot tell; but every committed transaction that appended events also
  wrote the chain's head to the anchor file beside the database
  (:mod:`labelloop.storage.anchors`), and the newest anchored ``(seq, hash)`` must still be in
  its chain (a rewrite of any older event changes the hash there too). A signed release export
  records the head too (``labelloop release verify`` checks it), and ``--expect-head``
  compares with a head kept anywhere else.

A store whose log has events but no anchor file (made before anchoring existed, or the file was
removed) passes with a warning: a cut tail cannot be detected there.

Example:
    >>> # report = verify(store, "reviews"); report.ok, report.first_bad
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from labelloop.errors import LabelloopError
from labelloop.storage import Event, Store, UnitOfWork
from labelloop.storage.anchors import AnchorRead
from labelloop.storage.provenance_repo import GENESIS, event_hash, rows_digest

__all__ = [
    "AuditReport",
    "ChainReport",
    "Problem",
    "TamperDetected",
    "files_digest",
    "missing_head",
    "record_export",
    "verify",
]

MAX_PROBLEMS = 100
_COVERED_TABLES = ("items", "suggestions", "annotations", "reviews")


class TamperDetected(LabelloopError):
    """The provenance log or the rows it covers were changed outside labelloop."""

    code = "LL-TAMPER"
    exit_code = 9
    http_status = 409


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding of the audit.

    Attributes:
        chain: The chain (project id; 0 outside projects).
        seq: The event's stored sequence number (``None`` for an unrecorded row).
        event_id: The event's row id (``None`` for an unrecorded row).
        kind: The event's kind, or the table of an unrecorded row.
        reason: What is wrong.
    """

    chain: int
    seq: int | None
    event_id: int | None
    kind: str
    reason: str

    def __str__(self) -> str:
        where = f"event seq {self.seq} (id {self.event_id}, {self.kind})" if self.seq is not None else self.kind
        return f"chain {self.chain}: {where}: {self.reason}"


@dataclass(slots=True)
class ChainReport:
    """The audit of one chain."""

    chain: int
    events: int = 0
    rows: int = 0
    head: str = GENESIS
    head_seq: int = 0
    anchors: int = 0
    unlogged_before_log: int = 0
    problems: list[Problem] = field(default_factory=list)


@dataclass(slots=True)
class AuditReport:
    """The audit of one or all chains; ``first_bad`` is the earliest problem found.

    ``warnings`` say what could not be checked (no anchor file, unreadable anchor lines); they
    do not make the report fail.
    """

    chains: list[ChainReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        """Every problem, chain by chain in log order."""
        return [p for c in self.chains for p in c.problems]

    @property
    def first_bad(self) -> Problem | None:
        """The first problem, or None when the log is intact."""
        return next(iter(self.problems), None)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "ok": self.ok,
            "warnings": list(self.warnings),
            "first_bad": None if self.first_bad is None else asdict(self.first_bad),
            "chains": [
                {**{k: v for k, v in asdict(c).items() if k != "problems"}, "problems": [str(p) for p in c.problems]}
                for c in self.chains
            ],
        }


def _digest_problem(tx: UnitOfWork, table: Any, ranges: Any, count: Any, want: Any) -> str | None:
    if not isinstance(table, str) or not isinstance(want, str):
        return None
    rows = tx.provenance.rows(table, ranges or [])
    got_count, digest = rows_digest(rows)
    if got_count != count:
        return f"covers {count} {table} rows but {got_count} exist (rows removed or re-numbered)"
    if digest != want:
        return f"the {got_count} {table} rows it covers were edited (digest {digest[:12]}… ≠ {want[:12]}…)"
    return None


def _check_rows(tx: UnitOfWork, e: Event) -> str | None:
    """The first row-digest mismatch of an event (its own rows, then any ``also`` digests)."""
    p = e.payload
    found = _digest_problem(tx, e.subject.get("table"), e.subject.get("ids"), p.get("count"), p.get("sha256"))
    for extra in p.get("also") or []:
        if found is None and isinstance(extra, dict):
            found = _digest_problem(tx, extra.get("table"), extra.get("ids"), extra.get("count"), extra.get("sha256"))
    return found


def _verify_chain(tx: UnitOfWork, chain: int, anchored: tuple[int, set[str]] | None, anchors: int) -> ChainReport:
    rep = ChainReport(chain, anchors=anchors)
    anchor_seq, anchor_hashes = anchored or (0, set())
    expected_seq, prev = 1, GENESIS
    covered: dict[str, set[int]] = {t: set() for t in _COVERED_TABLES}

    def bad(e: Event, reason: str) -> None:
        if len(rep.problems) < MAX_PROBLEMS:
            rep.problems.append(Problem(chain, e.seq, e.id, e.kind, reason))

    for e in tx.provenance.events(chain):
        rep.events += 1
        if e.seq != expected_seq:
            what = "removed or reordered" if e.seq > expected_seq else "inserted or reordered"
            bad(e, f"expected seq {expected_seq}, found {e.seq} (an event was {what})")
        if e.prev_hash != prev:
            bad(e, "prev_hash is not the hash of the event before it (an event was removed, inserted or reordered)")
        if event_hash(e.body()) != e.hash:
            bad(e, "the event was edited (its hash does not match its content)")
        if e.seq == anchor_seq and anchor_hashes - {e.hash}:
            other = min(anchor_hashes - {e.hash})
            bad(e, f"the anchor file recorded hash {other[:12]}… for this seq (the chain was rewritten)")
        problem = _check_rows(tx, e)
        if problem is not None:
            bad(e, problem)
        table = e.subject.get("table")
        if table in covered and isinstance(e.payload.get("sha256"), str):
            rep.rows += int(e.payload.get("count") or 0)
            for a, b in e.subject.get("ids") or []:
                covered[table].update(range(a, b + 1))
        expected_seq, prev = e.seq + 1, e.hash
        rep.head_seq = max(rep.head_seq, e.seq)
    rep.head = prev
    if anchor_seq > rep.head_seq and len(rep.problems) < MAX_PROBLEMS:
        missing = f"seq {rep.head_seq + 1}" + (f" to {anchor_seq}" if anchor_seq > rep.head_seq + 1 else "")
        rep.problems.append(
            Problem(
                chain, None, None, "anchor",
                f"events after seq {rep.head_seq} were cut: {missing} missing (the anchor file recorded the "
                f"chain at seq {anchor_seq}, hash {min(anchor_hashes)[:12]}…)",
            )
        )  # fmt: skip
    if chain:
        for table, ids in covered.items():
            _check_coverage(tx, chain, table, ids, rep)
    return rep


def _check_coverage(tx: UnitOfWork, project_id: int, table: str, covered: set[int], rep: ChainReport) -> None:
    first = min(covered) if covered else None
    after = 0
    while batch := tx.provenance.ids(table, project_id, after=after):
        for i in batch:
            if i in covered:
                continue
            if first is None or i < first:
                rep.unlogged_before_log += 1
            elif len(rep.problems) < MAX_PROBLEMS:
                rep.problems.append(
                    Problem(project_id, None, None, table, f"row {i} is in no event (written around the log)")
                )
        after = batch[-1]


def verify(store: Store, project: str | int | None = None) -> AuditReport:
    """Verify the chain of ``project`` (every chain when None).

    Raises:
        NotFound: no such project.

    Example:
        >>> import tempfile, pathlib
        >>> s = Store.open(None, pathlib.Path(tempfile.mkdtemp()))
        >>> verify(s).ok
        True
        >>> s.close()
    """
    report = AuditReport()
    read = store.anchors.read()
    anchored = read.heads.get(store.anchors.db, {})
    counts = read.counts.get(store.anchors.db, {})
    with store.read() as tx:
        logged = set(tx.provenance.chains())
        if project is not None:
            chains = [tx.projects.get(project).id]
        else:
            chains = sorted({p.id for p in tx.projects.list()} | logged | set(anchored))
        for chain in chains:
            report.chains.append(_verify_chain(tx, chain, anchored.get(chain), counts.get(chain, 0)))
    _anchor_warnings(report, read, store, bool(logged))
    return report


def _anchor_warnings(report: AuditReport, read: AnchorRead, store: Store, logged: bool) -> None:
    path = store.anchors.path
    if not read.exists:
        if logged:
            report.warnings.append(
                f"no anchor file at {path}: the log has events but no head recorded outside the database, "
                "so a cut tail cannot be detected (a store from before anchoring, or the file was removed); "
                "it is written again from the next change on"
            )
        return
    if read.bad_lines:
        shown = ", ".join(map(str, read.bad_lines[:10])) + (" …" if len(read.bad_lines) > 10 else "")
        report.warnings.append(f"{path}: {len(read.bad_lines)} malformed line(s) not checked (line {shown})")
    others = sum(n for db, chains in read.counts.items() if db != store.anchors.db for n in chains.values())
    if others:
        report.warnings.append(f"{path}: {others} anchor(s) recorded for another database were not checked")


def missing_head(store: Store, chain: int, seq: int, digest: str) -> str | None:
    """Why a head recorded elsewhere (a release manifest) is no longer in the chain, or None.

    Example:
        >>> import tempfile, pathlib
        >>> s = Store.open(None, pathlib.Path(tempfile.mkdtemp()))
        >>> missing_head(s, 1, 0, GENESIS) is None
        True
        >>> missing_head(s, 1, 3, "ab" * 32)
        'events after seq 0 were cut: the recorded head seq 3 (hash abababababab…) is not in chain 1'
        >>> s.close()
    """
    if seq == 0:
        return None if digest == GENESIS else f"chain {chain}: a head at seq 0 must be the genesis hash"
    with store.read() as tx:
        found = tx.provenance.event_at(chain, seq)
        head_seq, _ = tx.provenance.head(chain)
    if found is None:
        return (
            f"events after seq {head_seq} were cut: the recorded head seq {seq} (hash {digest[:12]}…) "
            f"is not in chain {chain}"
        )
    if found.hash != digest:
        return (
            f"chain {chain} was rewritten: event seq {seq} has hash {found.hash[:12]}…, "
            f"the recorded head says {digest[:12]}…"
        )
    return None


def files_digest(root: Path) -> tuple[int, str]:
    """``(files, sha256)`` over the sorted ``relative-path<TAB>sha256`` lines of every file under ``root``.

    Example:
        >>> import tempfile, pathlib
        >>> files_digest(pathlib.Path(tempfile.mkdtemp()))[0]
        0
    """
    h = hashlib.sha256()
    n = 0
    paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for p in paths:
        fh = hashlib.sha256()
        with p.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                fh.update(chunk)
        rel = p.name if p == root else p.relative_to(root).as_posix()
        h.update(f"{rel}\t{fh.hexdigest()}\n".encode())
        n += 1
    return n, h.hexdigest()


def record_export(store: Store, project_id: int, actor: str, fmt: str, out: Path, **counts: int) -> Event:
    """Append the ``export`` event of a finished export: format, counts and a digest of the files written."""
    files, digest = files_digest(out)
    with store.transaction() as tx:
        return tx.provenance.append(
            "export",
            actor=actor,
            project_id=project_id,
            subject={"format": fmt, "path": str(out)},
            payload={**counts, "files": files, "files_sha256": digest},
        )
