"""``labelloop route`` and ``labelloop learn`` on a real store: tables, JSON, certificate, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labelloop.cli.main import main
from labelloop.storage import Store
from tests.services.live_world import digits_project, in_tier, label


def test_route_learn_and_certificate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    store = Store.open(None, data)
    try:
        w = digits_project(store)
    finally:
        store.close()
    args = ["--data-dir", str(data)]
    assert main([*args, "route", "--certificate", "digits"]) == 0
    assert "never routed" in capsys.readouterr().out
    assert main([*args, "route", "digits", "--backend", "image.classify", "--audit-rate", "0.7"]) == 0
    out = capsys.readouterr().out
    assert "149 more clean audited items would unlock" in out and "route run 1" in out and "to unlock" in out
    store = Store.open(None, data)
    try:
        label(store, w.pid, in_tier(store, w.pid, "audit"), w.truth)
    finally:
        store.close()
    assert main([*args, "route", "digits", "--audit-rate", "0.1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["run"]["certified"] and doc["project"]["auto_labels"] > 0
    assert main([*args, "route", "--certificate", "digits"]) == 0
    out = capsys.readouterr().out
    assert "auto-accepted labels" in out and "per class" in out and "holds" in out
    code = main([*args, "learn", "digits", "--backend", "image.classify", "--batch", "5", "--rounds", "2"])
    out = capsys.readouterr().out
    assert code == 0 and "round 1 (#" in out and "go first in the queue" in out and "no new labels" in out
    assert main([*args, "learn", "digits", "--backend", "image.classify", "--sampler", "best"]) == 2
    assert "--sampler" in capsys.readouterr().err
    assert main([*args, "route", "digits", "--target", "1.5"]) == 2
    assert "target: expected a value strictly between 0 and 1" in capsys.readouterr().err
