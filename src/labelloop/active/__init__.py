"""Active learning and certified routing maths (L2): bounds, tiers, samplers, A/B read-outs.

Pure functions over numpy arrays; no storage, backends or quality imports.
"""

from __future__ import annotations

from labelloop.active.bounds import (
    ThresholdResult,
    certified_threshold,
    certified_thresholds_per_class,
    clean_items_needed,
    clopper_pearson,
    cp_lower,
    error_breakpoints,
    min_clean_audits,
)
from labelloop.active.experiments import (
    ABReadout,
    ArmData,
    ArmSummary,
    Estimate,
    MeanComparison,
    ProportionComparison,
    ab_readout,
    compare_means,
    compare_proportions,
    split_arms,
    wilson_interval,
)
from labelloop.active.routing import (
    AuditOutcome,
    ClassCertificate,
    QualityCertificate,
    RoutingPolicy,
    Tier,
    audit_sample,
    build_certificate,
    reaudit,
    route,
)
from labelloop.active.samplers import (
    StoppingRule,
    diverse_batch,
    entropy,
    k_center_greedy,
    least_confidence,
    margin,
    random_batch,
    representative_batch,
    select,
)

__all__ = [
    "ABReadout",
    "ArmData",
    "ArmSummary",
    "AuditOutcome",
    "ClassCertificate",
    "Estimate",
    "MeanComparison",
    "ProportionComparison",
    "QualityCertificate",
    "RoutingPolicy",
    "StoppingRule",
    "ThresholdResult",
    "Tier",
    "ab_readout",
    "audit_sample",
    "build_certificate",
    "certified_threshold",
    "certified_thresholds_per_class",
    "clean_items_needed",
    "clopper_pearson",
    "compare_means",
    "compare_proportions",
    "cp_lower",
    "diverse_batch",
    "entropy",
    "error_breakpoints",
    "k_center_greedy",
    "least_confidence",
    "margin",
    "min_clean_audits",
    "random_batch",
    "reaudit",
    "representative_batch",
    "route",
    "select",
    "split_arms",
    "wilson_interval",
]
