"""``labelloop experiment`` on a real store: create, list, show (table and JSON), stop, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labelloop.cli.main import main
from labelloop.core import LabelSchema, MediaRef, NewAnnotation, NewItem, content_hash
from labelloop.storage import Store
from labelloop.storage.experiments_repo import ExperimentRepo
from tests.helpers import TEXT_SCHEMA


def _store(data: Path, n: int) -> None:
    store = Store.open(None, data)
    try:
        with store.transaction() as tx:
            pid = tx.projects.create("rev", LabelSchema.model_validate(TEXT_SCHEMA), "user:test").id
            refs = [MediaRef.from_text(f"item {i}") for i in range(n)]
            tx.items.add_many(pid, [NewItem({"text": r}, content_hash({"text": r.sha256})) for r in refs],
                              created_by="user:t")  # fmt: skip
    finally:
        store.close()


def _label_all(data: Path, seconds: dict[str, float]) -> None:
    """Two people label every item of the experiment, arm a taking ``seconds['a']`` (+ noise), arm b ``['b']``."""
    store = Store.open(None, data)
    try:
        with store.transaction() as tx:
            repo = ExperimentRepo(tx.conn)
            (e,) = repo.of_project(1)
            split = repo.items_page(e.id)
            new = [
                NewAnnotation(item, [{"id": "r", "control": "sentiment", "labels": ["pos"]}], who,
                              lead_time_s=seconds[arm] + (k % 5) * 0.3)
                for k, (item, arm) in enumerate(split) for who in ("ann", "bea")
            ]  # fmt: skip
            tx.labels.add_annotations(1, new)
    finally:
        store.close()


def test_create_show_stop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    _store(data, 40)
    args = ["--data-dir", str(data), "experiment"]
    code = main([*args, "create", "rev", "prefill", "--a", "prefill=on", "--b", "prefill=off",
                 "--b", "guideline=Tone of the whole text, not of one sentence.", "--seed", "7"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "20 items in arm a, 20 in arm b" in out and "seed 7" in out
    assert "arm b: prefill off, guideline 'Tone of the whole text, not of one se...'" in out
    assert main([*args, "list", "rev", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["arms"]["b"] == {"prefill": False, "guideline": "Tone of the whole text, not of one sentence."}
    _label_all(data, {"a": 9.0, "b": 5.0})
    assert main([*args, "show", "rev", "prefill"]) == 0
    out = capsys.readouterr().out
    assert "seconds" in out and "consensus" in out and "p = " in out and "reference:" in out
    assert main([*args, "show", "rev", "1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["tests"]["seconds"]["significant"] is True and doc["tests"]["seconds"]["diff"] < -3.5
    assert doc["arms"]["a"]["agreement"]["value"] == 1.0 and doc["tests"]["agreement"]["fisher_p"] == 1.0
    assert main([*args, "stop", "rev", "prefill"]) == 0
    assert "(#1, stopped)" in capsys.readouterr().out
    assert main([*args, "stop", "rev", "prefill"]) == 4
    assert "already stopped" in capsys.readouterr().err


def test_refusals_name_the_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    _store(data, 4)
    args = ["--data-dir", str(data), "experiment", "create", "rev"]
    assert main([*args, "e", "--a", "prefill", "--b", "prefill=off"]) == 2
    assert "--a 'prefill': expected key=value" in capsys.readouterr().err
    assert main([*args, "e", "--a", "colour=red", "--b", "prefill=off"]) == 2
    assert "arm a: expected settings among prefill, backend, guideline, accept_threshold" in capsys.readouterr().err
    assert main([*args, "e", "--a", "accept_threshold=0.9", "--b", "accept_threshold=1.5"]) == 2
    assert "arm b: accept_threshold: expected a number in (0, 1]" in capsys.readouterr().err
    assert main([*args, "e", "--a", "prefill=on", "--b", "prefill=on"]) == 2
    assert "the same one twice" in capsys.readouterr().err
    assert main(["--data-dir", str(data), "experiment", "show", "rev", "nope"]) == 3
    assert "experiment 'nope' not found" in capsys.readouterr().err
