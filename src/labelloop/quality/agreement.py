"""Inter-annotator agreement for categorical, ordinal and interval labels.

All coefficients read a :class:`~labelloop.quality.votes.VoteTable` (or an ``(n, 3)``
array of item, annotator, label rows), allow missing votes, and return an
:class:`~labelloop.quality.votes.AgreementResult`. Where a coefficient is undefined — no
votes, one annotator, no item with two votes, or no variation at all (every vote the same,
so chance agreement is already perfect) — ``value`` is NaN and ``reason`` says why;
nothing raises for such data.

References:
    Cohen, J. (1960). A coefficient of agreement for nominal scales. *Educational and
    Psychological Measurement*, 20(1), 37-46.
    Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters.
    *Psychological Bulletin*, 76(5), 378-382.
    Gwet, K. L. (2014). *Handbook of Inter-Rater Reliability* (4th ed.), ch. 5 (Fleiss'
    kappa with missing ratings).
    Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. Annenberg School
    for Communication, University of Pennsylvania.

Example:
    >>> t = VoteTable.from_matrix([[1, 1, 1], [2, 2, 1], [3, 3, 3], [1, 2, float("nan")]])
    >>> round(krippendorff_alpha(t).value, 4), round(fleiss_kappa(t).value, 4)
    (0.4872, 0.3514)
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from labelloop.errors import InputRejected
from labelloop.quality.votes import (
    AgreementResult,
    FloatArray,
    IntArray,
    VoteTable,
    _encode_labels,
    _encode_numeric,
    _is_missing,
    as_table,
)

__all__ = [
    "PairwiseAgreement",
    "cohen_kappa",
    "fleiss_kappa",
    "krippendorff_alpha",
    "pairwise_agreement",
    "per_label_agreement",
    "percent_agreement",
]

_NAN = float("nan")
_EPS = 1e-12
_DENSE_FLOOR = 1 << 16  # item × category cells always counted densely
Level = Literal["nominal", "ordinal", "interval"]


def _nan(reason: str, n_items: int = 0, n_values: int = 0) -> AgreementResult:
    return AgreementResult(_NAN, reason, n_items, n_values)


def _undefined(t: VoteTable) -> str | None:
    if t.n_votes == 0:
        return "no votes"
    if t.annotators.min() == t.annotators.max():
        return "only one annotator: agreement needs two or more"
    return None


class _Cells:
    """Vote counts ``n_uc`` per (item, category), dense when small and sparse otherwise.

    Built in one pass over the votes; every statistic Krippendorff's α needs is then a
    per-item or per-category sum over these cells.
    """

    def __init__(self, t: VoteTable) -> None:
        u, k = t.n_items, t.n_categories
        key = t.items * k
        key += t.labels
        self.k = k
        self.dense: IntArray | None = None
        if u * k <= max(4 * t.n_votes, _DENSE_FLOOR):  # dense unless mostly empty cells
            self.dense = np.bincount(key, minlength=u * k).reshape(u, k)
            self.m = self.dense.sum(axis=1)
        else:
            cells, counts = np.unique(key, return_counts=True)
            self.unit, self.code = np.divmod(cells, k)
            self.count = counts.astype(np.float64)
            self.m = np.bincount(self.unit, weights=self.count, minlength=u).astype(np.int64)
        self.pairable = self.m >= 2

    def per_item(self, f: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``Σ_c n_uc f_c`` and ``Σ_c n_uc f_c²`` for every item."""
        if self.dense is not None:
            # einsum, not matmul: a BLAS call for a thin product mostly wakes up threads
            s1 = np.einsum("ij,j->i", self.dense, f)
            s2 = np.einsum("ij,j->i", self.dense, f * f)
            return np.asarray(s1, dtype=np.float64), np.asarray(s2, dtype=np.float64)
        n = self.m.size
        s1 = np.bincount(self.unit, weights=self.count * f[self.code], minlength=n).astype(np.float64)
        s2 = np.bincount(self.unit, weights=self.count * f[self.code] ** 2, minlength=n).astype(np.float64)
        return s1, s2

    def sum_sq(self) -> FloatArray:
        """``Σ_c n_uc²`` for every item."""
        if self.dense is not None:
            return np.asarray(np.einsum("ij,ij->i", self.dense, self.dense), dtype=np.float64)
        return np.bincount(self.unit, weights=self.count**2, minlength=self.m.size).astype(np.float64)

    def pairable_per_category(self) -> FloatArray:
        """``n_c``: votes for each category on items with two or more votes."""
        if self.dense is not None:
            return np.asarray(np.einsum("i,ij->j", self.pairable.astype(np.float64), self.dense), dtype=np.float64)
        w = self.count * self.pairable[self.unit]
        return np.bincount(self.code, weights=w, minlength=self.k).astype(np.float64)


def _dot(a: FloatArray, b: FloatArray) -> float:
    """Inner product without BLAS (whose threads cost more than they save here)."""
    return float(np.einsum("i,i->", a, b))


def krippendorff_alpha(data: VoteTable | npt.ArrayLike, level: Level = "nominal") -> AgreementResult:
    """Krippendorff's α for nominal, ordinal or interval data with missing values.

    Computed from the coincidence matrix in closed form: one pass over the votes counts
    them per (item, category), and per-item sums of those counts give the observed
    disagreement ``D_o`` — no ``values × values`` matrix is built. The ordinal metric is the
    interval metric on the categories' mid-ranks (``Σ_{g<c} n_g + n_c / 2``), so all three
    levels cost the same. Only items with two or more votes (pairable values) count. For
    ``"interval"`` the categories must be numbers; for ``"ordinal"`` their order in ``table.categories`` is the scale.

    Args:
        data: The votes.
        level: Level of measurement: ``"nominal"``, ``"ordinal"`` or ``"interval"``.

    Returns:
        α in ``value`` (``observed`` = D_o, ``expected`` = D_e), or NaN with a reason.

    Raises:
        InputRejected: Unknown level, or non-numeric categories for interval data.

    Example:
        >>> data = [[1, 2, 3, 3], [1, 2, 3, 4], [float("nan"), 3, 3, 4]]
        >>> round(krippendorff_alpha(VoteTable.from_matrix(data, rows="annotators"), "interval").value, 4)
        0.8276
    """
    if level not in ("nominal", "ordinal", "interval"):
        raise InputRejected("level", "'nominal', 'ordinal' or 'interval'", repr(level))
    t = as_table(data)
    values = t.category_values() if level == "interval" else None
    if reason := _undefined(t):
        return _nan(reason)
    cells = _Cells(t)
    n_items = int(cells.pairable.sum())
    if n_items == 0:
        return _nan("no item has two or more votes")
    m_u = cells.m.astype(np.float64)
    w = np.divide(1.0, m_u - 1.0, out=np.zeros_like(m_u), where=cells.pairable)
    n_c = cells.pairable_per_category()
    n = float(n_c.sum())
    if level == "nominal":
        s_o = _dot(w, m_u * m_u - cells.sum_sq())
        s_e = n * n - float(np.dot(n_c, n_c))
    else:
        if level == "ordinal":
            values = np.cumsum(n_c) - n_c / 2.0  # mid-ranks of the pairable values
        assert values is not None
        v = values - float(np.dot(n_c, values)) / n  # centred on the pairable mean
        s1, s2 = cells.per_item(v)
        s_o = 2.0 * _dot(w, m_u * s2 - s1 * s1)
        s_e = 2.0 * n * float(np.dot(n_c, v * v))  # Σ over pairs of (x_i - x_j)², with Σx = 0
    d_o, d_e = s_o / n, s_e / (n * (n - 1.0))
    if s_e <= _EPS * max(n * n, 1.0):
        return AgreementResult(_NAN, "no variation: every pairable vote has the same value", n_items, int(n), d_o, d_e)
    return AgreementResult(1.0 - d_o / d_e, None, n_items, int(n), d_o, d_e)


def _fleiss_parts(t: VoteTable) -> tuple[IntArray, IntArray, npt.NDArray[np.bool_]]:
    counts = t.counts()
    m = counts.sum(axis=1)
    return counts, m, m >= 2


def percent_agreement(data: VoteTable | npt.ArrayLike) -> AgreementResult:
    """Share of agreeing annotator pairs, averaged over items with two or more votes.

    This is Fleiss' ``P̄``: for an item with ``m`` votes of which ``n_c`` chose ``c``, the
    item's agreement is ``Σ_c n_c (n_c - 1) / (m (m - 1))``.

    Example:
        >>> percent_agreement(VoteTable.from_matrix([[1, 1, 2], [3, 3, 3]])).value
        0.6666666666666666
    """
    t = as_table(data)
    if reason := _undefined(t):
        return _nan(reason)
    counts, m, pair = _fleiss_parts(t)
    if not pair.any():
        return _nan("no item has two or more votes")
    c, mm = counts[pair].astype(np.float64), m[pair].astype(np.float64)
    p_i = (c * (c - 1.0)).sum(axis=1) / (mm * (mm - 1.0))
    pa = float(p_i.mean())
    return AgreementResult(pa, None, int(pair.sum()), int(mm.sum()), pa, _NAN)


def fleiss_kappa(data: VoteTable | npt.ArrayLike) -> AgreementResult:
    """Fleiss' κ for many raters, generalised to a varying number of votes per item.

    ``κ = (P̄ - P̄_e) / (1 - P̄_e)`` with ``P̄`` the mean pairwise agreement over items with
    two or more votes and ``P̄_e = Σ_c π_c²``, where ``π_c`` is the mean over rated items of
    the share of votes for ``c`` (Gwet 2014). With the same number of votes on every item
    this is exactly Fleiss (1971).

    Example:
        >>> round(fleiss_kappa(VoteTable.from_counts([[3, 0], [0, 3], [2, 1], [1, 2]])).value, 4)
        0.3333
    """
    t = as_table(data)
    if reason := _undefined(t):
        return _nan(reason)
    counts, m, pair = _fleiss_parts(t)
    if not pair.any():
        return _nan("no item has two or more votes")
    rated = m >= 1
    c, mm = counts[pair].astype(np.float64), m[pair].astype(np.float64)
    pa = float(((c * (c - 1.0)).sum(axis=1) / (mm * (mm - 1.0))).mean())
    pi = (counts[rated] / m[rated, None]).mean(axis=0)
    pe = float(np.dot(pi, pi))
    if 1.0 - pe <= _EPS:
        return AgreementResult(
            _NAN, "no variation: every vote has the same label", int(pair.sum()), int(mm.sum()), pa, pe
        )
    return AgreementResult((pa - pe) / (1.0 - pe), None, int(pair.sum()), int(mm.sum()), pa, pe)


def per_label_agreement(
    data: VoteTable | npt.ArrayLike, method: Literal["fleiss", "alpha"] = "fleiss"
) -> dict[Hashable, AgreementResult]:
    """Agreement on each label, treating it as a binary "this label or not" decision.

    ``"fleiss"`` gives Fleiss' (1971) category-specific κ_j (eq. 8), generalised to missing
    votes as in :func:`fleiss_kappa`; ``"alpha"`` gives nominal Krippendorff's α of the
    binarised data. A label nobody (or everybody) chose has NaN agreement.

    Example:
        >>> t = VoteTable.from_counts([[3, 0, 0], [0, 3, 0], [1, 2, 0], [0, 1, 2]], categories="abc")
        >>> {k: round(v.value, 3) for k, v in per_label_agreement(t).items()}
        {'a': 0.625, 'b': 0.333, 'c': 0.4}
    """
    if method not in ("fleiss", "alpha"):
        raise InputRejected("method", "'fleiss' or 'alpha'", repr(method))
    t = as_table(data)
    if reason := _undefined(t):
        return {c: _nan(reason) for c in t.categories}
    counts, m, pair = _fleiss_parts(t)
    if not pair.any():
        return {c: _nan("no item has two or more votes") for c in t.categories}
    c, mm = counts[pair].astype(np.float64), m[pair].astype(np.float64)[:, None]
    n_items, n_values = int(pair.sum()), int(mm.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "fleiss":
            rated = m >= 1
            pi = (counts[rated] / m[rated, None]).mean(axis=0)
            observed = ((c * (c - 1.0) + (mm - c) * (mm - c - 1.0)) / (mm * (mm - 1.0))).mean(axis=0)
            expected = pi * pi + (1.0 - pi) * (1.0 - pi)
            value = (observed - expected) / (1.0 - expected)
        else:
            n = float(mm.sum())
            n_c = c.sum(axis=0)
            observed = ((mm * c - c * c) / (mm - 1.0)).sum(axis=0) * 2.0 / n
            expected = 2.0 * n_c * (n - n_c) / (n * (n - 1.0))
            value = 1.0 - observed / expected
    out: dict[Hashable, AgreementResult] = {}
    for j, cat in enumerate(t.categories):
        if np.isfinite(value[j]) and abs(1.0 - expected[j]) > _EPS and expected[j] > _EPS:
            out[cat] = AgreementResult(float(value[j]), None, n_items, n_values, float(observed[j]), float(expected[j]))
        else:
            out[cat] = AgreementResult(
                _NAN, f"no variation: label {cat!r} was chosen by all or none", n_items, n_values
            )
    return out


def _encode_pair(
    a: Sequence[Hashable] | npt.ArrayLike, b: Sequence[Hashable] | npt.ArrayLike, categories: Sequence[Hashable] | None
) -> tuple[IntArray, IntArray, tuple[Hashable, ...]]:
    ra, rb = np.asarray(a), np.asarray(b)
    if ra.ndim != 1 or ra.shape != rb.shape:
        raise InputRejected(
            "cohen_kappa", "two 1-D rating sequences of equal length", f"shapes {ra.shape} and {rb.shape}"
        )
    if categories is None and ra.dtype.kind in "iufb" and rb.dtype.kind in "iufb":
        both = np.concatenate([ra, rb]).astype(np.float64)
        keep = ~(np.isnan(both[: ra.size]) | np.isnan(both[ra.size :]))
        codes, cats = _encode_numeric(np.concatenate([both[: ra.size][keep], both[ra.size :][keep]]))
    else:
        la, lb = ra.tolist(), rb.tolist()
        pairs = [(x, y) for x, y in zip(la, lb, strict=True) if not (_is_missing(x) or _is_missing(y))]
        codes, cats = _encode_labels([x for x, _ in pairs] + [y for _, y in pairs], categories)
    half = codes.size // 2
    return codes[:half], codes[half:], cats


def _weights(k: int, weights: Literal["linear", "quadratic"] | None) -> FloatArray:
    i = np.arange(k, dtype=np.float64)
    d: FloatArray = np.abs(i[:, None] - i[None, :])
    if weights is None:
        return (d > 0).astype(np.float64)
    if weights == "linear":
        return d
    if weights == "quadratic":
        return d * d
    raise InputRejected("weights", "None, 'linear' or 'quadratic'", repr(weights))


def cohen_kappa(
    rater_a: Sequence[Hashable] | npt.ArrayLike,
    rater_b: Sequence[Hashable] | npt.ArrayLike,
    *,
    categories: Sequence[Hashable] | None = None,
    weights: Literal["linear", "quadratic"] | None = None,
) -> AgreementResult:
    """Cohen's κ between two raters, optionally weighted (Cohen 1960; 1968).

    Positions where either rater is missing (``None``/NaN) are dropped. Weighted κ uses the
    order of ``categories`` (sorted labels by default), as scikit-learn's
    ``cohen_kappa_score`` does.

    Args:
        rater_a: Labels of the first rater, one per item.
        rater_b: Labels of the second rater, aligned with ``rater_a``.
        categories: The label set, in order; by default the sorted labels seen.
        weights: ``None`` (unweighted), ``"linear"`` or ``"quadratic"``.

    Example:
        >>> round(cohen_kappa(["y", "y", "n", "n", "y"], ["y", "n", "n", "n", "y"]).value, 4)
        0.6154
    """
    ca, cb, cats = _encode_pair(rater_a, rater_b, categories)
    w = _weights(len(cats), weights)
    n = int(ca.size)
    if n == 0:
        return _nan("no item rated by both raters")
    k = len(cats)
    observed = np.bincount(ca * k + cb, minlength=k * k).reshape(k, k).astype(np.float64) / n
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    d_o, d_e = float((w * observed).sum()), float((w * expected).sum())
    if d_e <= _EPS:
        return AgreementResult(_NAN, "no variation: both raters used one and the same label", n, 2 * n, d_o, d_e)
    return AgreementResult(1.0 - d_o / d_e, None, n, 2 * n, d_o, d_e)


@dataclass(frozen=True, slots=True)
class PairwiseAgreement:
    """Agreement of every annotator pair on the items both labelled.

    Attributes:
        annotators: Annotator names, indexing both axes.
        values: ``A × A`` symmetric matrix of the coefficient; NaN on the diagonal and for
            pairs that share no item (or whose κ is undefined).
        n_shared: ``A × A`` matrix of the number of items both labelled.
        metric: ``"cohen"`` or ``"percent"``.

    Example:
        >>> r = pairwise_agreement(VoteTable.from_matrix([[1, 1, 2], [2, 2, 2], [1, 2, 1]]), "percent")
        >>> r.values.round(2).tolist()[0], round(r.mean(), 3)
        ([nan, 0.67, 0.67], 0.556)
    """

    annotators: Sequence[Hashable]
    values: FloatArray
    n_shared: IntArray
    metric: str

    def mean(self) -> float:
        """Mean over defined pairs (each unordered pair once); NaN if none."""
        iu = np.triu_indices(len(self.annotators), k=1)
        v = self.values[iu]
        v = v[np.isfinite(v)]
        return float(v.mean()) if v.size else _NAN


def _vote_pairs(t: VoteTable) -> tuple[IntArray, IntArray]:
    """Indices (left, right) of every unordered pair of votes on the same item."""
    order = np.argsort(t.items, kind="stable")
    m = t.votes_per_item()
    starts = np.cumsum(m) - m
    item_sorted = t.items[order]
    rank = np.arange(order.size) - starts[item_sorted]
    after = m[item_sorted] - 1 - rank  # later votes on the same item
    left_pos = np.repeat(np.arange(order.size), after)
    block = np.cumsum(after) - after
    right_pos = left_pos + 1 + (np.arange(left_pos.size) - np.repeat(block, after))
    return order[left_pos], order[right_pos]


def pairwise_agreement(
    data: VoteTable | npt.ArrayLike, metric: Literal["cohen", "percent"] = "cohen"
) -> PairwiseAgreement:
    """Cohen's κ (or percent agreement) for every pair of annotators.

    Vectorised over the pairs of votes that share an item, so the cost grows with
    ``Σ_items m²`` rather than with ``annotators² × items``.

    Example:
        >>> t = VoteTable.from_records([(1, "a", 0), (1, "b", 0), (2, "a", 1), (2, "b", 1), (3, "a", 1), (3, "b", 0)])
        >>> r = pairwise_agreement(t)
        >>> round(float(r.values[0, 1]), 4), int(r.n_shared[0, 1])
        (0.4, 3)
    """
    if metric not in ("cohen", "percent"):
        raise InputRejected("metric", "'cohen' or 'percent'", repr(metric))
    t = as_table(data)
    a_n, k = t.n_annotators, max(t.n_categories, 1)
    values = np.full((a_n, a_n), _NAN)
    shared = np.zeros((a_n, a_n), dtype=np.int64)
    left, right = _vote_pairs(t)
    if left.size:
        a, b = t.annotators[left], t.annotators[right]
        la, lb = t.labels[left], t.labels[right]
        swap = a > b
        a, b = np.where(swap, b, a), np.where(swap, a, b)
        la, lb = np.where(swap, lb, la), np.where(swap, la, lb)
        flat = a * a_n + b
        if a_n * a_n <= max(4 * flat.size, 1 << 16):  # few annotators: count, don't sort
            present = np.bincount(flat, minlength=a_n * a_n) > 0
            pair_ids = np.flatnonzero(present)
            pair = (np.cumsum(present) - 1)[flat]
        else:
            pair_ids, pair = np.unique(flat, return_inverse=True)
        n_p = np.bincount(pair).astype(np.float64)
        po = np.bincount(pair, weights=(la == lb).astype(np.float64)) / n_p
        if metric == "percent":
            val = po
        else:
            ma = np.bincount(pair * k + la, minlength=pair_ids.size * k).reshape(-1, k) / n_p[:, None]
            mb = np.bincount(pair * k + lb, minlength=pair_ids.size * k).reshape(-1, k) / n_p[:, None]
            pe = (ma * mb).sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                val = np.where(1.0 - pe > _EPS, (po - pe) / (1.0 - pe), _NAN)
        pa, pb = np.divmod(pair_ids, a_n)
        values[pa, pb] = values[pb, pa] = val
        shared[pa, pb] = shared[pb, pa] = n_p.astype(np.int64)
    return PairwiseAgreement(t.annotator_names, values, shared, metric)
