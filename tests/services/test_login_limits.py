"""The log-in rate limit kept in the database: one limit for every server process (SQLite and PostgreSQL)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from labelloop.services.accounts import LoginLimiter, RateLimited, load_secret
from labelloop.storage import Store
from labelloop.storage.login_attempts_repo import LoginAttemptRepo


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def test_two_processes_share_one_limit_per_user_and_address(store: Store) -> None:
    clock = Clock()
    a, b = (LoginLimiter(store, per_user=3, per_ip=5, clock=clock) for _ in range(2))
    a.hit("Ann", "10.0.0.1")
    b.hit("ann", "10.0.0.1")  # names compare lower-cased
    a.check("ann", "10.0.0.1")  # a check does not count
    b.hit("ANN", "10.0.0.1")
    with pytest.raises(RateLimited) as refused:
        a.hit("ann", "10.0.0.1")
    assert refused.value.http_status == 429 and refused.value.retry_after == 61
    with pytest.raises(RateLimited):
        b.check("ann", "10.0.0.1")
    b.hit("ann", "10.0.0.2")  # another address: its own count
    a.hit("bob", "10.0.0.1")  # the address has room for 5 (3 of ann + bob's)
    b.hit("cy", "10.0.0.1")
    with pytest.raises(RateLimited):  # the address is full, whoever tries
        a.hit("dee", "10.0.0.1")
    clock.t += 30
    with pytest.raises(RateLimited) as later:
        a.check("dee", "10.0.0.1")
    assert later.value.retry_after == 31  # the oldest attempt leaves the window in 30 s
    clock.t += 31
    a.hit("ann", "10.0.0.1")  # the window moved on: every earlier attempt is forgotten


def test_old_attempts_are_pruned(store: Store) -> None:
    clock = Clock()
    lim = LoginLimiter(store, clock=clock)
    for i in range(20):
        lim.hit(f"user{i}", f"10.0.{i}.1")
    clock.t += 61
    lim.hit("late", "10.9.9.9")
    with store.read() as tx:
        left = LoginAttemptRepo(tx.conn).recent("late", "10.9.9.9", since=0)
    assert left.user == 1
    with store.read() as tx:
        assert all(LoginAttemptRepo(tx.conn).recent(f"user{i}", f"10.0.{i}.1", since=0).ip == 0 for i in range(20))
    lim.clear()
    with store.read() as tx:
        assert LoginAttemptRepo(tx.conn).recent("late", "10.9.9.9", since=0).ip == 0


def test_long_names_and_addresses_are_cut_to_their_columns(store: Store) -> None:
    lim = LoginLimiter(store, per_user=1)
    lim.hit("x" * 500, "1" * 300)
    with pytest.raises(RateLimited):
        lim.hit("x" * 500, "1" * 300)


def _key(data_dir: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    out.put(load_secret(Path(data_dir)))


def test_processes_starting_together_share_one_secret_key(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_key, args=(str(tmp_path), out)) for _ in range(6)]
    for p in procs:
        p.start()
    keys = {out.get(timeout=60) for _ in procs}
    for p in procs:
        p.join(30)
    assert len(keys) == 1 and len(keys.pop()) == 64
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.key"]  # no private copies left
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
