"""L2 work assignment: pure policy (skill, difficulty matching, gold rate, quotas, gold agreement)."""

from __future__ import annotations

from labelloop.assignment.policy import (
    Candidate,
    difficulty,
    gold_agreement,
    pick,
    quota_reached,
    skill,
    target_difficulty,
    wants_gold,
)

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
