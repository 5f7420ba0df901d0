"""What a live project says about a backend's suggestions: one view per item, and which labels are evidence.

Routing certifies an auto-accept threshold from pairs (the backend's suggestion on an item, a
person's final label of that item). Not every pair is fair evidence; each gets a kind:

* ``clean`` — the label was reached **without seeing the suggestion** and the model **cannot
  have learnt from it**. Without seeing: a QC gold answer (taken as made independently of the
  machine), a label made on a blind slot (an item routed ``manual`` or ``audit``, whose task
  shows no suggestion, or an item in an A/B experiment arm whose tasks show no suggestion of the
  backend: prefill off, or another backend's, see :mod:`labelloop.services.experiments`), or a
  label made before the backend suggested anything on the item.
  Not learnt: the backend does not train, or the item is outside the training set an
  active-learning round recorded for that model version, or no person had labelled the item
  (any annotation or gold answer) before the suggestion was made — the model was fitted before
  it made the suggestion, so it can only have learnt labels older than that (a gold answer
  copied later from an older annotation is in-sample all the same).
* ``prefilled`` — a person confirmed or corrected a pre-filled suggestion (the review tier, an
  accepted suggestion, any queue task that showed it). Such reviews lean toward accepting what
  is shown (anchoring; the leaning is why certification uses ``clean`` pairs by default), so a
  bound computed on them may be optimistic.
* no kind — no person label, or a label the model may have trained on (in-sample: its accuracy
  there says little about new items).

A person's final label is the item's QC gold answer if it has one, else its newest submitted
annotation by a person (auto-accepted labels, annotator ``auto:...``, are machine output and
never count) that no review rejected. The suggestion is the item's newest scored, non-empty
suggestion from the backend's model version.

Example:
    >>> import tempfile, pathlib
    >>> from labelloop.storage import Store
    >>> from labelloop.core import LabelSchema
    >>> store = Store.open(None, pathlib.Path(tempfile.mkdtemp()))
    >>> with store.transaction() as tx:
    ...     pid = tx.projects.create("p", LabelSchema.model_validate({"media": [{"name": "t", "kind": "text"}]}),
    ...                              "user:me").id
    >>> sum(len(page) for page in item_views(store, pid, "text.rules", "1", trainable=False))
    0
    >>> store.close()
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from labelloop.core import Actor, Annotation, AnnotationStatus, Item, ReviewVerdict, Suggestion
from labelloop.services.calibrate import suggestion_agrees
from labelloop.services.experiments import ArmStrategy
from labelloop.storage import Store
from labelloop.storage.experiments_repo import ArmSpell, ExperimentRepo
from labelloop.storage.routing_repo import BLIND_TIERS, ItemRoute, RoutingRepo

__all__ = ["EvidenceKind", "ItemView", "Truth", "evidence_kind", "item_views", "person_label", "predicted_class"]

Value = list[dict[str, Any]]
EvidenceKind = Literal["clean", "prefilled"]
_PAGE = 1000


@dataclass(frozen=True, slots=True)
class Truth:
    """A person's final label of an item.

    Attributes:
        value: The label.
        created_at: When it was made (an annotation) or set (a gold answer).
        source: ``gold`` or ``annotation``.
        blind: Made without the suggestion in view (gold, or a blind-routed task).
        first_labelled: When a person first labelled the item (any annotation or gold answer).
        annotation_id: The annotation, for ``annotation``.
    """

    value: Value
    created_at: datetime
    source: str
    blind: bool
    first_labelled: datetime
    annotation_id: int | None = None


@dataclass(frozen=True, slots=True)
class ItemView:
    """One item as routing sees it.

    Attributes:
        item_id: The item.
        item: The item itself (media references, for a backend).
        suggestion: Newest scored, non-empty suggestion of the backend's model version (or None).
        first_suggested: When the backend first suggested anything on the item (any version).
        truth: A person's final label, or None.
        auto: The item's newest auto-accepted annotation from this backend (any version), if any.
        route: How the item was last routed, if ever.
        gold_task: The item is a gold task of the queue (never routed).
        correct: Whether the suggestion agrees with ``truth`` (None without both).
        evidence: The pair's evidence kind (see the module docstring), or None.
        arm: The item's arm in a running A/B experiment, if any (see :mod:`labelloop.services.live_arms`).
    """

    item_id: int
    item: Item
    suggestion: Suggestion | None
    first_suggested: datetime | None
    truth: Truth | None
    auto: Annotation | None
    route: ItemRoute | None
    gold_task: bool
    correct: bool | None
    evidence: EvidenceKind | None
    arm: ArmSpell | None = None


def predicted_class(value: Value) -> str | None:
    """The class a suggestion predicts, when it is one classification region (else None).

    Example:
        >>> predicted_class([{"id": "c", "control": "c", "labels": ["b", "a"]}])
        'a|b'
        >>> predicted_class([{"id": "x", "control": "o", "label": "car", "xyxy": [0, 0, 1, 1]}]) is None
        True
    """
    if len(value) != 1 or "labels" not in value[0]:
        return None
    return "|".join(sorted(str(x) for x in value[0]["labels"]))


def evidence_kind(
    item_id: int,
    suggestion: Suggestion | None,
    truth: Truth | None,
    first_suggested: datetime | None,
    *,
    trainable: bool,
    trained_on: set[int] | None,
) -> EvidenceKind | None:
    """The evidence kind of the pair (``suggestion``, ``truth``) (see the module docstring).

    Example:
        >>> from datetime import UTC, datetime, timedelta
        >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
        >>> s = Suggestion(1, 1, 7, [], 0.9, "b", "1", t0, "backend:b@1")
        >>> hour = timedelta(hours=1)
        >>> later = Truth([], t0 + hour, "annotation", blind=True, first_labelled=t0 + hour)
        >>> evidence_kind(7, s, later, t0, trainable=True, trained_on=None)
        'clean'
        >>> older = Truth([], t0 + hour, "gold", blind=True, first_labelled=t0 - hour)  # gold copied from an old label
        >>> evidence_kind(7, s, older, t0, trainable=True, trained_on=None) is None  # the model may have learnt it
        True
        >>> evidence_kind(7, s, older, t0, trainable=True, trained_on={8})  # ... but this version did not
        'clean'
    """
    if suggestion is None or truth is None:
        return None
    known_before = truth.first_labelled <= suggestion.created_at
    learnt = trainable and known_before and (trained_on is None or item_id in trained_on)
    if learnt:
        return None
    unseen = truth.blind or (first_suggested is not None and truth.created_at < first_suggested)
    return "clean" if unseen else "prefilled"


def _arm_blind(spells: Sequence[ArmSpell], when: datetime, backend: str) -> bool:
    """Whether a label made at ``when`` was made in an experiment arm showing no suggestion of ``backend``."""
    return any(
        s.start <= when and (s.end is None or when <= s.end) and ArmStrategy.from_json(s.strategy).hides(backend)
        for s in spells
    )


def _truth(
    anns: list[Annotation],
    rejected: set[int],
    gold: tuple[Value, datetime] | None,
    route: ItemRoute | None,
    spells: Sequence[ArmSpell] = (),
    backend: str = "",
) -> Truth | None:
    submitted = [a for a in anns if a.status == AnnotationStatus.SUBMITTED and not Actor.is_machine(a.annotator)]
    times = [a.created_at for a in submitted] + ([gold[1]] if gold is not None else [])
    if not times:
        return None
    first_labelled = min(times)
    if gold is not None:
        return Truth(gold[0], gold[1], "gold", blind=True, first_labelled=first_labelled)
    people = [a for a in submitted if a.id not in rejected]
    if not people:
        return None
    a = max(people, key=lambda x: x.id)
    first = min(people, key=lambda x: x.id)
    blind = (route is not None and route.tier in BLIND_TIERS and route.routed_at <= first.created_at) or _arm_blind(
        spells, first.created_at, backend
    )
    return Truth(a.value, a.created_at, "annotation", blind, first_labelled, a.id)


def person_label(
    anns: list[Annotation], rejected: set[int], gold: tuple[Value, datetime] | None
) -> Truth | None:  # fmt: skip
    """A person's final label of an item (see the module docstring), or None.

    Args:
        anns: The item's annotations.
        rejected: Ids of annotations a review rejected.
        gold: The item's QC gold answer and when it was set, if any.

    Example:
        >>> from datetime import UTC, datetime
        >>> person_label([], set(), ([{"id": "c", "control": "c", "labels": ["x"]}], datetime(2026, 1, 1, tzinfo=UTC)))
        ... # doctest: +ELLIPSIS
        Truth(value=[{'id': 'c', 'control': 'c', 'labels': ['x']}], ..., source='gold', ...)
    """
    return _truth(anns, rejected, gold, None)


def item_views(
    store: Store,
    project_id: int,
    backend: str,
    model_version: str,
    *,
    trainable: bool,
    trained_on: set[int] | None = None,
    page_size: int = _PAGE,
) -> Iterator[list[ItemView]]:
    """Pages of :class:`ItemView` for every item that annotators may see (held items left out).

    Args:
        store: The store.
        project_id: The project.
        backend: Backend name.
        model_version: The model version whose suggestions are routed.
        trainable: Whether the backend learns from the project's labels.
        trained_on: Items a learning round recorded as this version's training set, if known.
        page_size: Items per read transaction.
    """
    auto_prefix = f"auto:{backend}@"
    after = 0
    while True:
        with store.read() as tx:
            items = tx.items.page(project_id, after_id=after, limit=page_size, visible_only=True)
            if not items:
                return
            lo, hi = items[0].id, items[-1].id
            suggestions, anns, reviews = tx.labels.for_item_range(project_id, lo, hi)
            repo = RoutingRepo(tx.conn)
            routes = repo.routes(project_id, lo, hi)
            gold = repo.gold_labels(project_id, lo, hi)
            gold_tasks = repo.gold_tasks(project_id, lo, hi)
            arms = ExperimentRepo(tx.conn).arms_in_range(project_id, lo, hi)
        after = hi
        rejected = {r.annotation_id for r in reviews if r.verdict == ReviewVerdict.REJECT}
        by_s: dict[int, list[Suggestion]] = {}
        for s in suggestions:
            by_s.setdefault(s.item_id, []).append(s)
        by_a: dict[int, list[Annotation]] = {}
        for a in anns:
            by_a.setdefault(a.item_id, []).append(a)
        page: list[ItemView] = []
        for it in items:
            mine = [s for s in by_s.get(it.id, []) if s.backend == backend]
            first = min((s.created_at for s in mine), default=None)
            cur = [s for s in mine if s.model_version == model_version and s.score is not None and s.value]
            sugg = max(cur, key=lambda s: s.id) if cur else None
            item_anns = by_a.get(it.id, [])
            autos = [a for a in item_anns if a.annotator.startswith(auto_prefix)]
            route = routes.get(it.id)
            spells = arms.get(it.id, [])
            truth = _truth(item_anns, rejected, gold.get(it.id), route, spells, backend)
            correct = None if sugg is None or truth is None else suggestion_agrees(sugg.value, truth.value)
            kind = evidence_kind(it.id, sugg, truth, first, trainable=trainable, trained_on=trained_on)
            page.append(
                ItemView(
                    it.id,
                    it,
                    sugg,
                    first,
                    truth,
                    max(autos, key=lambda a: a.id) if autos else None,
                    route,
                    it.id in gold_tasks,
                    correct,
                    kind,
                    next((sp for sp in spells if sp.end is None), None),
                )
            )
        yield page
