"""Quality maths: agreement, truth inference, consensus and label-error detection.

Layer L2: imports only numpy, scipy, :mod:`labelloop.core` and :mod:`labelloop.errors`.
Crowd methods read one long table of (item, annotator, label) votes, a
:class:`VoteTable`; estimators follow fit/predict (hyper-parameters in ``__init__``,
``fit`` returns ``self``, learned state in trailing-underscore attributes).

Example:
    >>> from labelloop.quality import VoteTable, DawidSkene, krippendorff_alpha
    >>> t = VoteTable.from_records([(1, "a", "x"), (1, "b", "x"), (2, "a", "y"), (2, "b", "x")])
    >>> round(krippendorff_alpha(t).value, 3), t.decode(DawidSkene().fit_predict(t))
    (0.0, ['x', 'x'])
"""

from __future__ import annotations

from labelloop.quality.aggregation import DawidSkene, MajorityVote, OneCoinDawidSkene
from labelloop.quality.agreement import (
    PairwiseAgreement,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    pairwise_agreement,
    per_label_agreement,
    percent_agreement,
)
from labelloop.quality.consensus import BoxConsensus, aggregate_spans, box_consensus
from labelloop.quality.geometry_agreement import (
    MatchResult,
    box_agreement,
    box_iou_matrix,
    cuboid_agreement,
    cuboid_iou,
    cuboid_iou_matrix,
    match_by_iou,
    segment_agreement,
    segment_iou_matrix,
    span_f1,
)
from labelloop.quality.label_errors import (
    ConfidentLearning,
    LabelIssues,
    confident_joint,
    estimate_joint,
    find_label_issues,
    label_quality_scores,
    out_of_fold_pred_probs,
    per_class_thresholds,
)
from labelloop.quality.simulation import simulate_crowd
from labelloop.quality.votes import AgreementResult, VoteTable, as_table

__all__ = [
    "AgreementResult",
    "BoxConsensus",
    "ConfidentLearning",
    "DawidSkene",
    "LabelIssues",
    "MajorityVote",
    "MatchResult",
    "OneCoinDawidSkene",
    "PairwiseAgreement",
    "VoteTable",
    "aggregate_spans",
    "as_table",
    "box_agreement",
    "box_consensus",
    "box_iou_matrix",
    "cohen_kappa",
    "confident_joint",
    "cuboid_agreement",
    "cuboid_iou",
    "cuboid_iou_matrix",
    "estimate_joint",
    "find_label_issues",
    "fleiss_kappa",
    "krippendorff_alpha",
    "label_quality_scores",
    "match_by_iou",
    "out_of_fold_pred_probs",
    "pairwise_agreement",
    "per_class_thresholds",
    "per_label_agreement",
    "percent_agreement",
    "segment_agreement",
    "segment_iou_matrix",
    "simulate_crowd",
    "span_f1",
]
