"""QC report and annotator scores of a project: one streaming pass over items and labels.

:func:`qc_report` gathers the open findings (error distribution by label type × annotator ×
source × data slice, with rates), annotator scores against gold and consensus (with speed,
drift, and the accuracy per label type from gold and reviews that task assignment uses),
agreement per control (Krippendorff's α, Fleiss' κ, percent agreement for classifications;
mean matched F1 between annotator pairs for region controls), confusion matrices for
classifications, and any extra sections other modules plug in (a bias audit).
:func:`write_report` writes it as JSON and as a self-contained HTML page.

Example:
    >>> import tempfile, pathlib
    >>> from labelloop.core import LabelSchema
    >>> from labelloop.storage import Store
    >>> store = Store.open(None, pathlib.Path(tempfile.mkdtemp()))
    >>> s = LabelSchema.model_validate({"media": [{"name": "t", "kind": "text"}]})
    >>> with store.transaction() as tx:
    ...     _ = tx.projects.create("empty", s, "me")
    >>> r = qc_report(store, "empty")
    >>> r["summary"]["items"], r["summary"]["reason"]
    (0, 'the project has no items')
    >>> store.close()
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

from labelloop.core import LabelSchema
from labelloop.core.findings import LabelSource, label_source_of_backend
from labelloop.core.schema import ControlKind
from labelloop.quality.aggregation import MajorityVote
from labelloop.quality.agreement import fleiss_kappa, krippendorff_alpha, percent_agreement
from labelloop.quality.annotators import Labelled, score_annotators, value_score
from labelloop.quality.bias import BiasRecord, bias_audit
from labelloop.quality.error_analytics import Cell, error_distribution
from labelloop.quality.report_html import render_html
from labelloop.quality.rules import parse_qc_config
from labelloop.quality.votes import AgreementResult, VoteTable
from labelloop.services.qc import latest_labels, list_findings
from labelloop.services.tasks import label_skills
from labelloop.storage import Store
from labelloop.storage.quality_repo import QualityRepo

__all__ = ["annotator_scores", "qc_demo", "qc_report", "write_report"]


class _ToDict(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


@dataclass(slots=True)
class _Gathered:
    items: int = 0
    records: list[Labelled] = field(default_factory=list)
    checked: Counter[Cell] = field(default_factory=Counter)
    slices: dict[int, str] = field(default_factory=dict)
    model_class: dict[tuple[str, int], str] = field(default_factory=dict)


def _first_class(value: Any, control: str) -> str | None:
    for r in value if isinstance(value, list) else []:
        if isinstance(r, dict) and r.get("control") == control:
            labs = r.get("labels")
            if isinstance(labs, list) and len(labs) == 1:
                return str(labs[0])
    return None


def _gather(store: Store, project_id: int, schema: LabelSchema, slice_by: str, batch: int = 1000) -> _Gathered:
    g = _Gathered()
    classifications = [c.name for c in schema.controls if c.kind == ControlKind.CLASSIFICATION]
    after = 0
    while True:
        with store.read() as tx:
            page = tx.items.page(project_id, after_id=after, limit=batch)
            if not page:
                return g
            sugs, anns, _ = tx.labels.for_item_range(project_id, page[0].id, page[-1].id)
        after = page[-1].id
        by_ann, by_sug = latest_labels(anns, sugs)
        for item in page:
            g.items += 1
            sl = item.meta.get(slice_by)
            g.slices[item.id] = str(sl) if sl is not None else "(all)"
            for a in by_ann[item.id].values():
                g.records.append(Labelled(item.id, a.annotator, a.value, a.created_at, a.lead_time_s))
                for ctl in {r.get("control") for r in a.value if isinstance(r, dict)}:
                    g.checked[(str(ctl), a.annotator, LabelSource.HUMAN.value, g.slices[item.id])] += 1
            best: dict[str, tuple[float, str]] = {}
            for s in by_sug[item.id].values():
                src = label_source_of_backend(s.backend).value
                for ctl in {r.get("control") for r in s.value if isinstance(r, dict)}:
                    g.checked[(str(ctl), s.backend, src, g.slices[item.id])] += 1
                for name in classifications:
                    lab = _first_class(s.value, name)
                    sc = s.score if s.score is not None else 0.0
                    if lab is not None and (name not in best or sc > best[name][0]):
                        best[name] = (sc, lab)
            for name, (_, lab) in best.items():
                g.model_class[(name, item.id)] = lab


def _agreement_dict(r: AgreementResult) -> dict[str, Any]:
    return {"value": None if math.isnan(r.value) else round(r.value, 6), "reason": r.reason, "n_items": r.n_items}


def _agreement(schema: LabelSchema, records: list[Labelled]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    by_item: dict[int, list[Labelled]] = defaultdict(list)
    for rec in records:
        by_item[rec.item_id].append(rec)
    for ctl in schema.controls:
        if ctl.kind == ControlKind.CLASSIFICATION and not ctl.multi:
            rows = [(r.item_id, r.annotator, lab) for r in records if (lab := _first_class(r.value, ctl.name))]
            rows = [x for x in rows if x[2] in ctl.labels]
            if not rows:
                out[ctl.name] = {"kind": ctl.kind.value, "reason": "no labels"}
                continue
            t = VoteTable.from_records(rows, categories=ctl.labels)
            out[ctl.name] = {
                "kind": ctl.kind.value,
                "annotators": t.n_annotators,
                "krippendorff_alpha": _agreement_dict(krippendorff_alpha(t)),
                "fleiss_kappa": _agreement_dict(fleiss_kappa(t)),
                "percent": _agreement_dict(percent_agreement(t)),
            }
            continue
        scores: list[float] = []
        pairs: dict[str, list[float]] = defaultdict(list)
        for recs in by_item.values():
            for a, b in itertools.combinations(sorted(recs, key=lambda r: r.annotator), 2):
                if any(isinstance(r, dict) and r.get("control") == ctl.name for r in [*a.value, *b.value]):
                    v = (value_score(ctl, a.value, b.value) + value_score(ctl, b.value, a.value)) / 2
                    scores.append(v)
                    pairs[f"{a.annotator} / {b.annotator}"].append(v)
        out[ctl.name] = {
            "kind": ctl.kind.value,
            "mean_pair_f1": round(sum(scores) / len(scores), 6) if scores else None,
            "reason": None if scores else "no item was labelled by two annotators",
            "pairs": {k: round(sum(v) / len(v), 6) for k, v in sorted(pairs.items())},
        }
    return out


def _confusion(schema: LabelSchema, g: _Gathered, gold: Mapping[int, list[dict[str, Any]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for ctl in schema.controls:
        if ctl.kind != ControlKind.CLASSIFICATION or ctl.multi:
            continue
        human = [(r.item_id, lab) for r in g.records if (lab := _first_class(r.value, ctl.name)) in ctl.labels]
        ref: dict[int, str] = {}
        kind = "gold"
        for item_id, value in gold.items():
            if (lab := _first_class(value, ctl.name)) is not None:
                ref[item_id] = lab
        if not ref:
            rows = [(r.item_id, r.annotator, lab) for r in g.records if (lab := _first_class(r.value, ctl.name))]
            rows = [x for x in rows if x[2] in ctl.labels]
            t = VoteTable.from_records(rows, categories=ctl.labels) if rows else None
            if t is not None and t.n_annotators >= 2 and (t.votes_per_item() >= 2).any():
                kind = "consensus"
                pred = t.decode(MajorityVote().fit_predict(t))
                ref = {int(i): str(lab) for i, lab in zip(t.item_names, pred, strict=True)}  # type: ignore[call-overload]
            else:
                kind = "model"
                ref = {i: lab for (c, i), lab in g.model_class.items() if c == ctl.name}
        idx = {lab: i for i, lab in enumerate(ctl.labels)}
        m = [[0] * len(ctl.labels) for _ in ctl.labels]
        n = 0
        for item_id, lab in human:
            r = ref.get(item_id)
            if r in idx and lab in idx:
                m[idx[r]][idx[lab]] += 1
                n += 1
        out[ctl.name] = {
            "reference": kind,
            "labels": list(ctl.labels),
            "matrix": m,
            "n": n,
            "accuracy": round(sum(m[i][i] for i in range(len(m))) / n, 6) if n else None,
            "reason": None if n else f"no human label has a {kind} reference",
        }
    return out


def _bias(schema: LabelSchema, g: _Gathered, gold: Mapping[int, list[dict[str, Any]]], slice_by: str) -> dict[str, Any]:
    """Bias audit of each single-label classification control.

    Labels across the ``slice_by`` slices, each annotator against the rest, and error rates
    (against gold) per slice; see :func:`labelloop.quality.bias.bias_audit`.
    """
    out: dict[str, Any] = {}
    for ctl in schema.controls:
        if ctl.kind != ControlKind.CLASSIFICATION or ctl.multi:
            continue
        records = []
        for r in g.records:
            lab = _first_class(r.value, ctl.name)
            if lab is None:
                continue
            truth = _first_class(gold[r.item_id], ctl.name) if r.item_id in gold else None
            records.append(
                BiasRecord(
                    r.item_id,
                    lab,
                    {slice_by: g.slices.get(r.item_id, "(all)")},
                    r.annotator,
                    None if truth is None else lab == truth,
                )
            )
        if records:
            out[ctl.name] = bias_audit(records, [slice_by]).to_dict()
        else:
            out[ctl.name] = {"reason": "no submitted label of this control yet"}
    return out


def _section(v: Mapping[str, Any] | _ToDict) -> dict[str, Any]:
    return dict(v) if isinstance(v, Mapping) else v.to_dict()


def qc_report(
    store: Store,
    project: str | int,
    *,
    extra_sections: Mapping[str, Mapping[str, Any] | _ToDict] | None = None,
    top_findings: int = 200,
) -> dict[str, Any]:
    """Build the QC report of a project as a JSON-ready dict.

    Args:
        store: The store.
        project: Project name or id.
        extra_sections: Name → a dict or an object with ``to_dict()`` (a bias audit's
            ``BiasReport``), added under ``sections``.
        top_findings: How many open findings to list (most severe first).

    Raises:
        NotFound: no such project.
    """
    with store.read() as tx:
        p = tx.projects.get(project)
        repo = QualityRepo(tx.conn)
        cfg = parse_qc_config(repo.config(p.id), source=f"project {p.name!r} qc config")
        last = repo.last_run(p.id)
        gold = repo.gold(p.id)
        tasks = repo.task_counts(p.id)
    g = _gather(store, p.id, p.schema, cfg.slice_by)
    findings = list_findings(store, p.id, status="open")
    dist = error_distribution(findings, slices=g.slices, labels=g.checked)
    scores = score_annotators(p.schema, g.records, gold, window=cfg.drift_window)
    order = {"error": 0, "warning": 1, "info": 2}
    listed = sorted(findings, key=lambda f: (order.get(f["severity"], 3), f["item_id"], f["id"]))[:top_findings]
    reason = None
    if g.items == 0:
        reason = "the project has no items"
    elif not g.records:
        reason = "no submitted annotations yet"
    return {
        "project": p.name,
        "generated_at": datetime.now(UTC).isoformat(),
        "last_run": last.to_dict() if last is not None else None,
        "summary": {
            "items": g.items,
            "annotations": len(g.records),
            "annotators": len(scores),
            "gold_items": len(gold),
            "open_findings": tasks["open"],
            "resolved_findings": tasks["resolved"],
            "reason": reason,
        },
        "error_distribution": dist.to_dict(),
        "annotators": _with_label_skills(store, p.id, scores),
        "agreement": _agreement(p.schema, g.records),
        "confusion": _confusion(p.schema, g, gold),
        "findings": listed,
        "sections": {
            "bias": _bias(p.schema, g, gold, cfg.slice_by),
            **{k: _section(v) for k, v in (extra_sections or {}).items()},
        },
    }


def write_report(report: Mapping[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``qc-<project>.json`` and ``qc-<project>.html`` under ``out_dir``; return both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = "qc-" + (re.sub(r"[^A-Za-z0-9_.-]+", "_", str(report.get("project", "project"))) or "project")
    js, page = out_dir / f"{stem}.json", out_dir / f"{stem}.html"
    tmp_js, tmp_page = js.with_suffix(".json.tmp"), page.with_suffix(".html.tmp")
    tmp_js.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    tmp_page.write_text(render_html(report), encoding="utf-8")
    tmp_js.replace(js)
    tmp_page.replace(page)
    return js, page


def annotator_scores(store: Store, project: str | int) -> dict[str, dict[str, Any]]:
    """Annotator → scores (accuracy per label type vs gold and consensus, speed, drift) for task assignment.

    Example:
        >>> import tempfile, pathlib
        >>> from labelloop.core import LabelSchema
        >>> store = Store.open(None, pathlib.Path(tempfile.mkdtemp()))
        >>> schema = LabelSchema.model_validate({"media": [{"name": "t", "kind": "text"}]})
        >>> with store.transaction() as tx:
        ...     _ = tx.projects.create("p", schema, "me")
        >>> annotator_scores(store, "p")
        {}
        >>> store.close()
    """
    with store.read() as tx:
        p = tx.projects.get(project)
        repo = QualityRepo(tx.conn)
        cfg = parse_qc_config(repo.config(p.id), source=f"project {p.name!r} qc config")
        gold = repo.gold(p.id)
    g = _gather(store, p.id, p.schema, cfg.slice_by)
    return _with_label_skills(store, p.id, score_annotators(p.schema, g.records, gold, window=cfg.drift_window))


def _with_label_skills(store: Store, project_id: int, scores: Mapping[str, _ToDict]) -> dict[str, dict[str, Any]]:
    """Each annotator's scores plus ``skill_by_label`` (:func:`labelloop.services.tasks.label_skills`).

    That is the accuracy per label type from gold and reviews that task assignment uses.
    """
    learned = label_skills(store, project_id)
    return {k: {**v.to_dict(), "skill_by_label": learned.get(k, {})} for k, v in scores.items()}


def qc_demo(store: Store, projects: list[str], out_dir: Path, step: Callable[[str, str], None]) -> list[Path]:
    """The demo's QC step: bundled reference labels become gold, QC runs, a report is written per project."""
    from labelloop.core import Actor
    from labelloop.services.qc import gold_from_annotator, run_qc
    from labelloop.services.samples._common import GOLD_ANNOTATOR

    pages = []
    for name in projects:
        gold = gold_from_annotator(store, name, GOLD_ANNOTATOR, Actor.system("demo"))
        r = run_qc(store, name)
        _, page = write_report(qc_report(store, name), out_dir)
        pages.append(page)
        step(
            "qc",
            f"{name}: {r.items_checked} items checked ({gold} gold), {r.findings_new} new findings, "
            f"{r.findings_open} open → {page}",
        )
    return pages
