"""``labelloop serve --workers 2``: two server processes, one secret key, one log-in rate limit."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from labelloop.services.accounts import create_user
from labelloop.storage import Store

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="counts worker processes through /proc")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry.name))
    return kids


def test_two_workers_share_sessions_csrf_and_the_login_limit(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = Store.open(None, data)
    create_user(store, "ann", "a long enough password")
    store.close()
    port = _free_port()
    env = {**os.environ, "LABELLOOP_DATA_DIR": str(data)}
    run = "from labelloop.cli.main import run; run()"
    cmd = [sys.executable, "-c", run, "--data-dir", str(data), "serve", "--port", str(port), "--workers", "2"]
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "serve exited"
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200 and len(_children(proc.pid)) >= 2:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        # uvicorn's supervisor spawns the workers (beside multiprocessing's resource tracker)
        workers = [k for k in _children(proc.pid) if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes()]
        assert len(workers) == 2, workers
        # a session opened on one worker works on both: the secret key (CSRF) and the session rows are shared
        login = httpx.post(f"{base}/api/auth/login", json={"username": "ann", "password": "a long enough password"})
        assert login.status_code == 200
        cookie, csrf = login.cookies["ll_session"], login.json()["csrf_token"]
        for i in range(12):  # a new connection each time: the kernel hands them to either worker
            made = httpx.post(
                f"{base}/api/tokens", json={"name": f"t{i}"}, cookies={"ll_session": cookie},
                headers={"X-CSRF-Token": csrf, "Connection": "close"},
            )  # fmt: skip
            assert made.status_code == 201, made.text
        # the log-in above and four wrong passwords, on either worker, use up ann's 5 attempts a minute
        codes = [
            httpx.post(
                f"{base}/api/auth/login", json={"username": "ann", "password": "wrong password!"},
                headers={"Connection": "close"},
            ).status_code
            for _ in range(6)
        ]  # fmt: skip
        assert codes == [401] * 4 + [429] * 2
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
