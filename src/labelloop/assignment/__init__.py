"""L2 work assignment: pure policy (skill overall and per label type, difficulty matching, gold rate, quotas)."""

from __future__ import annotations

from labelloop.assignment.evidence import (
    PRIOR_STRENGTH,
    LabelEvidence,
    LabelKey,
    label_counts,
    label_skill,
    outcomes,
    review_outcomes,
)
from labelloop.assignment.policy import (
    Candidate,
    candidate_skills,
    difficulty,
    gold_agreement,
    pick,
    pick_each,
    preference_order,
    quota_reached,
    skill,
    target_difficulty,
    wants_gold,
)

__all__ = [
    "PRIOR_STRENGTH",
    "Candidate",
    "LabelEvidence",
    "LabelKey",
    "candidate_skills",
    "difficulty",
    "gold_agreement",
    "label_counts",
    "label_skill",
    "outcomes",
    "pick",
    "pick_each",
    "preference_order",
    "quota_reached",
    "review_outcomes",
    "skill",
    "target_difficulty",
    "wants_gold",
]
