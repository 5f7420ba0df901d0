"""Truth inference for categorical crowd labels: majority vote and Dawid-Skene EM.

Every aggregator is an estimator: hyper-parameters in the constructor, ``fit(table)``
returns ``self``, learned state lives in trailing-underscore attributes, and
``predict`` / ``predict_proba`` / ``fit_predict`` / ``fit_predict_proba`` return arrays of
category codes (decode them with ``categories_``) or ``items × categories`` posteriors.
``predict(table)`` on a new table reuses what was learned (annotator confusion matrices,
class priors) for the annotators it knows; unknown annotators are uninformative.

The EM steps are vectorised: each iteration is two sparse matrix products over the votes,
with no Python loop over items or annotators.

References:
    Dawid, A. P., & Skene, A. M. (1979). Maximum likelihood estimation of observer
    error-rates using the EM algorithm. *Journal of the Royal Statistical Society C*,
    28(1), 20-28.
    Zhang, Y., Chen, X., Zhou, D., & Jordan, M. I. (2016). Spectral methods meet EM: a
    provably optimal algorithm for crowdsourcing. *JMLR*, 17(102) (the one-coin model).

Example:
    >>> rows = [(i, a, "cat" if (i + a) % 4 else "dog") for i in range(6) for a in range(3)]
    >>> ds = DawidSkene(max_iter=50).fit(VoteTable.from_records(rows))
    >>> ds.probas_.shape, ds.errors_.shape, bool(np.allclose(ds.probas_.sum(axis=1), 1))
    ((6, 2), (3, 2, 2), True)
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Literal, Self

import numpy as np
import numpy.typing as npt

from labelloop.errors import InputRejected
from labelloop.quality.votes import FloatArray, IntArray, VoteTable, as_table

__all__ = ["DawidSkene", "MajorityVote", "OneCoinDawidSkene"]

_TINY = 1e-300


def _logsumexp(x: FloatArray) -> FloatArray:
    top = x.max(axis=1, keepdims=True)
    out: FloatArray = (top + np.log(np.exp(x - top).sum(axis=1, keepdims=True)))[:, 0]
    return out


def _normalise_log(x: FloatArray) -> tuple[FloatArray, float]:
    lse = _logsumexp(x)
    return np.exp(x - lse[:, None]), float(lse.sum())


class _Aggregator:
    """Shared fit/predict plumbing; subclasses implement ``_fit`` and ``_posterior``."""

    categories_: tuple[Hashable, ...]
    annotators_: Sequence[Hashable]
    items_: Sequence[Hashable]
    probas_: FloatArray
    labels_: IntArray
    skills_: FloatArray

    def _fit(self, t: VoteTable) -> None:
        raise NotImplementedError

    def _posterior(self, t: VoteTable, annotators: IntArray) -> FloatArray:
        raise NotImplementedError

    def _argmax(self, probas: FloatArray) -> IntArray:
        return np.asarray(probas.argmax(axis=1), dtype=np.int64)

    def fit(self, data: VoteTable | npt.ArrayLike) -> Self:
        """Learn from a vote table and store posteriors for its items.

        Raises:
            InputRejected: The table has no votes.
        """
        t = as_table(data)
        if t.n_votes == 0 or t.n_categories == 0:
            raise InputRejected("votes", "at least one vote", "an empty vote table")
        self.categories_ = t.categories
        self.annotators_ = t.annotator_names
        self.items_ = t.item_names
        self._fit(t)
        self.labels_ = self._argmax(self.probas_)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "probas_"):
            raise InputRejected(type(self).__name__, "a fitted estimator (call fit first)", "an unfitted one")

    def _align(self, t: VoteTable) -> tuple[VoteTable, IntArray]:
        """Re-express a new table in the fitted categories; map its annotators (-1 = unknown)."""
        index = {c: i for i, c in enumerate(self.categories_)}
        unknown = [c for c in t.categories if c not in index]
        if unknown:
            raise InputRejected(
                "votes", f"labels among the fitted categories {list(self.categories_)!r}", f"{unknown[:5]!r}"
            )
        remap = np.array([index[c] for c in t.categories], dtype=np.int64)
        labels = remap[t.labels] if remap.size else t.labels
        aligned = VoteTable(
            t.items,
            t.annotators,
            labels,
            item_names=t.item_names,
            annotator_names=t.annotator_names,
            categories=self.categories_,
            _check=False,
        )
        known = {a: i for i, a in enumerate(self.annotators_)}
        ann_map = np.array([known.get(a, -1) for a in t.annotator_names], dtype=np.int64)
        return aligned, (ann_map[t.annotators] if ann_map.size else t.annotators)

    def predict_proba(self, data: VoteTable | npt.ArrayLike | None = None) -> FloatArray:
        """Posterior over categories for each item: the fitted items, or those of ``data``."""
        self._check_fitted()
        if data is None:
            return self.probas_
        t, annotators = self._align(as_table(data))
        return self._posterior(t, annotators)

    def predict(self, data: VoteTable | npt.ArrayLike | None = None) -> IntArray:
        """Most probable category code for each item (ties broken deterministically)."""
        self._check_fitted()
        if data is None:
            return self.labels_
        return self._argmax(self.predict_proba(data))

    def fit_predict(self, data: VoteTable | npt.ArrayLike) -> IntArray:
        """``fit(data)`` then return ``labels_``."""
        return self.fit(data).labels_

    def fit_predict_proba(self, data: VoteTable | npt.ArrayLike) -> FloatArray:
        """``fit(data)`` then return ``probas_``."""
        return self.fit(data).probas_


def _vote_shares(t: VoteTable) -> FloatArray:
    counts = t.counts().astype(np.float64)
    total = counts.sum(axis=1, keepdims=True)
    k = max(t.n_categories, 1)
    out: FloatArray = np.divide(counts, total, out=np.full_like(counts, 1.0 / k), where=total > 0)
    return out


class MajorityVote(_Aggregator):
    """Majority vote with class scores and deterministic tie-breaking.

    ``probas_`` are the vote shares (uniform for an item without votes). A tie (say three
    annotators, three different labels) has no majority; it is broken:

    * ``tie_break="skill"`` (default): for the tied category whose voters agree most with the
      majority on the items that have one (each annotator's agreement rate, smoothed as
      ``(hits + 1) / (votes + 2)``, summed over the category's voters); remaining ties go to
      the category listed first. Items with a majority are never changed.
    * ``"first"``: the category listed first in ``categories_``.
    * ``"random"``: a uniformly drawn tied category from a seeded generator.

    ``skills_`` is each annotator's agreement with the chosen labels (NaN without votes).

    Args:
        tie_break: ``"skill"``, ``"first"`` or ``"random"``.
        random_state: Seed for ``tie_break="random"``.

    Example:
        >>> t = VoteTable.from_records([(1, "a", "x"), (1, "b", "y"), (1, "c", "y"), (2, "a", "x")])
        >>> mv = MajorityVote().fit(t)
        >>> t.decode(mv.labels_), mv.probas_.round(2).tolist()
        (['y', 'x'], [[0.33, 0.67], [1.0, 0.0]])
        >>> # item 3 is a tie between a (who agrees with the majority) and b (who does not)
        >>> t = VoteTable.from_records([(1, "a", "x"), (1, "c", "x"), (1, "b", "y"),
        ...                             (2, "a", "y"), (2, "c", "y"), (2, "b", "x"),
        ...                             (3, "b", "x"), (3, "a", "y")])
        >>> t.decode(MajorityVote().fit(t).labels_), t.decode(MajorityVote("first").fit(t).labels_)
        (['x', 'y', 'y'], ['x', 'y', 'x'])
    """

    def __init__(self, tie_break: Literal["skill", "first", "random"] = "skill", random_state: int | None = 0) -> None:
        if tie_break not in ("skill", "first", "random"):
            raise InputRejected("tie_break", "'skill', 'first' or 'random'", repr(tie_break))
        self.tie_break = tie_break
        self.random_state = random_state

    def _argmax(self, probas: FloatArray) -> IntArray:
        if self.tie_break != "random" or probas.size == 0:
            return np.asarray(probas.argmax(axis=1), dtype=np.int64)
        tied = _tied(probas)
        keys = np.random.default_rng(self.random_state).random(probas.shape)
        return np.asarray(np.where(tied, keys, -1.0).argmax(axis=1), dtype=np.int64)

    def _by_skill(self, t: VoteTable, annotators: IntArray, probas: FloatArray, skill: FloatArray) -> IntArray:
        """Labels with ties broken by the summed skill of each tied category's voters."""
        labels = self._argmax(probas)
        tied = _tied(probas)
        several = tied.sum(axis=1) > 1
        if not several.any():
            return labels
        weight = np.where(annotators >= 0, skill[np.maximum(annotators, 0)], 0.5)
        support = np.zeros_like(probas)
        np.add.at(support, (t.items, t.labels), weight)
        support = np.where(tied, support, -1.0)
        labels[several] = support[several].argmax(axis=1)
        return labels

    def _fit(self, t: VoteTable) -> None:
        self.probas_ = _vote_shares(t)
        labels = self._argmax(self.probas_)
        if self.tie_break == "skill":
            decided = _tied(self.probas_).sum(axis=1) == 1
            on = decided[t.items]
            hits = np.bincount(t.annotators[on], weights=labels[t.items[on]] == t.labels[on], minlength=t.n_annotators)
            n = np.bincount(t.annotators[on], minlength=t.n_annotators).astype(np.float64)
            self._tie_skill = (hits + 1.0) / (n + 2.0)
            labels = self._by_skill(t, t.annotators, self.probas_, self._tie_skill)
        self._labels = labels
        hits = np.bincount(t.annotators, weights=(labels[t.items] == t.labels), minlength=t.n_annotators)
        n = np.bincount(t.annotators, minlength=t.n_annotators).astype(np.float64)
        self.skills_ = np.divide(hits, n, out=np.full_like(n, np.nan), where=n > 0)

    def fit(self, data: VoteTable | npt.ArrayLike) -> Self:
        """Learn from a vote table and store vote shares and labels for its items."""
        super().fit(data)
        self.labels_ = self._labels
        return self

    def predict(self, data: VoteTable | npt.ArrayLike | None = None) -> IntArray:
        """Majority label per item; ties broken as configured (``skill`` uses the fitted annotators)."""
        self._check_fitted()
        if data is None or self.tie_break != "skill":
            return super().predict(data)
        t, annotators = self._align(as_table(data))
        return self._by_skill(t, annotators, self._posterior(t, annotators), self._tie_skill)

    def _posterior(self, t: VoteTable, annotators: IntArray) -> FloatArray:
        return _vote_shares(t)


def _tied(probas: FloatArray) -> npt.NDArray[np.bool_]:
    """Which categories share each row's maximum."""
    return np.isclose(probas, probas.max(axis=1, keepdims=True), rtol=0.0, atol=1e-12)


class _Incidence:
    """Sparse vote incidence matrices, built once per table and reused by every EM step."""

    def __init__(self, t: VoteTable) -> None:
        from scipy import sparse

        n = t.n_votes
        ones = np.ones(n)
        self.items_by_vote = sparse.csr_matrix((ones, (t.items, np.arange(n))), shape=(t.n_items, n))
        rows = t.annotators * t.n_categories + t.labels
        shape = (t.n_annotators * t.n_categories, t.n_items)
        self.answers_by_item = sparse.csr_matrix((ones, (rows, t.items)), shape=shape)


class _EMBase(_Aggregator):
    """EM loop shared by the full and one-coin Dawid-Skene models."""

    priors_: FloatArray
    errors_: FloatArray
    n_iter_: int
    converged_: bool
    log_likelihood_: float

    def __init__(
        self, max_iter: int = 100, tol: float = 1e-6, smoothing: float = 0.1, diagonal_prior: float = 1.0
    ) -> None:
        if max_iter < 1 or tol < 0 or smoothing < 0 or diagonal_prior < 0:
            got = f"max_iter={max_iter}, tol={tol}, smoothing={smoothing}, diagonal_prior={diagonal_prior}"
            raise InputRejected(
                type(self).__name__, "max_iter >= 1, tol >= 0, smoothing >= 0, diagonal_prior >= 0", got
            )
        self.max_iter = max_iter
        self.tol = tol
        self.smoothing = smoothing
        self.diagonal_prior = diagonal_prior

    def _m_step(self, t: VoteTable, post: FloatArray, mats: _Incidence) -> None:
        raise NotImplementedError

    def _log_joint(self, t: VoteTable, annotators: IntArray, mats: _Incidence) -> FloatArray:
        raise NotImplementedError

    def _fit(self, t: VoteTable) -> None:
        mats = _Incidence(t)
        k = t.n_categories
        rated = t.votes_per_item() > 0
        post = _vote_shares(t)
        self.n_iter_, self.converged_, ll = 0, False, -np.inf
        for it in range(1, self.max_iter + 1):
            self.priors_ = (post[rated].sum(axis=0) + self.smoothing) / (rated.sum() + k * self.smoothing)
            self._m_step(t, post, mats)
            post, new_ll = _normalise_log(self._log_joint(t, t.annotators, mats))
            self.n_iter_ = it
            if abs(new_ll - ll) <= self.tol * t.n_votes:
                self.converged_ = True
                ll = new_ll
                break
            ll = new_ll
        self.log_likelihood_ = ll
        self.probas_ = post
        self.skills_ = (self.priors_[None, :] * np.diagonal(self.errors_, axis1=1, axis2=2)).sum(axis=1)

    def _posterior(self, t: VoteTable, annotators: IntArray) -> FloatArray:
        post, _ = _normalise_log(self._log_joint(t, annotators, _Incidence(t)))
        return post


class DawidSkene(_EMBase):
    """Dawid-Skene EM with a full confusion matrix per annotator (Dawid & Skene 1979).

    Starts from majority-vote posteriors; each M-step estimates class priors and every
    annotator's ``K × K`` confusion matrix (``errors_[a, true, given]``) from the soft
    labels; each E-step recomputes the item posteriors. The M-step is a MAP estimate under
    a Dirichlet prior: ``smoothing`` pseudo-votes in every cell plus ``diagonal_prior`` on
    the diagonal (the belief that annotators beat chance). Without the diagonal term, EM
    can drift to the degenerate "everyone is noise" solution on items that only one
    annotator labelled. Stops when the log-likelihood gains less than ``tol`` per vote, or
    after ``max_iter`` iterations.

    Items that only one annotator labelled carry no information about that annotator;
    an annotator who shares no item with anyone is judged from the class priors alone.
    Items without votes get the class priors as their posterior.

    Args:
        max_iter: Maximum EM iterations.
        tol: Convergence tolerance on the log-likelihood change, per vote.
        smoothing: Pseudo-votes added to every confusion-matrix cell and class prior.
        diagonal_prior: Extra pseudo-votes on each confusion matrix's diagonal.

    Attributes:
        probas_: ``items × K`` posteriors.
        labels_: Most probable category code per item.
        priors_: Class priors.
        errors_: ``annotators × K × K`` confusion matrices, rows = true class.
        skills_: Expected accuracy of each annotator, ``Σ_k prior_k · errors_[a, k, k]``.
        n_iter_, converged_, log_likelihood_: Run diagnostics.

    Example:
        >>> t = VoteTable.from_matrix([[0, 0, 1], [1, 1, 1], [0, 0, 0], [1, 1, 0]])
        >>> DawidSkene().fit(t).labels_.tolist()
        [0, 1, 0, 1]
    """

    def _m_step(self, t: VoteTable, post: FloatArray, mats: _Incidence) -> None:
        k, a = t.n_categories, t.n_annotators
        counts = np.asarray(mats.answers_by_item @ post).reshape(a, k, k).transpose(0, 2, 1) + self.smoothing
        counts = counts + self.diagonal_prior * np.eye(k)[None]
        totals = counts.sum(axis=2, keepdims=True)
        self.errors_ = np.divide(counts, totals, out=np.full_like(counts, 1.0 / k), where=totals > 0)

    def _log_joint(self, t: VoteTable, annotators: IntArray, mats: _Incidence) -> FloatArray:
        k = t.n_categories
        log_err = np.log(np.maximum(self.errors_, _TINY))
        log_err = np.concatenate([log_err, np.full((1, k, k), -np.log(k))])  # code -1: unknown annotator
        per_vote = log_err[annotators, :, t.labels]  # (votes, K)
        out: FloatArray = np.log(np.maximum(self.priors_, _TINY))[None, :] + np.asarray(mats.items_by_vote @ per_vote)
        return out


class OneCoinDawidSkene(_EMBase):
    """Dawid-Skene EM where each annotator has one skill (the "one-coin" model).

    Annotator ``a`` gives the true label with probability ``skills_[a]`` and any other
    label uniformly otherwise. The skill is re-estimated (MAP) as
    ``(soft correct votes + smoothing + diagonal_prior) / (votes + K · smoothing +
    diagonal_prior)``, which shrinks annotators with few votes. Fewer parameters than
    :class:`DawidSkene`, so it is the better choice when each annotator labels few items.

    Args:
        max_iter: Maximum EM iterations.
        tol: Convergence tolerance on the log-likelihood change, per vote.
        smoothing: Pseudo-votes per label for skills, and per class for the priors.
        diagonal_prior: Extra pseudo-votes for the annotator being right.

    Attributes:
        probas_, labels_, priors_, skills_, n_iter_, converged_, log_likelihood_: As in
            :class:`DawidSkene`.
        errors_: The confusion matrices the skills imply.

    Example:
        >>> t = VoteTable.from_matrix([[0, 0, 1], [1, 1, 1], [0, 0, 0], [1, 1, 0]])
        >>> ocds = OneCoinDawidSkene().fit(t)
        >>> ocds.labels_.tolist(), bool(ocds.skills_[0] > ocds.skills_[2])
        ([0, 1, 0, 1], True)
    """

    def _m_step(self, t: VoteTable, post: FloatArray, mats: _Incidence) -> None:
        k, a = t.n_categories, t.n_annotators
        correct = np.bincount(t.annotators, weights=post[t.items, t.labels], minlength=a)
        n = np.bincount(t.annotators, minlength=a).astype(np.float64)
        prior_right = self.smoothing + self.diagonal_prior
        s = (correct + prior_right) / np.maximum(n + k * self.smoothing + self.diagonal_prior, _TINY)
        s = np.where(n + self.smoothing > 0, s, 1.0 / k)
        self._skill = np.clip(s, 1e-9, 1.0 - 1e-9) if k > 1 else np.ones(a)
        off = (1.0 - self._skill) / max(k - 1, 1)
        self.errors_ = np.broadcast_to(off[:, None, None], (a, k, k)).copy()
        self.errors_[:, np.arange(k), np.arange(k)] = self._skill[:, None]

    def _log_joint(self, t: VoteTable, annotators: IntArray, mats: _Incidence) -> FloatArray:
        k, u = t.n_categories, t.n_items
        skill = np.append(self._skill, 1.0 / k)  # code -1: unknown annotator, chance level
        on = np.log(skill)
        off = np.log(np.maximum((1.0 - skill) / max(k - 1, 1), _TINY)) if k > 1 else np.zeros_like(skill)
        base = np.bincount(t.items, weights=off[annotators], minlength=u).astype(np.float64)
        bonus = np.bincount(t.items * k + t.labels, weights=(on - off)[annotators], minlength=u * k).astype(np.float64)
        log_prior = np.log(np.maximum(self.priors_, _TINY))
        out: FloatArray = log_prior[None, :] + base[:, None] + bonus.reshape(u, k)
        return out
