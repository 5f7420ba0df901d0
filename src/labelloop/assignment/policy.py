"""Which task an annotator gets next: pure functions over small typed inputs.

* **Skill** is the posterior mean accuracy on gold tasks under a Beta(1, 1) prior.
* **Difficulty** of an item is the model's uncertainty, 1 − the best suggestion score
  (0.5 when no model has looked at it).
* Annotators get items whose difficulty is nearest the target their skill earns: a newcomer
  (skill 0.5) gets the easiest, an expert (skill → 1) the hardest; ties keep queue order.
* **Gold** tasks are interleaved at a rate: after ``1/rate − 1`` ordinary tasks comes one gold.

Example:
    >>> c = [Candidate(1, 10, 0.9), Candidate(2, 11, 0.1)]
    >>> pick(c, skill(0, 0.0)).item_id  # newcomer: the easy one
    11
    >>> pick(c, skill(20, 20.0)).item_id  # proven expert: the hard one
    10
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Candidate",
    "difficulty",
    "gold_agreement",
    "pick",
    "quota_reached",
    "skill",
    "target_difficulty",
    "wants_gold",
]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A free task slot: its id, its item, and the item's difficulty in [0, 1]."""

    slot_id: int
    item_id: int
    difficulty: float


def skill(gold_seen: int, gold_score: float) -> float:
    """Posterior mean accuracy on gold tasks, Beta(1, 1) prior.

    Example:
        >>> skill(0, 0.0), skill(8, 8.0)
        (0.5, 0.9)
    """
    return (gold_score + 1.0) / (gold_seen + 2.0)


def target_difficulty(s: float) -> float:
    """The difficulty an annotator of skill ``s`` should get: 0 at s ≤ 0.5, 1 at s = 1.

    Example:
        >>> target_difficulty(0.75)
        0.5
    """
    return min(1.0, max(0.0, (s - 0.5) * 2.0))


def difficulty(best_score: float | None) -> float:
    """Model uncertainty of an item: 1 − its best suggestion score (0.5 when unscored).

    Example:
        >>> difficulty(0.8), difficulty(None)
        (0.19999999999999996, 0.5)
    """
    if best_score is None:
        return 0.5
    return min(1.0, max(0.0, 1.0 - best_score))


def pick(candidates: Sequence[Candidate], s: float, *, tolerance: float = 0.05) -> Candidate:
    """The candidate whose difficulty is nearest the target of skill ``s``.

    Candidates within ``tolerance`` of the best distance are equal; the earliest in queue
    order wins among them, so items still get finished roughly in order.

    Raises:
        ValueError: no candidates.
    """
    if not candidates:
        raise ValueError("pick() needs at least one candidate")
    target = target_difficulty(s)
    best = min(abs(c.difficulty - target) for c in candidates)
    return next(c for c in candidates if abs(c.difficulty - target) <= best + tolerance)


def wants_gold(rate: float, since_gold: int) -> bool:
    """Whether the next task should be a gold task.

    Example:
        >>> [wants_gold(0.25, n) for n in range(5)]
        [False, False, False, True, True]
    """
    if rate <= 0:
        return False
    if rate >= 1:
        return True
    return since_gold + 1 >= round(1.0 / rate)


def quota_reached(submitted: int, quota: int | None) -> bool:
    """Whether an annotator has used up their quota (None: unlimited).

    Example:
        >>> quota_reached(3, 3), quota_reached(3, None)
        (True, False)
    """
    return quota is not None and submitted >= quota


def _signature(value: Sequence[dict[str, Any]]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for region in value:
        control = str(region.get("control", ""))
        labels = region.get("labels") or ([region["label"]] if "label" in region else [])
        out.update((control, str(label)) for label in labels)
        if "text" in region and not labels:
            out.add((control, str(region["text"]).strip()))
    return out


def gold_agreement(value: Sequence[dict[str, Any]], gold: Sequence[dict[str, Any]]) -> float:
    """Agreement of an answer with the gold answer: Jaccard of their (control, label) sets.

    Example:
        >>> gold_agreement([{"control": "c", "label": "a"}], [{"control": "c", "label": "a"}])
        1.0
        >>> gold_agreement([], [])
        1.0
    """
    a, b = _signature(value), _signature(gold)
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)
