from __future__ import annotations

import numpy as np

from labelloop.active import Tier
from labelloop.services.routing import plan_routing


def test_uncertified_audit_routes_nothing_to_auto() -> None:
    conf = np.linspace(0.5, 1.0, 300)
    plan = plan_routing(conf, np.arange(100), np.ones(100, bool), target=0.98, manual_below=0.55)
    assert not plan.result.certified and plan.result.needed == 49
    assert Tier.AUTO not in plan.tiers and Tier.MANUAL in plan.tiers
