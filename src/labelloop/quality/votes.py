"""The long vote table every crowd method reads, and the result type of agreement scores.

A :class:`VoteTable` holds one row per vote — (item, annotator, label) — with all three
columns encoded as integer codes into ``item_names``, ``annotator_names`` and
``categories``. Build it from Python rows, from arrays, from an items × annotators matrix
with missing cells, or from an items × categories count matrix (Fleiss form).

Example:
    >>> t = VoteTable.from_records([("q1", "ann", "cat"), ("q1", "bob", "dog"), ("q2", "ann", "dog")])
    >>> t.n_items, t.n_annotators, t.categories
    (2, 2, ('cat', 'dog'))
    >>> t.counts().tolist()
    [[1, 1], [0, 1]]
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from labelloop.errors import InputRejected

__all__ = ["AgreementResult", "FloatArray", "IntArray", "VoteTable", "as_table"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_DENSE_LIMIT = 1 << 25  # cells of a dense items × categories matrix we allow


@dataclass(frozen=True, slots=True)
class AgreementResult:
    """An agreement coefficient, or NaN with the reason it is undefined.

    Attributes:
        value: The coefficient; ``nan`` when it is undefined.
        reason: Why ``value`` is NaN (``None`` when it is defined).
        n_items: Items that contributed (those with two or more votes).
        n_values: Votes that contributed (pairable values).
        observed: Observed agreement (or disagreement for Krippendorff's α).
        expected: Agreement (or disagreement) expected by chance.

    Example:
        >>> r = AgreementResult(float("nan"), "only one annotator")
        >>> r.is_defined, float(r)
        (False, nan)
    """

    value: float
    reason: str | None = None
    n_items: int = 0
    n_values: int = 0
    observed: float = math.nan
    expected: float = math.nan

    @property
    def is_defined(self) -> bool:
        """Whether ``value`` is a number."""
        return not math.isnan(self.value)

    def __float__(self) -> float:
        return self.value


def _is_missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _first_seen(values: Iterable[Hashable]) -> tuple[IntArray, tuple[Hashable, ...]]:
    index: dict[Hashable, int] = {}
    codes = [index.setdefault(v, len(index)) for v in values]
    return np.asarray(codes, dtype=np.int64), tuple(index)


def _sorted_categories(values: Iterable[Hashable]) -> tuple[Hashable, ...]:
    distinct = set(values)
    try:
        return tuple(sorted(distinct))  # type: ignore[type-var]
    except TypeError as exc:
        raise InputRejected("labels", "labels of one comparable type (or explicit categories)", str(exc)) from None


def _encode_labels(
    values: Sequence[Hashable], categories: Sequence[Hashable] | None
) -> tuple[IntArray, tuple[Hashable, ...]]:
    cats = _sorted_categories(values) if categories is None else tuple(categories)
    if len(set(cats)) != len(cats):
        raise InputRejected("categories", "distinct category names", repr(cats))
    index = {c: i for i, c in enumerate(cats)}
    codes = [index.get(v, -1) for v in values]
    arr = np.asarray(codes, dtype=np.int64)
    if arr.size and arr.min() < 0:
        unknown = sorted({repr(v) for v, c in zip(values, codes, strict=True) if c < 0})
        raise InputRejected(
            "labels", f"one of the categories {list(cats)!r}", f"unknown labels {', '.join(unknown[:5])}"
        )
    return arr, cats


def _encode_numeric(values: npt.NDArray[np.generic]) -> tuple[IntArray, tuple[Hashable, ...]]:
    """Encode numeric labels to sorted codes; a counting path for small integer ranges."""
    if values.size == 0:
        return np.zeros(0, dtype=np.int64), ()
    lo, hi = float(values.min()), float(values.max())  # type: ignore[arg-type]
    small = hi - lo < max(4 * values.size, 1 << 16) and max(abs(lo), abs(hi)) < 2**52
    if values.dtype.kind in "iubf" and small:
        offs = values.astype(np.int64)
        if values.dtype.kind != "f" or np.array_equal(offs, values):  # integral values
            offs -= int(lo)
            present = np.bincount(offs) > 0
            uniq = np.flatnonzero(present) + int(lo)
            cats: tuple[Hashable, ...] = tuple(int(x) for x in uniq)
            if uniq.size == present.size:  # contiguous values: the offsets are the codes
                return offs, cats
            lookup = np.cumsum(present) - 1
            return lookup[offs].astype(np.int64), cats
    uniq_v, inverse = np.unique(values, return_inverse=True)
    return inverse.astype(np.int64).ravel(), tuple(uniq_v.tolist())


class VoteTable:
    """One long table of votes: (item, annotator, label), encoded as integer codes.

    Each annotator votes at most once per item. Items and annotators are numbered by
    ``item_names`` / ``annotator_names``; labels by ``categories``, whose order is also the
    order used by ordinal statistics and deterministic tie-breaking.

    Args:
        items: Item code of each vote, in ``[0, len(item_names))``.
        annotators: Annotator code of each vote, in ``[0, len(annotator_names))``.
        labels: Category code of each vote, in ``[0, len(categories))``.
        item_names: Name of each item code.
        annotator_names: Name of each annotator code.
        categories: Name of each category code.

    Raises:
        InputRejected: The columns differ in length, a code is out of range, or an annotator
            voted twice on one item.

    Example:
        >>> t = VoteTable([0, 0, 1], [0, 1, 0], [1, 1, 0], item_names=["a", "b"], annotator_names=["x", "y"],
        ...               categories=["neg", "pos"])
        >>> t.n_votes, t.decode([1, 0])
        (3, ['pos', 'neg'])
    """

    __slots__ = ("annotator_names", "annotators", "categories", "item_names", "items", "labels")

    def __init__(
        self,
        items: npt.ArrayLike,
        annotators: npt.ArrayLike,
        labels: npt.ArrayLike,
        *,
        item_names: Sequence[Hashable],
        annotator_names: Sequence[Hashable],
        categories: Sequence[Hashable],
        _check: bool = True,
    ) -> None:
        self.items: IntArray = np.asarray(items, dtype=np.int64).ravel()
        self.annotators: IntArray = np.asarray(annotators, dtype=np.int64).ravel()
        self.labels: IntArray = np.asarray(labels, dtype=np.int64).ravel()
        self.item_names: Sequence[Hashable] = item_names
        self.annotator_names: Sequence[Hashable] = annotator_names
        self.categories: tuple[Hashable, ...] = tuple(categories)
        if _check:
            self._validate()

    def _validate(self) -> None:
        n = self.items.size
        if self.annotators.size != n or self.labels.size != n:
            got = f"lengths {n}, {self.annotators.size}, {self.labels.size}"
            raise InputRejected("vote table", "item, annotator and label columns of equal length", got)
        for name, col, size in (
            ("item", self.items, len(self.item_names)),
            ("annotator", self.annotators, len(self.annotator_names)),
            ("label", self.labels, len(self.categories)),
        ):
            if n and (col.min() < 0 or col.max() >= size):
                got = f"codes in [{col.min()}, {col.max()}]"
                raise InputRejected(f"vote table {name} column", f"codes in [0, {size})", got)
        if n:
            key = self.items * max(len(self.annotator_names), 1) + self.annotators
            if len(self.item_names) * len(self.annotator_names) <= max(4 * n, 1 << 16):
                dup = np.flatnonzero(np.bincount(key) > 1)
            else:
                uniq, cnt = np.unique(key, return_counts=True)
                dup = uniq[cnt > 1]
            if dup.size:
                a = max(len(self.annotator_names), 1)
                item, ann = self.item_names[int(dup[0]) // a], self.annotator_names[int(dup[0]) % a]
                raise InputRejected(
                    "vote table", "at most one vote per (item, annotator)", f"two votes by {ann!r} on {item!r}"
                )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_records(
        cls, rows: Iterable[Sequence[Hashable]], *, categories: Sequence[Hashable] | None = None
    ) -> VoteTable:
        """Build a table from ``(item, annotator, label)`` rows.

        Items and annotators are numbered in order of first appearance. Rows whose label is
        ``None`` or NaN are missing votes and are skipped.

        Args:
            rows: Iterable of 3-sequences.
            categories: The allowed labels, in order; by default the sorted distinct labels.

        Raises:
            InputRejected: A row is not a triple, a label is not in ``categories``, or an
                annotator voted twice on one item.

        Example:
            >>> VoteTable.from_records([(1, "a", "x"), (1, "b", None)]).n_votes
            1
        """
        kept: list[Sequence[Hashable]] = []
        for i, row in enumerate(rows):
            if len(row) != 3:
                raise InputRejected(f"vote row {i}", "(item, annotator, label)", f"{len(row)} fields")
            if not _is_missing(row[2]):
                kept.append(row)
        items, item_names = _first_seen(r[0] for r in kept)
        annotators, annotator_names = _first_seen(r[1] for r in kept)
        labels, cats = _encode_labels([r[2] for r in kept], categories)
        return cls(items, annotators, labels, item_names=item_names, annotator_names=annotator_names, categories=cats)

    @classmethod
    def from_arrays(
        cls,
        items: npt.ArrayLike,
        annotators: npt.ArrayLike,
        labels: npt.ArrayLike,
        *,
        categories: Sequence[Hashable] | None = None,
    ) -> VoteTable:
        """Build a table from three equal-length arrays of raw ids and labels.

        Item and annotator names are the sorted distinct values. NaN labels are skipped.

        Example:
            >>> t = VoteTable.from_arrays([7, 7, 9], ["u", "v", "u"], [0.0, 1.0, float("nan")])
            >>> t.item_names, t.n_votes
            ((7,), 2)
        """
        it, an, lb = np.asarray(items), np.asarray(annotators), np.asarray(labels)
        if not (it.ndim == an.ndim == lb.ndim == 1) or not (it.size == an.size == lb.size):
            got = f"shapes {it.shape}, {an.shape}, {lb.shape}"
            raise InputRejected("vote arrays", "three 1-D arrays of equal length", got)
        if lb.dtype.kind == "f":
            keep = ~np.isnan(lb)
            it, an, lb = it[keep], an[keep], lb[keep]
        elif lb.dtype.kind == "O":
            keep = np.fromiter((not _is_missing(v) for v in lb), dtype=bool, count=lb.size)
            it, an, lb = it[keep], an[keep], lb[keep]
        item_names, item_codes = np.unique(it, return_inverse=True)
        ann_names, ann_codes = np.unique(an, return_inverse=True)
        if categories is None and lb.dtype.kind in "iufb":
            codes, cats = _encode_numeric(lb)
        else:
            codes, cats = _encode_labels(lb.tolist(), categories)
        names, ann = tuple(item_names.tolist()), tuple(ann_names.tolist())
        return cls(item_codes, ann_codes, codes, item_names=names, annotator_names=ann, categories=cats)

    @classmethod
    def from_matrix(
        cls,
        matrix: npt.ArrayLike,
        *,
        rows: Literal["items", "annotators"] = "items",
        categories: Sequence[Hashable] | None = None,
    ) -> VoteTable:
        """Build a table from a rectangular matrix with NaN (or ``None``) for missing votes.

        Args:
            matrix: ``items × annotators`` (or ``annotators × items`` with
                ``rows="annotators"``, the layout of the ``krippendorff`` package).
            rows: What the rows of ``matrix`` are.
            categories: The allowed labels, in order; by default the sorted distinct values.

        Example:
            >>> t = VoteTable.from_matrix([[1, 1], [2, float("nan")]])
            >>> t.n_items, t.n_votes, t.categories
            (2, 3, (1, 2))
        """
        m = np.asarray(matrix)
        if m.ndim != 2:
            raise InputRejected("vote matrix", "a 2-D matrix", f"shape {m.shape}")
        if rows not in ("items", "annotators"):
            raise InputRejected("rows", "'items' or 'annotators'", repr(rows))
        if m.dtype.kind == "f":
            mask = ~np.isnan(m)
        elif m.dtype.kind == "O":
            mask = np.vectorize(lambda v: not _is_missing(v), otypes=[bool])(m)
        else:
            mask = np.ones(m.shape, dtype=bool)
        flat = np.flatnonzero(mask)  # much faster than the 2-D np.nonzero
        row_codes, col_codes = np.divmod(flat, m.shape[1])
        values = m.ravel()[flat]
        if categories is None and values.dtype.kind in "iufb":
            codes, cats = _encode_numeric(values)
        else:
            codes, cats = _encode_labels(values.tolist(), categories)
        n_items, n_annotators = m.shape
        item_codes, ann_codes = row_codes, col_codes
        if rows == "annotators":
            item_codes, ann_codes, n_items, n_annotators = col_codes, row_codes, n_annotators, n_items
        return cls(
            item_codes,
            ann_codes,
            codes,
            item_names=range(n_items),
            annotator_names=range(n_annotators),
            categories=cats,
            _check=False,
        )

    @classmethod
    def from_counts(cls, counts: npt.ArrayLike, *, categories: Sequence[Hashable] | None = None) -> VoteTable:
        """Build a table from an ``items × categories`` matrix of vote counts (Fleiss form).

        Annotators are anonymous in this form: the k-th vote on an item gets annotator
        code k, which is all that agreement coefficients need. Do not fit annotator models
        (Dawid-Skene) on such a table.

        Example:
            >>> VoteTable.from_counts([[2, 1], [0, 3]], categories=["y", "n"]).counts().tolist()
            [[2, 1], [0, 3]]
        """
        c = np.asarray(counts)
        if c.ndim != 2 or (c.size and (c.dtype.kind not in "iuf" or c.min() < 0 or np.any(c != np.floor(c)))):
            raise InputRejected("count matrix", "a 2-D matrix of non-negative integer counts", f"shape {c.shape}")
        c = c.astype(np.int64)
        cats = tuple(range(c.shape[1])) if categories is None else tuple(categories)
        if len(cats) != c.shape[1]:
            raise InputRejected("categories", f"{c.shape[1]} names", f"{len(cats)}")
        flat = c.ravel()
        n = int(flat.sum())
        cell = np.repeat(np.arange(flat.size), flat)
        items, labels = np.divmod(cell, max(c.shape[1], 1))
        starts = np.cumsum(c.sum(axis=1)) - c.sum(axis=1)
        annotators = np.arange(n) - starts[items]
        width = int(c.sum(axis=1).max()) if c.size else 0
        return cls(
            items,
            annotators,
            labels,
            item_names=range(c.shape[0]),
            annotator_names=range(width),
            categories=cats,
            _check=False,
        )

    # ------------------------------------------------------------------ views
    @property
    def n_votes(self) -> int:
        """Number of votes (rows)."""
        return int(self.items.size)

    @property
    def n_items(self) -> int:
        """Number of items (including items without votes)."""
        return len(self.item_names)

    @property
    def n_annotators(self) -> int:
        """Number of annotators."""
        return len(self.annotator_names)

    @property
    def n_categories(self) -> int:
        """Number of categories."""
        return len(self.categories)

    def __len__(self) -> int:
        return self.n_votes

    def __repr__(self) -> str:
        return (
            f"VoteTable(n_votes={self.n_votes}, n_items={self.n_items}, "
            f"n_annotators={self.n_annotators}, categories={list(self.categories)!r})"
        )

    def counts(self) -> IntArray:
        """Return the dense ``items × categories`` matrix of vote counts."""
        k = self.n_categories
        if self.n_items * k > _DENSE_LIMIT:
            raise InputRejected("vote table", f"at most {_DENSE_LIMIT} item × category cells", f"{self.n_items * k}")
        flat = np.bincount(self.items * k + self.labels, minlength=self.n_items * k)
        return flat.reshape(self.n_items, k).astype(np.int64)

    def votes_per_item(self) -> IntArray:
        """Return the number of votes on each item."""
        return np.bincount(self.items, minlength=self.n_items).astype(np.int64)

    def decode(self, codes: npt.ArrayLike) -> list[Hashable]:
        """Map category codes back to category names."""
        return [self.categories[int(c)] for c in np.asarray(codes).ravel()]

    def category_values(self) -> FloatArray:
        """Return the categories as numbers (for interval statistics).

        Raises:
            InputRejected: A category is not numeric.
        """
        try:
            return np.asarray(self.categories, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputRejected(
                "categories", "numeric categories for interval data", repr(self.categories[:5])
            ) from None


def as_table(data: VoteTable | npt.ArrayLike) -> VoteTable:
    """Accept a :class:`VoteTable` or an ``(n, 3)`` array of (item, annotator, label) rows.

    Example:
        >>> as_table([[0, 0, 1], [0, 1, 1]]).n_votes
        2
    """
    if isinstance(data, VoteTable):
        return data
    arr = np.asarray(data)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise InputRejected("votes", "a VoteTable or an (n, 3) array of (item, annotator, label)", f"shape {arr.shape}")
    return VoteTable.from_arrays(arr[:, 0], arr[:, 1], arr[:, 2])
