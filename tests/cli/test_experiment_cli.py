"""``labelloop experiment`` on a real store: create, list, show (table and JSON), stop, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labelloop.cli.main import main
from labelloop.core import LabelSchema, MediaRef, NewAnnotation, NewItem, NewSuggestion, content_hash
from labelloop.storage import Store
from labelloop.storage.experiments_repo import ExperimentRepo
from labelloop.storage.routing_repo import RoutingRepo
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


def _suggest_and_audit(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Backend m suggests ``pos`` on every item (scores 0.5 to 0.99); routing audits 60% blind; people agree."""
    store = Store.open(None, data)
    try:
        with store.transaction() as tx:
            ids = [it.id for page in tx.items.iter_all(1) for it in page]
            value = [{"id": "r", "control": "sentiment", "labels": ["pos"]}]
            tx.labels.add_suggestions(1, [NewSuggestion(i, value, "m", "1", 0.5 + 0.49 * k / (len(ids) - 1))
                                          for k, i in enumerate(ids)])  # fmt: skip
    finally:
        store.close()
    assert main(["--data-dir", str(data), "route", "rev", "--audit-rate", "0.6"]) == 0
    assert "nothing auto-accepted" in capsys.readouterr().out
    _label_audits(data)


def _label_audits(data: Path) -> None:
    """A person labels every unlabelled audit item ``pos``."""
    value = [{"id": "r", "control": "sentiment", "labels": ["pos"]}]
    store = Store.open(None, data)
    try:
        with store.read() as tx:
            audits = sorted(i for i, r in RoutingRepo(tx.conn).routes(1, 0, 10**9).items() if r.tier == "audit")
            done = {a.item_id for a in tx.labels.for_items(audits)[1]}
        with store.transaction() as tx:
            tx.labels.add_annotations(1, [NewAnnotation(i, value, "ann") for i in audits if i not in done])
    finally:
        store.close()


def test_threshold_arms_create_route_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    _store(data, 300)
    _suggest_and_audit(data, capsys)
    args = ["--data-dir", str(data), "experiment"]
    assert main([*args, "create", "rev", "thr", "--a", "accept_threshold=0.5", "--b", "accept_threshold=0.9",
                 "--unlabelled", "--seed", "3"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "arm a: prefill on, accept threshold 0.5 (floor on the certified one)" in out
    assert "arm b: prefill on, accept threshold 0.9 (floor on the certified one)" in out
    assert main([*args, "show", "rev", "thr"]) == 0
    assert "no routing run (labelloop route) was made while the experiment ran" in capsys.readouterr().out
    assert main(["--data-dir", str(data), "route", "rev", "--audit-rate", "0.1"]) == 0
    assert "experiment 'thr': arm a " in capsys.readouterr().out
    assert main([*args, "show", "rev", "thr"]) == 0
    out = capsys.readouterr().out
    assert "auto share" in out and "auto accuracy" in out and "effective" in out and "*: 0.9000" in out
    assert "audits pending" in out and "auto-accept: floor = the arm's accept_threshold" in out
    _label_audits(data)
    assert main([*args, "show", "rev", "thr", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (run,) = doc["auto_accept"]["runs"]
    certified = run["certified"]["*"]
    a, b = doc["arms"]["a"]["auto_accept"], doc["arms"]["b"]["auto_accept"]
    assert certified < 0.9 and a["effective"] == {"*": max(certified, 0.5)} and b["effective"] == {"*": 0.9}
    assert a["accept_threshold"] == 0.5 and b["accept_threshold"] == 0.9
    assert a["share"]["value"] > b["share"]["value"] and a["share"]["auto"] == run["auto"]["a"]
    assert doc["tests"]["auto_share"]["diff"] < 0 and doc["auto_accept"]["notes"] == []
    for x in (a, b):  # people labelled the audits as m suggested: every audited auto-accept label is right
        assert x["pending_audits"] == 0 and x["audited_accuracy"]["n"] > 0 and x["audited_accuracy"]["value"] == 1.0
