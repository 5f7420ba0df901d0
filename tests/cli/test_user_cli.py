"""``labelloop user``: create (generated or stdin password), grant, passwd."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from labelloop.cli.main import main
from labelloop.services.accounts import login
from labelloop.storage import Store


def test_user_create_grant_passwd(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:  # type: ignore[no-untyped-def]
    data = str(tmp_path / "d")
    assert main(["--data-dir", data, "project", "create", "p", "--media", "text"]) == 0
    assert main(["--data-dir", data, "user", "create", "root", "--admin"]) == 0
    out = capsys.readouterr().out
    assert "created user 'root' (admin)" in out
    generated = out.split("password: ")[1].strip()
    monkeypatch.setattr("sys.stdin", io.StringIO("typed password here\n"))
    assert main(["--data-dir", data, "user", "create", "ann", "--password-stdin"]) == 0
    assert "password:" not in capsys.readouterr().out
    assert main(["--data-dir", data, "user", "create", "ann"]) == 4  # taken: LL-CONFLICT
    assert "already exists" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["--data-dir", data, "user", "create", "bob", "--password-stdin"]) == 2
    assert "at least 10 characters" in capsys.readouterr().err
    assert main(["--data-dir", data, "user", "grant", "ann", "p", "annotator", "--quota", "5"]) == 0
    assert "ann is annotator of p" in capsys.readouterr().out
    store = Store.open(None, tmp_path / "d")
    try:
        assert login(store, "root", generated, ip="t").user.is_admin
        assert login(store, "ann", "typed password here", ip="t").user.username == "ann"
    finally:
        store.close()
    assert main(["--data-dir", data, "user", "passwd", "ann"]) == 0
    assert "sessions and tokens revoked" in capsys.readouterr().out
