from __future__ import annotations

import numpy as np

from labelloop.active import Tier
from labelloop.services.routing import plan_routing


def test_uncertified_audit_routes_nothing_to_auto() -> None:
    conf = np.linspace(0.5, 1.0, 300)
    plan = plan_routing(conf, np.arange(100), np.ones(100, bool), target=0.98, manual_below=0.55)
    assert not plan.result.certified and plan.result.needed == 49
    assert Tier.AUTO not in plan.tiers and Tier.MANUAL in plan.tiers


def test_threshold_on_a_finer_score_than_confidence() -> None:
    """Probabilities that all round to 1.0 tie; a log-ratio score keeps them apart and certifies fewer items."""
    conf = np.r_[np.ones(400), np.linspace(0.9, 0.6, 100)]
    score = np.r_[np.linspace(40.0, 5.0, 400), np.linspace(2.0, 0.5, 100)]
    audit = np.arange(0, 500, 2)
    ok = np.ones(audit.size, bool)
    ok[audit >= 380] = False  # the least confident fifth of the 1.0s is wrong
    tied = plan_routing(conf, audit, ok, target=0.98)
    apart = plan_routing(conf, audit, ok, target=0.98, score=score, breakpoints=True)
    assert not tied.result.certified  # 400 tied items at 1.0, 10 of their 200 audits wrong
    assert apart.result.certified and apart.result.n == 149 and apart.tiers.count(Tier.AUTO) == 297


def test_two_look_audit_through_the_plan() -> None:
    """The first look finds one error high up; the second look (same random order) certifies past it."""
    score = np.linspace(10.0, 1.0, 1000)
    conf = np.linspace(1.0, 0.6, 1000)
    order = np.random.default_rng(0).permutation(1000)
    ok = np.ones(1000, bool)
    high = order[:170][np.argsort(-score[order[:170]])[5]]  # the 6th most confident first-look item
    ok[high] = False
    one = plan_routing(conf, order[:170], ok[order[:170]], target=0.98, score=score, first_look=170)
    assert not one.result.certified and Tier.AUTO not in one.tiers
    both = plan_routing(conf, order[:320], ok[order[:320]], target=0.98, score=score, first_look=170)
    assert both.result.certified and both.result.n == 320 and both.result.k == 319
    assert both.tiers.count(Tier.AUTO) == int(np.sum(score >= both.result.threshold))
