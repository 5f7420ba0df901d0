"""Bias audit: label distributions across data slices, annotator divergence, slice error rates.

Input is one long table of :class:`BiasRecord` (an item's label, its slice attributes such as a
sensitive attribute declared in item meta, who labelled it, and optionally whether the label
was judged correct by review or gold). Three checks:

* **Label × slice** (per attribute): Pearson's chi-square test of independence on the
  slice × label contingency table (:func:`scipy.stats.chi2_contingency`), and the *disparity
  ratio* of each label — the lowest slice rate of that label over the highest (the "four-fifths
  rule" flags a ratio under 0.8).
* **Annotator × label**: the Jensen-Shannon distance (base 2, in ``[0, 1]``) between each
  annotator's label distribution and the pooled distribution of everyone else, with a
  chi-square test of the annotator-vs-rest 2 × K table.
* **Slice error rate**: each slice's error rate against the rest of the data, with Fisher's
  exact test on the 2 × 2 table and the two-proportion z statistic.

p-values of the per-annotator and per-slice tests are Bonferroni-corrected for the number of
tests in their family before comparing with ``alpha``.

References:
    Pearson, K. (1900). On the criterion that a given system of deviations... *Phil. Mag.* 50.
    Lin, J. (1991). Divergence measures based on the Shannon entropy. *IEEE Trans. Inf. Theory* 37(1).
    Fisher, R. A. (1922). On the interpretation of chi-square from contingency tables. *JRSS* 85(1).

Example:
    >>> recs = [BiasRecord(i, "pos" if i % 2 else "neg", {"lang": "en" if i < 10 else "zh"}, "a") for i in range(20)]
    >>> r = bias_audit(recs)
    >>> r.slices[0].attribute, round(r.slices[0].p_value, 3), r.slices[0].flagged
    ('lang', 1.0, False)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from labelloop.errors import InputRejected

__all__ = [
    "AnnotatorDivergence",
    "BiasRecord",
    "BiasReport",
    "SliceErrorRate",
    "SliceLabelTest",
    "annotator_divergence",
    "bias_audit",
    "slice_error_rates",
    "slice_label_test",
]

FOUR_FIFTHS = 0.8


@dataclass(frozen=True, slots=True)
class BiasRecord:
    """One labelled item.

    Attributes:
        item_id: The item.
        label: Its label (one class per record; split multi-label items into several).
        attributes: Slice attributes, e.g. ``{"gender": "f", "source": "forum"}``.
        annotator: Who labelled it (None for machine labels).
        correct: Whether review or gold judged the label correct (None: unknown).
    """

    item_id: int
    label: str
    attributes: Mapping[str, str]
    annotator: str | None = None
    correct: bool | None = None


@dataclass(frozen=True, slots=True)
class SliceLabelTest:
    """Label distribution across the slices of one attribute."""

    attribute: str
    slices: tuple[str, ...]
    labels: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]  # slices x labels
    chi2: float
    p_value: float
    dof: int
    disparity: dict[str, float]  # label -> min slice rate / max slice rate
    flagged: bool


@dataclass(frozen=True, slots=True)
class AnnotatorDivergence:
    """How one annotator's labels differ from everyone else's."""

    annotator: str
    n: int
    js_distance: float
    p_value: float
    flagged: bool


@dataclass(frozen=True, slots=True)
class SliceErrorRate:
    """One slice's error rate against the rest."""

    attribute: str
    slice: str
    n: int
    errors: int
    rate: float
    rest_rate: float
    z: float
    p_value: float
    flagged: bool


@dataclass(slots=True)
class BiasReport:
    """All three checks; ``to_dict`` is what the QC report embeds."""

    alpha: float
    slices: list[SliceLabelTest] = field(default_factory=list)
    annotators: list[AnnotatorDivergence] = field(default_factory=list)
    error_rates: list[SliceErrorRate] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        """True when any check flagged something."""
        return (
            any(s.flagged for s in self.slices)
            or any(a.flagged for a in self.annotators)
            or any(e.flagged for e in self.error_rates)
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (floats rounded to 6 places; NaN becomes None)."""

        def clean(v: Any) -> Any:
            if isinstance(v, float):
                return None if math.isnan(v) else round(v, 6)
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [clean(x) for x in v]
            return v

        return {
            "alpha": self.alpha,
            "flagged": self.flagged,
            "slices": [clean(asdict(s)) for s in self.slices],
            "annotators": [clean(asdict(a)) for a in self.annotators],
            "error_rates": [clean(asdict(e)) for e in self.error_rates],
        }


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise InputRejected("bias audit", "alpha in (0, 1)", repr(alpha))


def slice_label_test(
    records: Sequence[BiasRecord], attribute: str, *, alpha: float = 0.05, min_ratio: float = FOUR_FIFTHS
) -> SliceLabelTest:
    """Chi-square test of label × slice independence and per-label disparity ratios.

    Records without the attribute are left out. Labels or slices seen once only still count.
    A table with fewer than two slices or labels has ``chi2 = 0``, ``p = 1``.

    Example:
        >>> recs = [BiasRecord(i, "y" if i < 5 else "n", {"g": "a" if i < 5 else "b"}) for i in range(10)]
        >>> t = slice_label_test(recs, "g")
        >>> t.disparity, t.flagged
        ({'n': 0.0, 'y': 0.0}, True)
    """
    from scipy.stats import chi2_contingency

    _check_alpha(alpha)
    rows = [(r.attributes[attribute], r.label) for r in records if attribute in r.attributes]
    slices = tuple(sorted({s for s, _ in rows}))
    labels = tuple(sorted({lab for _, lab in rows}))
    c = Counter(rows)
    table = np.array([[c[(s, lab)] for lab in labels] for s in slices], dtype=np.int64).reshape(
        len(slices), len(labels)
    )
    if len(slices) < 2 or len(labels) < 2:
        chi2, p, dof = 0.0, 1.0, 0
    else:
        res = chi2_contingency(table, correction=False)
        chi2, p, dof = float(res.statistic), float(res.pvalue), int(res.dof)
    totals = table.sum(axis=1)
    disparity: dict[str, float] = {}
    for j, lab in enumerate(labels):
        rates = table[:, j] / np.maximum(totals, 1)
        hi = float(rates.max()) if len(rates) else 0.0
        disparity[lab] = float(rates.min()) / hi if hi > 0 else 1.0
    flagged = p < alpha or any(v < min_ratio for v in disparity.values()) if len(slices) >= 2 else False
    return SliceLabelTest(
        attribute, slices, labels, tuple(tuple(int(x) for x in r) for r in table), chi2, p, dof, disparity, flagged
    )


def _distribution(labels: Iterable[str], order: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float64]]:
    c = Counter(labels)
    return np.array([c[lab] for lab in order], dtype=np.float64)


def annotator_divergence(
    records: Sequence[BiasRecord], *, alpha: float = 0.05, min_items: int = 5
) -> list[AnnotatorDivergence]:
    """Jensen-Shannon distance of each annotator's labels from everyone else's pooled labels.

    Annotators with fewer than ``min_items`` labels are skipped (too few to judge).

    Example:
        >>> recs = [BiasRecord(i, "a", {}, "x") for i in range(10)] + [BiasRecord(i, "b", {}, "y") for i in range(10)]
        >>> [(d.annotator, d.js_distance) for d in annotator_divergence(recs)]
        [('x', 1.0), ('y', 1.0)]
    """
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import chi2_contingency

    _check_alpha(alpha)
    labels = sorted({r.label for r in records})
    by: dict[str, list[str]] = {}
    for r in records:
        if r.annotator is not None:
            by.setdefault(r.annotator, []).append(r.label)
    eligible = [a for a in sorted(by) if len(by[a]) >= min_items]
    out = []
    for a in eligible:
        mine = _distribution(by[a], labels)
        rest = _distribution((r.label for r in records if r.annotator != a), labels)
        if rest.sum() == 0:
            continue
        js = float(jensenshannon(mine / mine.sum(), rest / rest.sum(), base=2))
        table = np.vstack([mine, rest])
        table = table[:, table.sum(axis=0) > 0]
        p = 1.0 if table.shape[1] < 2 else float(chi2_contingency(table, correction=False).pvalue)
        p_adj = min(1.0, p * len(eligible))
        out.append(AnnotatorDivergence(a, len(by[a]), js, p_adj, p_adj < alpha))
    return out


def slice_error_rates(records: Sequence[BiasRecord], attribute: str, *, alpha: float = 0.05) -> list[SliceErrorRate]:
    """Each slice's error rate against the rest: Fisher's exact test (Bonferroni over slices).

    Only records with a known ``correct`` and the attribute take part.

    Example:
        >>> recs = [BiasRecord(i, "l", {"g": "a" if i < 50 else "b"}, correct=i < 50 or i % 2 == 0) for i in range(100)]
        >>> [(e.slice, e.rate, e.flagged) for e in slice_error_rates(recs, "g")]
        [('a', 0.0, True), ('b', 0.5, True)]
    """
    from scipy.stats import fisher_exact

    _check_alpha(alpha)
    rows = [
        (r.attributes[attribute], not r.correct) for r in records if r.correct is not None and attribute in r.attributes
    ]
    slices = sorted({s for s, _ in rows})
    if len(slices) < 2:
        return []
    out = []
    total_n, total_err = len(rows), sum(e for _, e in rows)
    for s in slices:
        n = sum(1 for x, _ in rows if x == s)
        err = sum(1 for x, e in rows if x == s and e)
        rn, rerr = total_n - n, total_err - err
        p = float(fisher_exact([[err, n - err], [rerr, rn - rerr]]).pvalue)
        pooled = total_err / total_n
        se = math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / rn)) if 0 < pooled < 1 else 0.0
        z = (err / n - rerr / rn) / se if se > 0 else 0.0
        p_adj = min(1.0, p * len(slices))
        out.append(SliceErrorRate(attribute, s, n, err, err / n, rerr / rn, z, p_adj, p_adj < alpha))
    return out


def bias_audit(
    records: Sequence[BiasRecord],
    attributes: Sequence[str] | None = None,
    *,
    alpha: float = 0.05,
    min_ratio: float = FOUR_FIFTHS,
    min_items: int = 5,
) -> BiasReport:
    """Run every check over ``attributes`` (default: every attribute the records carry).

    Raises:
        InputRejected: ``alpha`` is not in (0, 1).
    """
    _check_alpha(alpha)
    attrs = list(attributes) if attributes is not None else sorted({k for r in records for k in r.attributes})
    report = BiasReport(alpha)
    for a in attrs:
        report.slices.append(slice_label_test(records, a, alpha=alpha, min_ratio=min_ratio))
        report.error_rates.extend(slice_error_rates(records, a, alpha=alpha))
    report.annotators = annotator_divergence(records, alpha=alpha, min_items=min_items)
    return report
