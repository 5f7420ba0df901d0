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
