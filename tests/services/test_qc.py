"""QC service on SQLite and PostgreSQL: runs, incremental re-runs, correction tasks, gold,
confident learning on real model probabilities, annotator scores, reports and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from labelloop.cli.main import main
from labelloop.core import Item, MediaRef, NewAnnotation, NewItem, NewSuggestion
from labelloop.core.findings import Detector
from labelloop.errors import InputRejected, InvalidAnnotation, InvalidSchema, NotFound
from labelloop.quality.rules import parse_qc_config
from labelloop.services.qc import (
    gold_from_annotator,
    list_findings,
    load_qc_config,
    queue_with_gold,
    resolve_task,
    run_qc,
    set_gold,
    set_qc_config,
)
from labelloop.services.qc_report import annotator_scores, qc_report, write_report
from labelloop.storage import Store
from labelloop.storage.quality_repo import QualityRepo
from tests.backends.factories import make_project

SCHEMA: dict[str, Any] = {
    "media": [{"name": "text", "kind": "text"}],
    "controls": [
        {"name": "topic", "kind": "classification", "target": "text", "labels": ["a", "b", "c"]},
        {"name": "ents", "kind": "spans", "target": "text", "labels": ["ORG", "LOC"]},
    ],
}


def add_texts(
    store: Store, texts: list[str], project: str = "p", meta: list[dict[str, Any]] | None = None
) -> list[Item]:
    with store.transaction() as tx:
        p = tx.projects.get(project)
        refs = [MediaRef.from_text(t) for t in texts]
        new = [NewItem({"text": r}, r.sha256, meta=(meta or [{}] * len(texts))[i]) for i, r in enumerate(refs)]
        tx.items.add_many(p.id, new, created_by="user:test")
        return [it for page in tx.items.iter_all(p.id) for it in page]


def annotate(
    store: Store, rows: list[tuple[int, list[dict[str, Any]], str]], *, lead: float | None = None
) -> list[int]:
    with store.transaction() as tx:
        pid = tx.projects.get("p").id
        return tx.labels.add_annotations(pid, [NewAnnotation(i, v, a, lead_time_s=lead) for i, v, a in rows])


def topic(label: str) -> dict[str, Any]:
    return {"id": "t", "control": "topic", "labels": [label]}


def span(start: int, end: int, label: str = "ORG", rid: str = "s") -> dict[str, Any]:
    return {"id": rid, "control": "ents", "label": label, "start": start, "end": end}


@pytest.fixture
def project(store: Store) -> list[Item]:
    make_project(store, "p", SCHEMA)
    return add_texts(store, ["Acme Corp hires", "Berlin is big", "nothing here", "Paris and Rome"])


def test_full_then_incremental_runs_keep_tasks_in_step(store: Store, project: list[Item]) -> None:
    i1, i2, i3, _ = (it.id for it in project)
    [a1, _, _] = annotate(
        store,
        [
            (i1, [topic("a"), span(0, 6)], "ann"),
            (i2, [topic("b"), span(0, 6, "LOC")], "ann"),
            (i3, [topic("c")], "ann"),
        ],
    )
    r1 = run_qc(store, "p")
    assert (r1.mode, r1.items_checked, r1.findings_new, r1.findings_open) == ("full", 4, 1, 1)
    [f] = list_findings(store, "p")
    assert (f["item_id"], f["rule_id"], f["region_id"], f["status"]) == (i1, "span_tokens", "s", "open")
    assert f["fix"]["value"] == [0, 9, "Acme Corp"] and f["annotator"] == "ann" and f["record_id"] == a1

    again = run_qc(store, "p")  # nothing changed: nothing checked, nothing new
    assert (again.mode, again.items_checked, again.findings_new, again.findings_resolved) == ("incremental", 0, 0, 0)

    # the annotator fixes item 1 (a new version) and makes a new mistake on item 3
    with store.transaction() as tx:
        tx.labels.add_annotations(
            tx.projects.get("p").id, [NewAnnotation(i1, [topic("a"), span(0, 9)], "ann", parent_id=a1)]
        )
    annotate(store, [(i3, [topic("c"), span(0, 3)], "ann")])
    r3 = run_qc(store, "p", batch=1)  # keyset pages of one changed item each
    assert (r3.mode, r3.items_checked, r3.findings_new, r3.findings_resolved, r3.findings_open) == (
        "incremental",
        2,
        1,
        1,
        1,
    )
    assert [(x["item_id"], x["status"], x["resolution"]) for x in list_findings(store, "p", status=None)] == [
        (i1, "resolved", "gone"),
        (i3, "open", None),
    ]
    with store.read() as tx:
        runs = QualityRepo(tx.conn).runs(tx.projects.get("p").id)
    assert [(r.mode, r.status) for r in runs] == [("full", "done"), ("incremental", "done"), ("incremental", "done")]


def test_rules_run_on_suggestions_with_their_source(store: Store, project: list[Item]) -> None:
    with store.transaction() as tx:
        pid = tx.projects.get("p").id
        tx.labels.add_suggestions(
            pid,
            [
                NewSuggestion(project[0].id, [span(0, 6)], "llm.chat", "1", 0.9),
                NewSuggestion(project[1].id, [span(0, 3, "LOC")], "text.rules", "1", 0.5),
            ],
        )
    run_qc(store, "p")
    got = {(f["item_id"], f["label_source"], f["annotator"]) for f in list_findings(store, "p")}
    assert got == {(project[0].id, "llm", "llm.chat"), (project[1].id, "rule", "text.rules")}


def test_dismissed_tasks_stay_resolved_and_a_changed_config_rechecks_everything(
    store: Store, project: list[Item]
) -> None:
    annotate(store, [(project[0].id, [topic("a"), span(0, 6)], "ann")])
    run_qc(store, "p")
    [f] = list_findings(store, "p")
    assert resolve_task(store, "p", f["task_id"], "dismissed", "user:rev") is True
    assert resolve_task(store, "p", f["task_id"], "fixed", "user:rev") is False
    assert run_qc(store, "p").items_checked == 0
    set_qc_config(store, "p", {"qc": {"rules": [{"rule": "span_tokens", "enabled": False}]}}, "user:lead")
    r = run_qc(store, "p")
    assert (r.mode, r.items_checked, r.findings_new) == ("full", 4, 0)
    assert "config changed" in r.notes[0]
    assert load_qc_config(store, "p").rules[0].enabled is False


def test_invalid_config_is_refused_and_nothing_is_stored(store: Store, project: list[Item]) -> None:
    with pytest.raises(InvalidSchema, match=r"unknown controls \['boxes'\]"):
        set_qc_config(store, "p", {"qc": {"rules": [{"rule": "box_bounds", "controls": ["boxes"]}]}}, "me")
    with pytest.raises(InvalidSchema, match=r"qc\.rules\.0\.params\.min_width"):
        set_qc_config(store, "p", {"qc": {"rules": [{"rule": "box_min_size", "params": {"min_width": "x"}}]}}, "me")
    with store.read() as tx:
        assert QualityRepo(tx.conn).config(tx.projects.get("p").id) is None
    assert load_qc_config(store, "p") == parse_qc_config(None)


def test_gold_labels_findings_and_annotator_scores(store: Store, project: list[Item]) -> None:
    ids = [it.id for it in project]
    with pytest.raises(InvalidAnnotation, match="gold for item"):
        set_gold(store, "p", ids[0], [topic("zzz")], "user:lead")
    with pytest.raises(NotFound):
        set_gold(store, "p", 99_999, [topic("a")], "user:lead")
    for i, lab in zip(ids, "abca", strict=True):
        set_gold(store, "p", i, [topic(lab)], "user:lead")
    annotate(store, [(i, [topic(lab)], "good") for i, lab in zip(ids, "abca", strict=True)], lead=4.0)
    annotate(store, [(i, [topic(lab)], "sloppy") for i, lab in zip(ids, "aaaa", strict=True)], lead=2.0)
    run_qc(store, "p")
    gold = [f for f in list_findings(store, "p") if f["detector"] == Detector.GOLD.value]
    assert sorted((f["annotator"], f["fix"]["value"][0]["labels"][0]) for f in gold) == [
        ("sloppy", "b"),
        ("sloppy", "c"),
    ]
    scores = annotator_scores(store, "p")
    assert scores["good"]["gold_accuracy"] == {"topic": 1.0} and scores["sloppy"]["gold_accuracy"] == {"topic": 0.5}
    assert scores["good"]["median_lead_time_s"] == 4.0 and scores["sloppy"]["items_per_hour"] == 1800.0


def test_confident_learning_on_real_model_probabilities(store: Store) -> None:
    """Digits, 10% injected label noise, out-of-fold logistic regression: suspects match the noise."""
    from sklearn.datasets import load_digits

    from labelloop.quality.label_errors import out_of_fold_pred_probs

    x, y = load_digits(return_X_y=True)
    x, y = x[:400], y[:400]
    rng = np.random.default_rng(0)
    noisy = y.copy()
    flip = rng.choice(len(y), 40, replace=False)
    noisy[flip] = (y[flip] + rng.integers(1, 10, 40)) % 10
    probs = out_of_fold_pred_probs(x, noisy, seed=0)
    labels = [str(d) for d in range(10)]
    make_project(
        store,
        "d",
        {
            "media": [{"name": "text", "kind": "text"}],
            "controls": [{"name": "digit", "kind": "classification", "target": "text", "labels": labels}],
        },
    )
    items = add_texts(store, [f"digit image {i}" for i in range(len(y))], project="d")
    with store.transaction() as tx:
        pid = tx.projects.get("d").id
        tx.labels.add_annotations(
            pid,
            [
                NewAnnotation(it.id, [{"id": "d", "control": "digit", "labels": [str(noisy[k])]}], "crowd")
                for k, it in enumerate(items)
            ],
        )
    given = {(it.id, "digit"): dict(zip(labels, probs[k].tolist(), strict=True)) for k, it in enumerate(items)}
    r = run_qc(store, "d", probabilities=given)
    suspects = {f["item_id"] for f in list_findings(store, "d") if f["detector"] == "label_error"}
    truth = {items[k].id for k in flip.tolist()}
    tp = len(suspects & truth)
    f1 = 2 * tp / (len(suspects) + len(truth))
    assert r.label_error_suspects == len(suspects) and f1 > 0.75, f1
    # a second run finds the same suspects: no new tasks
    assert run_qc(store, "d", probabilities=given).findings_new == 0


def test_confident_learning_from_suggestion_scores_and_its_limits(store: Store, project: list[Item]) -> None:
    items = add_texts(store, [f"doc {i}" for i in range(30)])[4:]
    truth = ["a", "b", "c"] * 10
    given = list(truth)
    given[3], given[7] = "c", "a"
    annotate(store, [(it.id, [topic(lab)], "ann") for it, lab in zip(items, given, strict=True)])
    with store.transaction() as tx:
        pid = tx.projects.get("p").id
        tx.labels.add_suggestions(
            pid, [NewSuggestion(it.id, [topic(lab)], "clf", "1", 0.9) for it, lab in zip(items, truth, strict=True)]
        )
    run_qc(store, "p")
    cl = [f for f in list_findings(store, "p") if f["detector"] == "label_error"]
    assert sorted(f["item_id"] for f in cl) == sorted([items[3].id, items[7].id])
    assert {tuple(f["fix"]["value"]) for f in cl} == {("a",), ("b",)}
    # the same labels everywhere: confident learning says why it did not run
    make_project(store, "same", SCHEMA)
    same = add_texts(store, [f"same {i}" for i in range(25)], project="same")
    with store.transaction() as tx:
        pid = tx.projects.get("same").id
        tx.labels.add_annotations(pid, [NewAnnotation(it.id, [topic("a")], "ann") for it in same])
        tx.labels.add_suggestions(pid, [NewSuggestion(it.id, [topic("a")], "clf", "1", 0.9) for it in same])
    r = run_qc(store, "same")
    assert r.label_error_suspects == 0 and r.notes == ["confident learning skipped for 'topic': every label is 'a'"]


def test_report_with_two_annotators_slices_and_an_extra_section(store: Store, tmp_path: Path) -> None:
    make_project(store, "p", SCHEMA)
    items = add_texts(
        store, [f"Acme Corp {i}" for i in range(6)], meta=[{"slice": "en" if i % 2 else "de"} for i in range(6)]
    )
    annotate(store, [(it.id, [topic("a"), span(0, 6)], "x") for it in items])
    annotate(store, [(it.id, [topic("a" if k < 4 else "b"), span(0, 9)], "y") for k, it in enumerate(items)])
    set_gold(store, "p", items[0].id, [topic("a"), span(0, 9)], "user:lead")
    run_qc(store, "p")

    class Bias:
        def to_dict(self) -> dict[str, Any]:
            return {"groups": {"en": 0.1}}

    rep = qc_report(store, "p", extra_sections={"bias audit": Bias(), "notes": {"k": 1}})
    assert rep["summary"]["annotators"] == 2 and rep["summary"]["gold_items"] == 1
    dist = rep["error_distribution"]
    # x: six spans off token edges and one gold mismatch (item 0); y agrees with gold and token edges
    assert dist["by_annotator"] == {"x": 7} and dist["by_slice"] == {"de": 4, "en": 3}
    assert dist["rates"]["annotator"] == {"x": 7 / 12, "y": 0.0}  # per checked (item, control) label
    assert rep["agreement"]["topic"]["percent"]["value"] == pytest.approx(4 / 6)
    assert rep["agreement"]["ents"]["mean_pair_f1"] == 0.0
    assert rep["confusion"]["topic"]["reference"] == "gold" and rep["confusion"]["topic"]["n"] == 2
    assert rep["sections"]["bias audit"] == {"groups": {"en": 0.1}} and rep["sections"]["notes"] == {"k": 1}
    # the built-in bias audit: topic labels across the 'slice' meta values, and each annotator vs the rest
    bias = rep["sections"]["bias"]["topic"]
    (by_slice,) = bias["slices"]
    assert by_slice["attribute"] == "slice" and sorted(by_slice["slices"]) == ["de", "en"]
    assert sorted(by_slice["labels"]) == ["a", "b"] and sum(map(sum, by_slice["counts"])) == 12
    assert {a["annotator"] for a in bias["annotators"]} <= {"x", "y"}
    assert "ents" not in rep["sections"]["bias"]  # spans are not classifications
    js, page = write_report(rep, tmp_path / "r")
    assert json.loads(js.read_text())["project"] == "p" and "<svg" in page.read_text()


def test_empty_project_and_unknown_project(store: Store) -> None:
    make_project(store, "empty", SCHEMA)
    r = run_qc(store, "empty")
    assert (r.items_checked, r.findings_new, r.findings_open) == (0, 0, 0)
    rep = qc_report(store, "empty")
    assert rep["summary"]["reason"] == "the project has no items" and rep["annotators"] == {}
    assert rep["agreement"]["topic"] == {"kind": "classification", "reason": "no labels"}
    with pytest.raises(NotFound):
        run_qc(store, "ghost")
    with pytest.raises(NotFound):
        qc_report(store, "ghost")


def test_gold_from_annotator(store: Store, project: list[Item]) -> None:
    annotate(store, [(project[0].id, [topic("a")], "expert"), (project[1].id, [topic("b")], "ann")])
    assert gold_from_annotator(store, "p", "expert", "user:lead") == 1
    with store.read() as tx:
        assert QualityRepo(tx.conn).gold(tx.projects.get("p").id) == {project[0].id: [topic("a")]}


# ---------------------------------------------------------------------- CLI
def test_cli_qc_json_report_dir_config_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    store = Store.open(None, data)
    try:
        make_project(store, "p", SCHEMA)
        items = add_texts(store, ["Acme Corp hires"])
        annotate(store, [(items[0].id, [topic("a"), span(0, 6)], "ann")])
    finally:
        store.close()
    cfg = tmp_path / "qc.yaml"
    cfg.write_text("qc:\n  rules:\n    - rule: span_tokens\n      severity: error\n")
    code = main(
        ["--data-dir", str(data), "qc", "p", "--json", "--report-dir", str(tmp_path / "rep"), "--config", str(cfg)]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    payload = json.loads(out)
    assert payload["run"]["findings_new"] == 1 and payload["report"]["findings"][0]["severity"] == "error"
    assert Path(payload["paths"]["html"]).is_file() and Path(payload["paths"]["json"]).parent == tmp_path / "rep"
    code = main(["--data-dir", str(data), "qc", "p"])
    out, err = capsys.readouterr()
    assert code == 0 and "incremental run" in out and "report:" in out
    assert (data / "reports" / "qc-p.html").is_file()
    cfg.write_text("qc:\n  rules:\n    - rule: nope\n")
    code = main(["--data-dir", str(data), "qc", "p", "--config", str(cfg)])
    _, err = capsys.readouterr()
    assert code != 0 and err.startswith("error[LL-SCHEMA]") and "unknown rule 'nope'" in err and "Traceback" not in err
    code = main(["--data-dir", str(data), "qc", "ghost"])
    _, err = capsys.readouterr()
    assert code != 0 and err.startswith("error[LL-NOTFOUND]")


def test_unknown_classes_and_malformed_stored_values_do_not_crash(store: Store, project: list[Item]) -> None:
    """Rows written around validation (an old import, a bug elsewhere) become findings, not crashes."""
    ids = [it.id for it in project]
    annotate(store, [(ids[0], [topic("martian")], "x"), (ids[0], [topic("a")], "y"), (ids[1], [{"id": 3}], "x")])
    annotate(store, [(ids[2], [topic("a"), span(5, 2)], "x")])
    r = run_qc(store, "p")
    by_item = {(f["item_id"], f["rule_id"]) for f in list_findings(store, "p")}
    assert {(ids[0], "schema_valid"), (ids[1], "schema_valid"), (ids[2], "schema_valid")} <= by_item
    assert r.findings_open == len(by_item)
    rep = qc_report(store, "p")
    # the unknown class is left out of the vote table: no item keeps two votes
    assert rep["agreement"]["topic"]["percent"] == {
        "value": None,
        "reason": "no item has two or more votes",
        "n_items": 0,
    }
    assert set(annotator_scores(store, "p")) == {"x", "y"}


def test_a_failing_run_is_marked_failed_and_the_next_run_checks_again(
    store: Store, project: list[Item], monkeypatch: pytest.MonkeyPatch
) -> None:
    import labelloop.services.qc as qc

    annotate(store, [(it.id, [topic("a"), span(0, 6)], "ann") for it in project])
    calls = {"n": 0}
    real = qc.RuleEngine.check

    def flaky(self: Any, item_id: int, *a: Any, **kw: Any) -> Any:
        calls["n"] += 1
        if item_id == project[2].id:
            raise RuntimeError("disk on fire")
        return real(self, item_id, *a, **kw)

    monkeypatch.setattr(qc.RuleEngine, "check", flaky)
    with pytest.raises(RuntimeError, match="disk on fire"):
        run_qc(store, "p", batch=2)
    with store.read() as tx:
        [run] = QualityRepo(tx.conn).runs(tx.projects.get("p").id)
    assert (run.status, run.message) == ("failed", "RuntimeError: disk on fire")
    assert len(list_findings(store, "p")) == 1  # the first page was committed, the failing one was not
    monkeypatch.setattr(qc.RuleEngine, "check", real)
    r = run_qc(store, "p")
    assert (r.mode, r.items_checked, r.findings_new, r.findings_open) == ("full", 4, 2, 3)


def test_gold_items_are_mixed_into_queues_at_the_configured_rate(store: Store, project: list[Item]) -> None:
    more = add_texts(store, [f"q {i}" for i in range(16)])[4:]
    queue = [it.id for it in more]
    with pytest.raises(InputRejected, match="gold items"):
        queue_with_gold(store, "p", queue)
    for it in project:
        set_gold(store, "p", it.id, [topic("a")], "user:lead")
    set_qc_config(store, "p", {"qc": {"gold_rate": 0.2}}, "user:lead")
    mixed = queue_with_gold(store, "p", queue, seed=3)
    assert [x for x in mixed if x in queue] == queue and len(mixed) == 20  # 16 + 4 gold = 20% gold
    assert set(mixed) - set(queue) <= {it.id for it in project}
