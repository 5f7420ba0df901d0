"""The web server under load: next task and submit latency, concurrent throughput, cold start,
task-list page latency. A real server (uvicorn in a subprocess) on loopback, SQLite and PostgreSQL.

    python benchmarks/server_bench.py --n 10000                      # both backends
    python benchmarks/server_bench.py --n 100000 --backend sqlite
    python benchmarks/server_bench.py --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Targets (issue 6, at 1,000,000 tasks): next p99 ≤ 15 ms, submit p99 ≤ 25 ms, ≥ 300 next+submit
cycles/s with 8 clients, cold start ≤ 3 s, a task-list page ≤ 50 ms.

Setup (not timed): N short text items in one project, an API token per annotator, the work
queue filled. Timed: ``--samples`` sequential next+submit cycles of one client (keep-alive
HTTP/1.1), ``--seconds`` of 8 concurrent clients, ``--samples`` keyset pages of 50 at random
offsets, and the time from spawning the server to its first answer.

The 8 clients are threads of this process using ``http.client`` (``--httpx``: httpx, which costs
several times more CPU per request, CPU the server under test then does not get).

``--cpu`` also reports the CPU time spent per concurrent cycle by the server process, by the
PostgreSQL backends serving it (read from ``/proc``: only when the database runs on this
machine) and by the benchmark's own clients: on a small machine these share the cores, and
their sum bounds the cycles per second.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from labelloop.core import LabelSchema, MediaRef, NewItem, content_hash
from labelloop.core.accounts import Role
from labelloop.services.accounts import add_member, create_token, create_user
from labelloop.services.tasks import next_task
from labelloop.storage import Store

SCHEMA = {
    "media": [{"name": "text", "kind": "text"}],
    "controls": [{"name": "sentiment", "kind": "classification", "target": "text", "labels": ["pos", "neg", "neu"]}],
}
VALUE = [{"id": "r1", "control": "sentiment", "labels": ["pos"]}]
PASSWORD = "benchmark password"


def pct(xs: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of xs, in milliseconds."""
    s = sorted(xs)
    return 1000 * s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))]


def fill(store: Store, n: int, clients: int) -> tuple[int, list[str], str, float]:
    """A project of n items, `clients` annotators with tokens, a manager token; queue filled."""
    schema = LabelSchema.model_validate(SCHEMA)
    with store.transaction() as tx:
        pid = tx.projects.create("bench", schema, "user:bench").id
    batch = 20_000
    for lo in range(0, n, batch):
        refs = [MediaRef.from_text(f"review {i}: the product was fine, delivery {i % 7} days") for i in
                range(lo, min(n, lo + batch))]  # fmt: skip
        with store.transaction() as tx:
            tx.items.add_many(pid, [NewItem({"text": r}, content_hash({"text": r.sha256})) for r in refs],
                              created_by="user:bench")  # fmt: skip
    tokens = []
    for i in range(clients + 1):
        u = create_user(store, f"ann{i}", PASSWORD)
        add_member(store, pid, u.username, Role.ANNOTATOR)
        tokens.append(create_token(store, u, "bench")[1])
    m = create_user(store, "mgr", PASSWORD)
    add_member(store, pid, "mgr", Role.MANAGER)
    t0 = time.perf_counter()
    next_task(store, pid, m, "manager")  # fills the queue: one row per item
    return pid, tokens, create_token(store, m, "bench")[1], time.perf_counter() - t0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path, url: str | None, workers: int) -> tuple[subprocess.Popen[bytes], str, float]:
    """Spawn uvicorn; return it, its base URL and the seconds until it first answered."""
    port = free_port()
    env = {**os.environ, "LABELLOOP_DATA_DIR": str(data_dir)}
    if url:
        env["LABELLOOP_DATABASE_URL"] = url
    cmd = [sys.executable, "-m", "uvicorn", "labelloop.api.app:create_app", "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning", "--no-access-log", "--workers", str(workers)]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    # One polling client, made before the clock starts: httpx.get() builds a client (and an SSL
    # context, ~40 ms of CPU) per call, which competed with the starting server for the cores.
    with httpx.Client(timeout=0.5) as poll:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env)
        while True:
            try:
                if poll.get(base + "/api/health").status_code == 200:
                    return proc, base, time.perf_counter() - t0
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.perf_counter() - t0 > 60:
                raise RuntimeError("server did not start")
            time.sleep(0.02)


class LiteClient:
    """A keep-alive HTTP/1.1 client on the standard library's ``http.client``.

    The load generator shares the machine's cores with the server under test; httpx spends
    several times more CPU per request than this, CPU the server then does not get
    (``--httpx`` measures with httpx instead, for comparison).
    """

    def __init__(self, base: str, token: str) -> None:
        u = urlsplit(base)
        self.conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port, timeout=30)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(self, path: str, json: Any = None, headers: dict[str, str] | None = None) -> LiteResponse:
        """POST ``json`` (or nothing) and read the whole answer."""
        body = None if json is None else orjson.dumps(json)
        self.conn.request("POST", path, body=body, headers={**self.headers, **(headers or {})})
        r = self.conn.getresponse()
        return LiteResponse(r.status, r.read())

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> LiteClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class LiteResponse:
    """Status and body, with the two methods of httpx's response the benchmark uses."""

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code, self.content = status_code, content

    def json(self) -> Any:
        return orjson.loads(self.content)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP {self.status_code}: {self.content[:200]!r}")


Client = LiteClient | httpx.Client


def cycle(c: Client, pid: int, times: tuple[list[float], list[float]] | None = None) -> bool:
    """One next + submit; False when the queue is empty."""
    t0 = time.perf_counter()
    r = c.post(f"/api/projects/{pid}/next")
    t1 = time.perf_counter()
    if r.status_code == 204:
        return False
    r.raise_for_status()
    task = r.json()["task"]
    body = {"value": VALUE, "base_version": task["base_version"], "lead_time_s": 1.0}
    s = c.post(f"/api/projects/{pid}/items/{task['item']['id']}/annotations", json=body,
               headers={"Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
    t2 = time.perf_counter()
    s.raise_for_status()
    if times is not None:
        times[0].append(t1 - t0)
        times[1].append(t2 - t1)
    return True


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
APP_NAME = "labelloop-serverbench"


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process and its live children (``--workers``) have used so far.

    0 when it is gone or unreadable.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK + sum(proc_cpu(int(c)) for c in children)


def backend_pids(url: str) -> list[int]:
    """The PostgreSQL backends the benchmark's server holds (by application name)."""
    eng = create_engine(url)
    try:
        with eng.connect() as c:
            q = text("SELECT pid FROM pg_stat_activity WHERE application_name = :a")
            return [int(r[0]) for r in c.execute(q, {"a": APP_NAME})]
    finally:
        eng.dispose()


class CpuMeter:
    """CPU seconds used between :meth:`start` and :meth:`stop` by the server, its backends, this process."""

    def __init__(self, server_pid: int, url: str | None) -> None:
        self.server_pid, self.url = server_pid, url
        self.backends: dict[int, float] = {}
        self.server = self.client = self.db = 0.0

    def start(self) -> None:
        self.server, self.client = proc_cpu(self.server_pid), time.process_time()
        self.backends = {p: proc_cpu(p) for p in (backend_pids(self.url) if self.url else [])}

    def stop(self) -> None:
        self.server, self.client = proc_cpu(self.server_pid) - self.server, time.process_time() - self.client
        pids = backend_pids(self.url) if self.url else []
        self.db = sum(proc_cpu(p) - self.backends.get(p, 0.0) for p in pids)


def client(base: str, token: str, use_httpx: bool) -> Client:
    if use_httpx:
        return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return LiteClient(base, token)


def run(label: str, url: str | None, args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="labelloop-serverbench-"))
    store = Store.open(url, data_dir)
    t0 = time.perf_counter()
    pid, tokens, mgr_token, fill_s = fill(store, args.n, args.clients)
    setup_s = time.perf_counter() - t0
    store.close()
    proc, base, cold = start_server(data_dir, url, args.workers)
    try:
        single = client(base, tokens[-1], args.httpx)
        for _ in range(20):  # warm-up (connection, caches)
            cycle(single, pid)
        times: tuple[list[float], list[float]] = ([], [])
        for _ in range(args.samples):
            cycle(single, pid, times)
        stop = time.perf_counter() + args.seconds
        counts = [0] * args.clients

        def worker(i: int) -> None:
            with client(base, tokens[i], args.httpx) as c:
                while time.perf_counter() < stop and cycle(c, pid):
                    counts[i] += 1

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.clients)]
        meter = CpuMeter(proc.pid, url) if args.cpu else None
        if meter is not None:
            meter.start()
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rate = sum(counts) / (time.perf_counter() - t0)
        if meter is not None:
            meter.stop()
        mgr = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {mgr_token}"}, timeout=30)
        page: list[float] = []
        rng = random.Random(0)
        for _ in range(args.samples):
            after = rng.randrange(0, args.n)
            t0 = time.perf_counter()
            mgr.get(f"/api/projects/{pid}/items", params={"after": after, "limit": 50}).raise_for_status()
            page.append(time.perf_counter() - t0)
    finally:
        proc.terminate()
        proc.wait(10)
    cpu = {}
    if meter is not None and counts and sum(counts):
        per = 1000 / sum(counts)
        cpu = {"cpu_server_ms": meter.server * per, "cpu_db_ms": meter.db * per, "cpu_client_ms": meter.client * per}
    return {
        **cpu, "backend": label, "n": args.n, "setup_s": setup_s, "queue_fill_s": fill_s, "cold_start_s": cold,
        "next_p50": pct(times[0], 50), "next_p99": pct(times[0], 99),
        "submit_p50": pct(times[1], 50), "submit_p99": pct(times[1], 99),
        "cycles_per_s": rate, "page_p50": pct(page, 50), "page_p99": pct(page, 99),
    }  # fmt: skip


def pg_schema_url(base: str) -> tuple[str, str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    eng = create_engine(base)
    with eng.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng.dispose()
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}", "application_name": APP_NAME})
    return url.render_as_string(hide_password=False), schema


def drop_schema(base: str, schema: str) -> None:
    eng = create_engine(base)
    with eng.begin() as c:
        c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    eng.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="tasks (items) in the project")
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--samples", type=int, default=500, help="sequential cycles and pages measured")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10.0, help="length of the concurrent run")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--cpu", action="store_true", help="report CPU ms per concurrent cycle (server, database, client)")
    ap.add_argument("--httpx", action="store_true", help="load with httpx clients instead of http.client")
    args = ap.parse_args()
    results = []
    if args.backend in ("sqlite", "both"):
        results.append(run("sqlite", None, args))
    if args.backend in ("postgresql", "both"):
        url, schema = pg_schema_url(args.pg_url)
        try:
            results.append(run("postgresql", url, args))
        finally:
            drop_schema(args.pg_url, schema)
    print(f"{'backend':<11}{'n':>9}{'next p50/p99 ms':>18}{'submit p50/p99 ms':>20}{'8-client cyc/s':>16}"
          f"{'cold s':>8}{'page p50/p99 ms':>18}{'queue fill s':>14}{'setup s':>9}")  # fmt: skip
    for r in results:
        print(f"{r['backend']:<11}{r['n']:>9}{r['next_p50']:>9.1f}/{r['next_p99']:<8.1f}"
              f"{r['submit_p50']:>11.1f}/{r['submit_p99']:<8.1f}{r['cycles_per_s']:>16.0f}{r['cold_start_s']:>8.2f}"
              f"{r['page_p50']:>9.1f}/{r['page_p99']:<8.1f}{r['queue_fill_s']:>14.2f}{r['setup_s']:>9.1f}")  # fmt: skip
    for r in results:
        if "cpu_server_ms" in r:
            print(f"{r['backend']}: CPU ms per concurrent cycle: server {r['cpu_server_ms']:.2f}, database "
                  f"{r['cpu_db_ms']:.2f}, clients {r['cpu_client_ms']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
