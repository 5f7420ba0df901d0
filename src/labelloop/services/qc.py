"""QC use case: run rules, model checks, gold checks and confident learning; keep correction tasks.

:func:`run_qc` streams over a project's items in keyset pages. The first run (or ``full=True``)
checks every item; later runs check only items whose item row, suggestions, annotations,
reviews or gold label were written since the previous finished run started. Each page is
committed on its own: a finding seen before keeps its open correction task, a new one opens a
task, and an open task whose finding is no longer raised is resolved as ``gone``. A finding whose
task a person resolved as ``fixed`` or ``dismissed`` does not open a task again
(:mod:`labelloop.services.corrections` is where people work through them). Confident
learning runs over the whole project at the end of every run (it needs every label).

What is checked per item:

* every annotator's newest submitted annotation (unless another version replaced it: a review
  or a correction task fixed it) and every backend's newest suggestion, through the rule engine
  (label source human / model / LLM / rule);
* each human annotation against each confident suggestion (model checks);
* each human annotation against the item's gold value, per control (detector ``gold``);
* text against image through a :class:`~labelloop.quality.model_checks.TextImageEncoder`:
  the one given, or, when the ``qc`` config sets ``model_checks.text_image.enabled``, the
  ``multimodal.similarity`` encoder (:mod:`labelloop.services.qc_text_image`: the image's OCR
  text against each caption and text field offline, or a CLIP export); a text whose
  probability of describing its image is below ``text_image.threshold`` (0.5) is a finding.

Example:
    >>> import tempfile, pathlib
    >>> from labelloop.core import LabelSchema, NewAnnotation, NewItem, MediaRef
    >>> from labelloop.storage import Store
    >>> store = Store.open(None, pathlib.Path(tempfile.mkdtemp()))
    >>> s = LabelSchema.model_validate({"media": [{"name": "text", "kind": "text"}], "controls": [
    ...     {"name": "ents", "kind": "spans", "target": "text", "labels": ["ORG"]}]})
    >>> ref = MediaRef.from_text("Acme Corp hires")
    >>> with store.transaction() as tx:
    ...     p = tx.projects.create("p", s, "me")
    ...     [iid] = tx.items.add_many(p.id, [NewItem({"text": ref}, ref.sha256)], created_by="me")
    ...     _ = tx.labels.add_annotations(p.id, [NewAnnotation(iid, [
    ...         {"id": "a", "control": "ents", "label": "ORG", "start": 0, "end": 6}], "ann")])
    >>> r = run_qc(store, "p")
    >>> r.mode, r.findings_new, list_findings(store, "p")[0]["fix"]["value"]
    ('full', 1, [0, 9, 'Acme Corp'])
    >>> store.close()
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from labelloop.core import Actor, Annotation, AnnotationStatus, Item, LabelSchema, Suggestion
from labelloop.core.findings import Detector, Finding, LabelSource, Severity, label_source_of_backend
from labelloop.core.schema import ControlKind
from labelloop.errors import BackendUnavailable, InputRejected, InvalidAnnotation
from labelloop.quality.annotators import mix_gold, value_score
from labelloop.quality.label_errors import find_label_issues
from labelloop.quality.model_checks import TextImageEncoder, model_checks, text_image_mismatch
from labelloop.quality.rules import QCConfig, RuleEngine, parse_qc_config
from labelloop.services.qc_text_image import encoder_for
from labelloop.storage import Store
from labelloop.storage.quality_repo import QualityRepo

__all__ = [
    "QCResult",
    "gold_from_annotator",
    "latest_labels",
    "list_findings",
    "load_qc_config",
    "queue_with_gold",
    "resolve_task",
    "run_qc",
    "set_gold",
    "set_qc_config",
]

Progress = Callable[[int, int | None], None]
Probabilities = Mapping[tuple[int, str], Mapping[str, float]]
CL_RULE = "label_error.confident_learning"


@dataclass(slots=True)
class QCResult:
    """What one QC run did."""

    run_id: int
    mode: str
    items_checked: int = 0
    findings_new: int = 0
    findings_resolved: int = 0
    findings_open: int = 0
    label_error_suspects: int = 0
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "run_id": self.run_id,
            "mode": self.mode,
            "items_checked": self.items_checked,
            "findings_new": self.findings_new,
            "findings_resolved": self.findings_resolved,
            "findings_open": self.findings_open,
            "label_error_suspects": self.label_error_suspects,
            "notes": list(self.notes),
            "elapsed_s": round(self.elapsed_s, 3),
        }


# ---------------------------------------------------------------------- config & gold
def load_qc_config(store: Store, project: str | int) -> QCConfig:
    """The project's stored ``qc`` section (the defaults when none was set)."""
    with store.read() as tx:
        p = tx.projects.get(project)
        raw = QualityRepo(tx.conn).config(p.id)
    return parse_qc_config(raw, source=f"project {p.name!r} qc config")


def set_qc_config(store: Store, project: str | int, data: Any, actor: str, *, source: str = "qc config") -> QCConfig:
    """Validate and store a project's ``qc`` section (a dict holding ``qc:`` or the section).

    Raises:
        InvalidSchema: the section is invalid, or a rule names a control the schema lacks.
    """
    with store.transaction() as tx:
        p = tx.projects.get(project)
        cfg = parse_qc_config(data, source=source)
        RuleEngine(p.schema, cfg)  # refuses unknown controls before anything is stored
        QualityRepo(tx.conn).set_config(p.id, cfg.model_dump(mode="json"), actor)
    return cfg


def set_gold(store: Store, project: str | int, item_id: int, value: list[dict[str, Any]], actor: str) -> None:
    """Store the gold value of an item after validating it against the schema and the item's media.

    Raises:
        InvalidAnnotation: the value does not validate.
        NotFound: the item is not in the project.
    """
    with store.transaction() as tx:
        p = tx.projects.get(project)
        item = tx.items.get(p.id, item_id)
        problems = p.schema.validate_value(value, item.data)
        if problems:
            raise InvalidAnnotation([f"gold for item {item_id}: {x}" for x in problems])
        QualityRepo(tx.conn).set_gold(p.id, item_id, value, actor)


def gold_from_annotator(store: Store, project: str | int, annotator: str, actor: str) -> int:
    """Make an annotator's newest submitted annotations the gold labels of their items; return how many.

    Useful when a trusted expert (or a bundled reference set) labelled a sample of the items.
    """
    n = 0
    with store.transaction() as tx:
        p = tx.projects.get(project)
        repo = QualityRepo(tx.conn)
        after = 0
        while pairs := tx.labels.latest_submitted(p.id, after_item_id=after, limit=1000):
            after = pairs[-1][0].id
            for item, _ in pairs:
                _, anns, _ = tx.labels.for_items([item.id])
                mine = [a for a in anns if a.annotator == annotator and a.status == AnnotationStatus.SUBMITTED]
                if mine:
                    repo.set_gold(p.id, item.id, mine[-1].value, actor)
                    n += 1
    return n


def queue_with_gold(store: Store, project: str | int, item_ids: Sequence[int], *, seed: int = 0) -> list[int]:
    """Mix the project's gold items into an annotation queue at the configured ``gold_rate``.

    Gold items already in the queue are not added twice. Annotators cannot tell gold items
    apart; their answers feed :func:`labelloop.services.qc_report.annotator_scores`.

    Raises:
        InputRejected: the rate needs gold items but the project has none.
    """
    with store.read() as tx:
        p = tx.projects.get(project)
        repo = QualityRepo(tx.conn)
        cfg = parse_qc_config(repo.config(p.id), source=f"project {p.name!r} qc config")
        gold = sorted(set(repo.gold(p.id)) - set(item_ids))
    return mix_gold(list(item_ids), gold, cfg.gold_rate, seed=seed)


def resolve_task(store: Store, project: str | int, task_id: int, resolution: str, actor: str) -> bool:
    """Resolve one correction task as ``fixed`` or ``dismissed``; False when it was not open."""
    if resolution not in ("fixed", "dismissed"):
        raise InputRejected("resolution", "'fixed' or 'dismissed'", repr(resolution))
    with store.transaction() as tx:
        tx.projects.get(project)
        return QualityRepo(tx.conn).resolve([task_id], resolution, actor) == 1


def list_findings(store: Store, project: str | int, *, status: str | None = "open") -> list[dict[str, Any]]:
    """All findings of a project (open ones by default) as dicts, oldest first."""
    out: list[dict[str, Any]] = []
    with store.read() as tx:
        p = tx.projects.get(project)
        repo = QualityRepo(tx.conn)
        after = 0
        while page := repo.findings(p.id, status=status, after_id=after, limit=1000):
            out.extend(r.to_dict() for r in page)
            after = page[-1].id
    return out


# ---------------------------------------------------------------------- per item
def latest_labels(
    annotations: Sequence[Annotation], suggestions: Sequence[Suggestion]
) -> tuple[dict[int, dict[str, Annotation]], dict[int, dict[str, Suggestion]]]:
    """Per item: each annotator's newest submitted annotation, each backend's newest suggestion."""
    anns: dict[int, dict[str, Annotation]] = defaultdict(dict)
    for a in annotations:
        if a.status == AnnotationStatus.SUBMITTED:
            cur = anns[a.item_id].get(a.annotator)
            if cur is None or a.id > cur.id:
                anns[a.item_id][a.annotator] = a
    sugs: dict[int, dict[str, Suggestion]] = defaultdict(dict)
    for s in suggestions:
        cur_s = sugs[s.item_id].get(s.backend)
        if cur_s is None or s.id > cur_s.id:
            sugs[s.item_id][s.backend] = s
    return anns, sugs


def _gold_findings(item: Item, schema: LabelSchema, ann: Annotation, gold: list[dict[str, Any]]) -> list[Finding]:
    out = []
    for ctl in schema.controls:
        ref = [r for r in gold if isinstance(r, dict) and r.get("control") == ctl.name]
        got = [r for r in ann.value if isinstance(r, dict) and r.get("control") == ctl.name]
        if not ref and not got:
            continue
        score = value_score(ctl, got, ref)
        if score < 1.0:
            out.append(
                Finding(
                    item.id,
                    "gold.mismatch",
                    Severity.ERROR,
                    f"{ctl.name}: {ann.annotator}'s label scores {score:.2f} against the gold label",
                    control=ctl.name,
                    fix={"action": "set", "field": "regions", "control": ctl.name, "value": ref},
                    detector=Detector.GOLD,
                    annotator=ann.annotator,
                    record_id=ann.id,
                    score=score,
                )
            )
    return out


@dataclass(slots=True)
class _Checker:
    schema: LabelSchema
    config: QCConfig
    engine: RuleEngine
    encoder: TextImageEncoder | None

    def check(
        self,
        item: Item,
        anns: Mapping[str, Annotation],
        sugs: Mapping[str, Suggestion],
        gold: list[dict[str, Any]] | None,
    ) -> list[Finding]:
        found: list[Finding] = []
        mc = self.config.model_checks
        for s in sugs.values():
            found += self.engine.check(
                item.id,
                s.value,
                item.data,
                label_source=label_source_of_backend(s.backend),
                annotator=s.backend,
                record_id=s.id,
            )
        for a in anns.values():
            found += self.engine.check(item.id, a.value, item.data, annotator=a.annotator, record_id=a.id)
            if mc.enabled:
                for s in sugs.values():
                    found += model_checks(
                        item.id,
                        self.schema,
                        a.value,
                        s.value,
                        s.score,
                        min_confidence=mc.min_confidence,
                        deviation_iou=mc.box_iou,
                        match_iou=mc.match_iou,
                        annotator=a.annotator,
                        record_id=a.id,
                        backend=s.backend,
                    )
            if gold is not None:
                found += _gold_findings(item, self.schema, a, gold)
            if self.encoder is not None:  # each annotator's text fields against the image
                found += text_image_mismatch(
                    item.id, self.schema, a.value, item.data, self.encoder, threshold=mc.text_image.threshold,
                    annotator=a.annotator, record_id=a.id, include_media=False,
                )  # fmt: skip
        if self.encoder is not None:  # the item's own texts (a caption) against its image, once per item
            found += text_image_mismatch(
                item.id, self.schema, [], item.data, self.encoder, threshold=mc.text_image.threshold
            )
        seen: set[str] = set()
        unique = []
        for f in found:
            fp = f.fingerprint()
            if fp not in seen:
                seen.add(fp)
                unique.append(f)
        return unique


# ---------------------------------------------------------------------- confident learning
@dataclass(slots=True)
class _CLRows:
    """Classification labels with model probabilities, gathered over the whole project."""

    rows: dict[str, list[tuple[int, str, Annotation, dict[str, float]]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def add(
        self,
        schema: LabelSchema,
        item: Item,
        anns: Mapping[str, Annotation],
        sugs: Mapping[str, Suggestion],
        probabilities: Probabilities | None,
    ) -> None:
        for ctl in schema.controls:
            if ctl.kind != ControlKind.CLASSIFICATION or ctl.multi:
                continue
            probs = dict(probabilities.get((item.id, ctl.name), {})) if probabilities else {}
            if not probs:
                probs = _probs_from_suggestions(ctl.name, ctl.labels, sugs.values())
            if not probs:
                continue
            for a in anns.values():
                labs = next((r.get("labels") for r in a.value if r.get("control") == ctl.name), None)
                if isinstance(labs, list) and len(labs) == 1 and labs[0] in ctl.labels:
                    self.rows[ctl.name].append((item.id, str(labs[0]), a, probs))


def _probs_from_suggestions(control: str, labels: Sequence[str], sugs: Iterator[Suggestion] | Any) -> dict[str, float]:
    """A probability vector from the most confident suggestion: its score on its class, the rest spread evenly."""
    best: tuple[float, str] | None = None
    for s in sugs:
        if s.score is None or label_source_of_backend(s.backend) == LabelSource.RULE:
            continue
        for r in s.value:
            labs = r.get("labels") if r.get("control") == control else None
            if isinstance(labs, list) and len(labs) == 1 and labs[0] in labels and (best is None or s.score > best[0]):
                best = (float(s.score), str(labs[0]))
    if best is None or len(labels) < 2:
        return {}
    p, lab = min(max(best[0], 0.0), 1.0), best[1]
    rest = (1.0 - p) / (len(labels) - 1)
    return {x: (p if x == lab else rest) for x in labels}


def _label_error_findings(schema: LabelSchema, cl: _CLRows, cfg: QCConfig, notes: list[str]) -> list[Finding]:
    out: list[Finding] = []
    settings = cfg.label_errors
    for name, rows in cl.rows.items():
        labels = schema.control(name).labels
        if len(rows) < settings.min_items:
            notes.append(
                f"confident learning skipped for {name!r}: {len(rows)} labels with probabilities, "
                f"need {settings.min_items}"
            )
            continue
        index = {lab: i for i, lab in enumerate(labels)}
        given = np.array([index[g] for _, g, _, _ in rows])
        p = np.array([[pr.get(lab, 0.0) for lab in labels] for _, _, _, pr in rows], dtype=np.float64)
        p = p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12)
        present = np.flatnonzero(np.bincount(given, minlength=len(labels)))
        if present.size < 2:
            notes.append(f"confident learning skipped for {name!r}: every label is {labels[int(present[0])]!r}")
            continue
        issues = find_label_issues(given, p)
        for idx in issues.ranked[: settings.max_findings].tolist():
            item_id, lab, ann, _ = rows[idx]
            pred = labels[int(p[idx].argmax())]
            out.append(
                Finding(
                    item_id,
                    CL_RULE,
                    Severity.WARNING,
                    f"{name}: {ann.annotator} chose {lab!r} but the model believes {pred!r} "
                    f"(label quality {issues.scores[idx]:.2f})",
                    control=name,
                    label=lab,
                    fix={"action": "set", "field": "labels", "value": [pred]},
                    detector=Detector.LABEL_ERROR,
                    annotator=ann.annotator,
                    record_id=ann.id,
                    score=float(issues.scores[idx]),
                )
            )
    return out


# ---------------------------------------------------------------------- the run
def _store_page(
    store: Store,
    project_id: int,
    run_id: int,
    item_ids: Sequence[int] | None,
    found: Sequence[Finding],
    actor: str,
    *,
    only: str | None = None,
) -> tuple[int, int]:
    """Diff a page's findings against the open tasks of its items; return (new, resolved)."""
    with store.transaction() as tx:
        repo = QualityRepo(tx.conn)
        open_ = repo.open_for_items(project_id, item_ids)
        if only is None:
            open_ = {k: v for k, v in open_.items() if v[1] != Detector.LABEL_ERROR.value}
        else:
            open_ = {k: v for k, v in open_.items() if v[1] == only}
        prints = [(f, f.fingerprint()) for f in found]
        settled = repo.settled(project_id, (fp for _, fp in prints if fp not in open_))
        fresh = [f for f, fp in prints if fp not in open_ and fp not in settled]
        current = {fp for _, fp in prints}
        gone = [task for fp, (task, _) in open_.items() if fp not in current]
        repo.add_findings(project_id, run_id, fresh)
        resolved = repo.resolve(gone, "gone", actor)
    return len(fresh), resolved


def _pages(store: Store, project_id: int, since: Any, batch: int) -> Iterator[list[Item]]:
    after = 0
    while True:
        with store.read() as tx:
            if since is None:
                page = tx.items.page(project_id, after_id=after, limit=batch)
            else:
                repo = QualityRepo(tx.conn)
                page = repo.items(project_id, repo.changed_item_ids(project_id, since, after_id=after, limit=batch))
        if not page:
            return
        yield page
        after = page[-1].id


def run_qc(
    store: Store,
    project: str | int,
    *,
    full: bool = False,
    config: QCConfig | None = None,
    encoder: TextImageEncoder | None = None,
    probabilities: Probabilities | None = None,
    size_priors: Mapping[str, tuple[float, float, float]] | None = None,
    batch: int = 500,
    actor: str | None = None,
    on_progress: Progress | None = None,
) -> QCResult:
    """Run QC on a project and keep its correction tasks in step with what is found.

    Args:
        store: The store.
        project: Project name or id.
        full: Check every item even when an earlier run exists.
        config: The ``qc`` section; by default the project's stored one (or the defaults).
        encoder: A text–image encoder for the mismatch check; None builds the configured one
            (``model_checks.text_image``; off by default).
        probabilities: ``(item_id, control) → {label: p}`` out-of-sample probabilities for
            confident learning; without them the newest scored suggestion gives the vector.
        size_priors: Class → (l, w, h) metres for ``cuboid_size`` (default: the priors of the
            ``pointcloud.cuboids`` backend).
        batch: Items per keyset page (memory bound and transaction size).
        actor: Who runs it (``system:qc`` by default).
        on_progress: ``(items done, total or None)`` callback.

    Returns:
        A :class:`QCResult`.

    Raises:
        NotFound: no such project.
        InvalidSchema: the config is invalid for the project's schema.
    """
    t0 = time.perf_counter()
    actor = actor or Actor.system("qc")
    if batch < 1:
        raise InputRejected("batch", "a positive page size", str(batch))
    with store.read() as tx:
        p = tx.projects.get(project)
        repo = QualityRepo(tx.conn)
        cfg = config or parse_qc_config(repo.config(p.id), source=f"project {p.name!r} qc config")
        last = repo.last_run(p.id)
        gold = repo.gold(p.id)
    if size_priors is None:
        from labelloop.backends.pointcloud_cuboids import CuboidConfig

        size_priors = CuboidConfig().priors
    notes: list[str] = []
    if encoder is None:
        try:
            encoder = encoder_for(store, p.schema, cfg)
        except BackendUnavailable as exc:
            notes.append(f"text-image check skipped: {exc}")
    checker = _Checker(p.schema, cfg, RuleEngine(p.schema, cfg, size_priors=size_priors), encoder)
    cfg_json = cfg.model_dump(mode="json")
    changed_config = last is not None and last.config != cfg_json
    since = None if full or last is None or changed_config else last.created_at
    mode = "full" if since is None else "incremental"
    with store.transaction() as tx:
        run_id = QualityRepo(tx.conn).start_run(p.id, mode, since, cfg_json, actor)
    res = QCResult(run_id, mode, notes=notes)
    if changed_config and not full:
        res.notes.append("the qc config changed since the last run: every item was checked")
    try:
        _execute(
            store, p.id, p.schema, run_id, since, checker, cfg, gold, probabilities, batch, actor, on_progress, res
        )
    except BaseException as exc:
        with store.transaction() as tx:
            QualityRepo(tx.conn).fail_run(run_id, f"{type(exc).__name__}: {exc}")
        raise
    res.elapsed_s = time.perf_counter() - t0
    return res


def _execute(
    store: Store,
    project_id: int,
    schema: LabelSchema,
    run_id: int,
    since: datetime | None,
    checker: _Checker,
    cfg: QCConfig,
    gold: Mapping[int, list[dict[str, Any]]],
    probabilities: Probabilities | None,
    batch: int,
    actor: str,
    on_progress: Progress | None,
    res: QCResult,
) -> None:
    for page in _pages(store, project_id, since, batch):
        with store.read() as tx:
            sugs, anns, _ = tx.labels.for_items([i.id for i in page])
        by_ann, by_sug = latest_labels(anns, sugs)
        replaced = {a.parent_id for a in anns if a.parent_id is not None}
        for per_item in by_ann.values():  # a version another one replaced is no current label
            for name in [n for n, a in per_item.items() if a.id in replaced]:
                del per_item[name]
        found = [f for item in page for f in checker.check(item, by_ann[item.id], by_sug[item.id], gold.get(item.id))]
        new, resolved = _store_page(store, project_id, run_id, [i.id for i in page], found, actor)
        res.items_checked += len(page)
        res.findings_new += new
        res.findings_resolved += resolved
        if on_progress is not None:
            on_progress(res.items_checked, None)
    if cfg.label_errors.enabled:
        cl = _CLRows()
        for page in _pages(store, project_id, None, batch):
            with store.read() as tx:
                sugs, anns, _ = tx.labels.for_item_range(project_id, page[0].id, page[-1].id)
            by_ann, by_sug = latest_labels(anns, sugs)
            for item in page:
                cl.add(schema, item, by_ann[item.id], by_sug[item.id], probabilities)
        suspects = _label_error_findings(schema, cl, cfg, res.notes)
        res.label_error_suspects = len(suspects)
        new, resolved = _store_page(store, project_id, run_id, None, suspects, actor, only=Detector.LABEL_ERROR.value)
        res.findings_new += new
        res.findings_resolved += resolved
    with store.transaction() as tx:
        repo = QualityRepo(tx.conn)
        repo.finish_run(
            run_id,
            items=res.items_checked,
            new=res.findings_new,
            resolved=res.findings_resolved,
            message="; ".join(res.notes),
        )
        res.findings_open = repo.task_counts(project_id)["open"]
