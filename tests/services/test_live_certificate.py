"""Certification on live evidence: the mode is chosen from counts alone, and the claim keeps its error rate."""

from __future__ import annotations

import numpy as np

from labelloop.active import min_clean_audits
from labelloop.services.live_certificate import ALL, certify, run_certificate


def test_mode_follows_the_counts_of_evidence_per_class() -> None:
    need = min_clean_audits(0.98, 1 - 0.05 / 2)
    s = np.full(2 * need, 0.9)
    ok = np.ones(2 * need, bool)
    both = certify(s, ok, ["a"] * need + ["b"] * need, ["a", "b"], target=0.98, confidence=0.95)
    assert both.mode == "per-class" and both.thresholds == {"a": 0.9, "b": 0.9} and both.level == 0.975
    short = certify(s[1:], ok[1:], ["a"] * (need - 1) + ["b"] * need, ["a", "b"], target=0.98, confidence=0.95)
    assert short.mode == "overall" and "a have fewer" in short.reason and short.thresholds == {ALL: 0.9}
    boxes = certify(s, ok, [None] * s.size, [None], target=0.98, confidence=0.95)
    assert boxes.mode == "overall" and boxes.passes(0.95, None) and not boxes.passes(0.5, None)


def test_per_class_claims_fail_no_more_often_than_alpha() -> None:
    # both classes 97.9% accurate at every score (just below target): any certification at 98% is false
    rng = np.random.default_rng(7)
    reps, n = 300, 400
    false = 0
    for _ in range(reps):
        cls = np.where(rng.random(2 * n) < 0.5, "a", "b")
        scores = rng.random(2 * n)
        correct = rng.random(2 * n) < 0.979
        c = certify(scores, correct, list(cls), ["a", "b"], target=0.98, confidence=0.95)
        false += c.certified
    assert false / reps <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / reps)


def test_certificate_reports_the_evidence_above_each_threshold() -> None:
    s = np.r_[np.full(200, 0.9), np.full(50, 0.5)]
    ok = np.r_[np.ones(200, bool), np.zeros(50, bool)]
    c = certify(s, ok, [None] * 250, [None], target=0.98, confidence=0.95)
    d = run_certificate(
        c, s, ok, [None] * 250, tiers={"auto": 3, "review": 1}, auto_by_class={"-": 3}, target=0.98,
        confidence=0.95, meta={"run_id": 1},
    )  # fmt: skip
    assert d["thresholds"] == {ALL: 0.9} and d["audited"] == 200 and d["audited_correct"] == 200
    assert d["holds"] and d["run_id"] == 1 and d["per_class"]["-"]["auto"] == 3
    lo, hi = d["ci"]
    assert lo < d["lower"] < hi == 1.0
