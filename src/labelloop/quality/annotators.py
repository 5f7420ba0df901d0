"""Annotator scoring: accuracy per label type against gold and against consensus, speed, drift.

Pure functions over :class:`Labelled` records (one annotator's value for one item). A value is
scored per control (label type) against a reference value with :func:`value_score`:

* classification — 1 when the label sets are equal, else 0;
* boxes, cuboids, segments — matched F1 at IoU ≥ 0.5 with equal labels (Hungarian matching);
* spans — exact span F1 (CoNLL);
* text fields — 1 when the trimmed texts are equal;
* other kinds — F1 of the label multisets.

*Against gold* uses gold (honeypot) values. *Against consensus* uses, for classification, the
Dawid–Skene label of the other annotators' votes (majority vote with fewer than three
annotators), and for region kinds the mean score against each other annotator (leave-one-out
agreement). Undefined scores are NaN with a reason, never a crash.

Drift is accuracy against gold in consecutive windows of ``window`` gold items, oldest first;
``drift`` is the last window minus the first.

Example:
    >>> from datetime import UTC, datetime
    >>> from labelloop.core import LabelSchema
    >>> s = LabelSchema.model_validate({"media": [{"name": "t", "kind": "text"}],
    ...     "controls": [{"name": "c", "kind": "classification", "target": "t", "labels": ["a", "b"]}]})
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> recs = [Labelled(i, "ann", [{"id": "x", "control": "c", "labels": ["a"]}], t0, 3.0) for i in range(4)]
    >>> gold = {0: [{"id": "g", "control": "c", "labels": ["a"]}], 1: [{"id": "g", "control": "c", "labels": ["b"]}]}
    >>> r = score_annotators(s, recs, gold)["ann"]
    >>> r.gold_accuracy["c"], r.gold_items, r.median_lead_time_s
    (0.5, 2, 3.0)
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from labelloop.core.schema import Control, ControlKind, LabelSchema
from labelloop.errors import InputRejected
from labelloop.quality.aggregation import DawidSkene, MajorityVote
from labelloop.quality.geometry_agreement import match_by_iou, span_f1
from labelloop.quality.model_checks import region_coords, region_iou
from labelloop.quality.votes import VoteTable

__all__ = ["AnnotatorScore", "Labelled", "mix_gold", "score_annotators", "value_score"]

Value = list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Labelled:
    """One annotator's (newest submitted) value for one item."""

    item_id: int
    annotator: str
    value: Value
    created_at: datetime
    lead_time_s: float | None = None


@dataclass(slots=True)
class AnnotatorScore:
    """Scores of one annotator.

    Attributes:
        annotator: The name.
        items: Items labelled.
        gold_items: Items with a gold value.
        gold_accuracy: Control → mean score against gold (NaN without gold items for it).
        consensus_accuracy: Control → mean score against the other annotators' consensus.
        overall_gold: Mean over all gold-scored (item, control) pairs; NaN without any.
        overall_consensus: The same against consensus.
        median_lead_time_s: Median seconds per item (NaN when no lead times were recorded).
        items_per_hour: ``3600 / median_lead_time_s``.
        drift: Accuracy per window of gold items, oldest first: ``(window end, accuracy)``.
        drift_delta: Last window minus first (NaN with fewer than two windows).
        reasons: Why a score is NaN.
    """

    annotator: str
    items: int = 0
    gold_items: int = 0
    gold_accuracy: dict[str, float] = field(default_factory=dict)
    consensus_accuracy: dict[str, float] = field(default_factory=dict)
    overall_gold: float = math.nan
    overall_consensus: float = math.nan
    median_lead_time_s: float = math.nan
    items_per_hour: float = math.nan
    drift: list[tuple[str, float]] = field(default_factory=list)
    drift_delta: float = math.nan
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN becomes None)."""

        def clean(x: float) -> float | None:
            return None if math.isnan(x) else round(x, 6)

        return {
            "annotator": self.annotator,
            "items": self.items,
            "gold_items": self.gold_items,
            "gold_accuracy": {k: clean(v) for k, v in self.gold_accuracy.items()},
            "consensus_accuracy": {k: clean(v) for k, v in self.consensus_accuracy.items()},
            "overall_gold": clean(self.overall_gold),
            "overall_consensus": clean(self.overall_consensus),
            "median_lead_time_s": clean(self.median_lead_time_s),
            "items_per_hour": clean(self.items_per_hour),
            "drift": [[w, clean(a)] for w, a in self.drift],
            "drift_delta": clean(self.drift_delta),
            "reasons": list(self.reasons),
        }


def _of(value: Any, ctl: Control) -> Value:
    return [r for r in value if isinstance(r, dict) and r.get("control") == ctl.name] if isinstance(value, list) else []


def _f1(tp: int, n_a: int, n_b: int) -> float:
    d = n_a + n_b
    return 2 * tp / d if d else 1.0


def _label(r: Mapping[str, Any]) -> Any:
    return r.get("label") if "label" in r else tuple(sorted(map(str, r.get("labels") or [])))


def value_score(ctl: Control, got: Any, ref: Any) -> float:
    """Score ``got`` against ``ref`` for one control, in ``[0, 1]`` (two empty values score 1).

    Example:
        >>> from labelloop.core.schema import Control
        >>> c = Control(name="o", kind="boxes", target="image", labels=["cat"])
        >>> a = [{"id": "1", "control": "o", "label": "cat", "xyxy": [0, 0, 10, 10]}]
        >>> b = [{"id": "2", "control": "o", "label": "cat", "xyxy": [1, 0, 10, 10]}]
        >>> value_score(c, a, b), value_score(c, a, [])
        (1.0, 0.0)
    """
    g, r = _of(got, ctl), _of(ref, ctl)
    k = ctl.kind
    if k == ControlKind.CLASSIFICATION:
        return float([_label(x) for x in g] == [_label(x) for x in r])
    if k == ControlKind.TEXT_FIELD:
        return float([str(x.get("text", "")).strip() for x in g] == [str(x.get("text", "")).strip() for x in r])
    if k == ControlKind.SPANS:
        sg = [(int(x["start"]), int(x["end"]), x.get("label")) for x in g if region_coords(k, x) is not None]
        sr = [(int(x["start"]), int(x["end"]), x.get("label")) for x in r if region_coords(k, x) is not None]
        return span_f1(sg, sr).f1
    if k in (ControlKind.BOXES, ControlKind.CUBOIDS, ControlKind.SEGMENTS):
        cg = [(x, c) for x in g if (c := region_coords(k, x)) is not None]
        cr = [(x, c) for x in r if (c := region_coords(k, x)) is not None]
        if not cg or not cr:
            return 1.0 if not cg and not cr else 0.0
        iou = region_iou(k, [c for _, c in cg], [c for _, c in cr])
        allowed = [[a.get("label") == b.get("label") for b, _ in cr] for a, _ in cg]
        return match_by_iou(iou, 0.5, allowed).f1
    ca, cb = Counter(map(repr, map(_label, g))), Counter(map(repr, map(_label, r)))
    return _f1(sum((ca & cb).values()), sum(ca.values()), sum(cb.values()))


def _mean(xs: Sequence[float]) -> float:
    return float(statistics.fmean(xs)) if xs else math.nan


def _consensus_classes(schema: LabelSchema, recs: Sequence[Labelled]) -> dict[tuple[str, int, str], Any]:
    """(control, item, annotator) → the consensus class of the *other* annotators' votes."""
    out: dict[tuple[str, int, str], Any] = {}
    for ctl in schema.controls:
        if ctl.kind != ControlKind.CLASSIFICATION:
            continue
        rows = []
        for rec in recs:
            regs = _of(rec.value, ctl)
            if regs:
                rows.append((rec.item_id, rec.annotator, _label(regs[0])))
        by_item: dict[int, list[tuple[str, Any]]] = defaultdict(list)
        for item, ann, lab in rows:
            by_item[item].append((ann, lab))
        for ann in {a for _, a, _ in rows}:
            others = [(i, a, lab) for i, a, lab in rows if a != ann and any(x == ann for x, _ in by_item[i])]
            if not others:
                continue
            table = VoteTable.from_records(others, categories=sorted({lab for _, _, lab in rows}, key=repr))
            model = DawidSkene() if table.n_annotators >= 3 else MajorityVote()
            pred = table.decode(model.fit_predict(table))
            for name, lab in zip(table.item_names, pred, strict=True):
                out[(ctl.name, int(name), ann)] = lab  # type: ignore[call-overload]
    return out


def score_annotators(
    schema: LabelSchema,
    records: Iterable[Labelled],
    gold: Mapping[int, Value],
    *,
    window: int = 50,
) -> dict[str, AnnotatorScore]:
    """Score every annotator in ``records`` against ``gold`` and against each other.

    Args:
        schema: The label schema (which controls to score).
        records: One record per (item, annotator); gold annotators' own records are scored too.
        gold: Item id → gold value.
        window: Gold items per drift window.

    Returns:
        Annotator → :class:`AnnotatorScore`.
    """
    recs = list(records)
    by_item: dict[int, list[Labelled]] = defaultdict(list)
    for rec in recs:
        by_item[rec.item_id].append(rec)
    consensus = _consensus_classes(schema, recs)
    out: dict[str, AnnotatorScore] = {}
    per_ann: dict[str, list[Labelled]] = defaultdict(list)
    for rec in recs:
        per_ann[rec.annotator].append(rec)
    for ann, mine in sorted(per_ann.items()):
        sc = AnnotatorScore(ann, items=len(mine))
        gold_scores: dict[str, list[float]] = defaultdict(list)
        cons_scores: dict[str, list[float]] = defaultdict(list)
        timeline: list[tuple[datetime, float]] = []
        for rec in sorted(mine, key=lambda r: (r.created_at, r.item_id)):
            ref = gold.get(rec.item_id)
            if ref is not None:
                sc.gold_items += 1
                ctls = [c for c in schema.controls if _of(ref, c) or _of(rec.value, c)]
                item_scores = [value_score(c, rec.value, ref) for c in ctls]
                for c, v in zip(ctls, item_scores, strict=True):
                    gold_scores[c.name].append(v)
                if item_scores:
                    timeline.append((rec.created_at, _mean(item_scores)))
            peers = [p for p in by_item[rec.item_id] if p.annotator != ann]
            for c in schema.controls:
                if c.kind == ControlKind.CLASSIFICATION:
                    lab = consensus.get((c.name, rec.item_id, ann))
                    regs = _of(rec.value, c)
                    if lab is not None and regs:
                        cons_scores[c.name].append(float(_label(regs[0]) == lab))
                elif peers and any(_of(p.value, c) or _of(rec.value, c) for p in peers):
                    cons_scores[c.name].append(_mean([value_score(c, rec.value, p.value) for p in peers]))
        sc.gold_accuracy = {k: _mean(v) for k, v in gold_scores.items()}
        sc.consensus_accuracy = {k: _mean(v) for k, v in cons_scores.items()}
        sc.overall_gold = _mean([x for v in gold_scores.values() for x in v])
        sc.overall_consensus = _mean([x for v in cons_scores.values() for x in v])
        if math.isnan(sc.overall_gold):
            sc.reasons.append("no gold items labelled by this annotator")
        if math.isnan(sc.overall_consensus):
            sc.reasons.append("no other annotator labelled the same items")
        times = [r.lead_time_s for r in mine if r.lead_time_s is not None and r.lead_time_s > 0]
        if times:
            sc.median_lead_time_s = float(statistics.median(times))
            sc.items_per_hour = 3600.0 / sc.median_lead_time_s
        else:
            sc.reasons.append("no lead times recorded")
        for start in range(0, len(timeline), window):
            chunk = timeline[start : start + window]
            if len(chunk) * 2 >= window or start == 0:
                sc.drift.append((chunk[-1][0].isoformat(), _mean([s for _, s in chunk])))
        if len(sc.drift) >= 2:
            sc.drift_delta = sc.drift[-1][1] - sc.drift[0][1]
        out[ann] = sc
    return out


def mix_gold(queue: Sequence[int], gold: Sequence[int], rate: float, *, seed: int = 0) -> list[int]:
    """Mix gold (honeypot) items into an annotation queue at ``rate`` (share of the result).

    Gold items are drawn without replacement (cycling when there are too few) and placed at
    random positions; an annotator cannot tell them apart. ``rate`` 0 returns the queue.

    Raises:
        InputRejected: ``rate`` is outside ``[0, 1)``, or gold items are needed but none exist.

    Example:
        >>> q = mix_gold(list(range(10)), [100, 101], 0.2, seed=1)
        >>> len(q), sorted(set(q) - set(range(10)))
        (12, [100, 101])
    """
    import random

    if not 0.0 <= rate < 1.0 or math.isnan(rate):
        raise InputRejected("gold rate", "a share in [0, 1)", repr(rate))
    n_gold = round(len(queue) * rate / (1.0 - rate))
    if n_gold == 0:
        return list(queue)
    if not gold:
        raise InputRejected("gold items", f"at least one gold item for rate {rate:g}", "none")
    rng = random.Random(seed)
    pool: list[int] = []
    picks: list[int] = []
    for _ in range(n_gold):
        if not pool:
            pool = list(gold)
            rng.shuffle(pool)
        picks.append(pool.pop())
    out = list(queue)
    for g in picks:
        out.insert(rng.randint(0, len(out)), g)
    return out
