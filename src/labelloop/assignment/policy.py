"""Which task an annotator gets next: pure functions over small typed inputs.

* **Skill** is the posterior mean accuracy on gold tasks under a Beta(1, 1) prior.
* **Difficulty** of an item is the model's uncertainty, 1 − the best suggestion score
  (0.5 when no model has looked at it).
* Annotators get items whose difficulty is nearest the target their skill earns: a newcomer
  (skill 0.5) gets the easiest, an expert (skill → 1) the hardest; ties keep queue order.
* The skill that counts for an item is the annotator's skill **on its label type** (the label
  of its best suggestion, :mod:`labelloop.assignment.evidence`) when they have evidence for
  it, else their overall skill: :func:`candidate_skills` then :func:`pick_each`.
* **Gold** tasks are interleaved at a rate: after ``1/rate − 1`` ordinary tasks comes one gold.

Example:
    >>> c = [Candidate(1, 10, 0.9), Candidate(2, 11, 0.1)]
    >>> pick(c, skill(0, 0.0)).item_id  # newcomer: the easy one
    11
    >>> pick(c, skill(20, 20.0)).item_id  # proven expert: the hard one
    10
    >>> from labelloop.assignment.evidence import LabelEvidence
    >>> c = [Candidate(1, 10, 0.9, ("c", "a")), Candidate(2, 11, 0.1, ("c", "a")),
    ...      Candidate(3, 12, 0.9, ("c", "b")), Candidate(4, 13, 0.1, ("c", "b"))]
    >>> strong_a = {("c", "a"): LabelEvidence(30, 30.0), ("c", "b"): LabelEvidence(30, 3.0)}
    >>> s = candidate_skills(c, skill(0, 0.0), strong_a)
    >>> pick_each(c, s).item_id  # hard items of label a, never hard items of b
    10
    >>> pick_each(c[2:], s[2:]).item_id  # of label b: the easy one
    13
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from labelloop.assignment.evidence import LabelEvidence, LabelKey, label_skill

__all__ = [
    "Candidate",
    "candidate_skills",
    "difficulty",
    "gold_agreement",
    "pick",
    "pick_each",
    "preference_order",
    "quota_reached",
    "skill",
    "target_difficulty",
    "wants_gold",
]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A free task slot: its id, its item, the item's difficulty in [0, 1] and its label type.

    ``label`` is the ``(control, label)`` of the item's best suggestion (None when unknown).
    """

    slot_id: int
    item_id: int
    difficulty: float
    label: LabelKey | None = None


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
    return pick_each(candidates, [s] * len(candidates), tolerance=tolerance)


def candidate_skills(
    candidates: Sequence[Candidate], overall: float, evidence: Mapping[LabelKey, LabelEvidence]
) -> list[float]:
    """The annotator's skill for each candidate: on its label type where known, else ``overall``.

    See :func:`labelloop.assignment.evidence.label_skill` for the shrinkage toward ``overall``.

    Example:
        >>> c = [Candidate(1, 10, 0.5, ("c", "a")), Candidate(2, 11, 0.5, None)]
        >>> candidate_skills(c, 0.5, {("c", "a"): LabelEvidence(6, 6.0)})
        [0.8, 0.5]
    """
    return [overall if c.label is None else label_skill(evidence.get(c.label), overall) for c in candidates]


def pick_each(candidates: Sequence[Candidate], skills: Sequence[float], *, tolerance: float = 0.05) -> Candidate:
    """The candidate whose difficulty is nearest the target of the skill that applies to it.

    ``skills[i]`` is the annotator's skill for ``candidates[i]`` (:func:`candidate_skills`).
    Candidates within ``tolerance`` of the best distance are equal; the earliest in queue
    order wins among them.

    Raises:
        ValueError: no candidates, or not one skill per candidate.

    Example:
        >>> c = [Candidate(1, 10, 0.9), Candidate(2, 11, 0.1)]
        >>> pick_each(c, [0.5, 0.5]).item_id, pick_each(c, [1.0, 0.5]).item_id
        (11, 10)
    """
    if not candidates:
        raise ValueError("pick() needs at least one candidate")
    if len(skills) != len(candidates):
        raise ValueError(f"pick_each(): expected one skill per candidate ({len(candidates)}), got {len(skills)}")
    dist = [abs(c.difficulty - target_difficulty(s)) for c, s in zip(candidates, skills, strict=True)]
    best = min(dist)
    return next(c for c, d in zip(candidates, dist, strict=True) if d <= best + tolerance)


def preference_order(
    candidates: Sequence[Candidate], skills: Sequence[float], *, tolerance: float = 0.05
) -> list[Candidate]:
    """The candidates in the order :func:`pick_each` picks them when each pick is taken away.

    What an asker tries in turn when concurrent askers take its choices first. Each pick is the
    earliest (in queue order) of the candidates within ``tolerance`` of the best distance left;
    the best distance only grows as picks are taken away, so a candidate once within reach stays
    so, and one pass in order of distance with a heap by queue position gives the whole order.

    Raises:
        ValueError: not one skill per candidate.

    Example:
        >>> c = [Candidate(1, 10, 0.9), Candidate(2, 11, 0.1), Candidate(3, 12, 0.5)]
        >>> [x.item_id for x in preference_order(c, [0.5, 0.5, 0.5])]
        [11, 12, 10]
    """
    if len(skills) != len(candidates):
        raise ValueError(f"preference_order(): expected one skill per candidate ({len(candidates)}), got {len(skills)}")
    dist = [abs(c.difficulty - target_difficulty(s)) for c, s in zip(candidates, skills, strict=True)]
    by_dist = sorted(range(len(dist)), key=dist.__getitem__)
    reach: list[int] = []  # queue positions within tolerance of the best distance left
    taken = [False] * len(dist)
    order: list[Candidate] = []
    nearest = joined = 0
    while len(order) < len(dist):
        while taken[by_dist[nearest]]:
            nearest += 1
        limit = dist[by_dist[nearest]] + tolerance
        while joined < len(dist) and dist[by_dist[joined]] <= limit:
            heapq.heappush(reach, by_dist[joined])
            joined += 1
        i = heapq.heappop(reach)
        taken[i] = True
        order.append(candidates[i])
    return order


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
