"""Benchmark of labelloop.quality: Krippendorff's alpha speed, aggregation accuracy, label errors.

Run: ``.venv/bin/python benchmarks/quality_bench.py [--seeds N]``

Reference packages (``krippendorff``, ``crowd-kit``, ``scikit-learn``) are used when
installed and skipped otherwise. Baselines quoted from the issue are printed beside ours.
"""

from __future__ import annotations

import argparse
import contextlib
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from labelloop.quality import (
    DawidSkene,
    MajorityVote,
    OneCoinDawidSkene,
    VoteTable,
    find_label_issues,
    krippendorff_alpha,
    out_of_fold_pred_probs,
    simulate_crowd,
)

QUOTED = {
    ("honest", "MV"): 0.982,
    ("honest", "OCDS"): 0.993,
    ("spammers", "MV"): 0.781,
    ("spammers", "OCDS"): 0.881,
    ("cl", 0.1): 0.87,
    ("cl", 0.2): 0.90,
    ("kripp", "s"): 0.17,
}


def best_of(fn: Callable[[], Any], repeat: int = 5) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(1):
        yield


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    print(f"\n{title}\n{line}\n{'-' * len(line)}")
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))


# ----------------------------------------------------------------------------- alpha
def bench_alpha(raters: int = 10, items: int = 100_000, k: int = 5, rounds: int = 10) -> None:
    rng = np.random.default_rng(0)
    data = rng.integers(1, k + 1, size=(raters, items)).astype(float)
    data[rng.random(data.shape) < 0.2] = np.nan
    try:
        import krippendorff
    except ImportError:
        krippendorff = None
    rows = []
    for level in ("nominal", "ordinal", "interval"):
        t_build, tab = best_of(lambda: VoteTable.from_matrix(data, rows="annotators"), repeat=rounds)
        t_alpha, ours = best_of(lambda lv=level, tb=tab: krippendorff_alpha(tb, lv), repeat=rounds)  # type: ignore[misc]
        mine: list[float] = []
        theirs: list[float] = []
        ref = "-"
        for _ in range(rounds):  # interleaved, so both see the same machine load
            t0 = time.perf_counter()
            krippendorff_alpha(VoteTable.from_matrix(data, rows="annotators"), level)  # type: ignore[arg-type]
            mine.append(time.perf_counter() - t0)
            if krippendorff is not None:
                t0 = time.perf_counter()
                ref = f"{krippendorff.alpha(data, level_of_measurement=level):.6f}"
                theirs.append(time.perf_counter() - t0)
        t_ref = float(np.median(theirs)) if theirs else float("nan")
        rows.append(
            [
                level,
                f"{ours.value:.6f}",
                ref,
                f"{np.median(mine):.3f}",
                f"{min(mine):.3f}",
                f"{t_build:.3f}+{t_alpha:.3f}",
                f"{t_ref:.3f}",
                f"{t_ref / np.median(mine):.1f}x",
                f"{QUOTED[('kripp', 's')]:.2f}",
            ]
        )
    header = ["level", "alpha", "krippendorff", "ours s", "ours min", "build+alpha", "pkg s", "speed-up", "issue s"]
    title = f"Krippendorff's alpha, {raters} raters x {items} items, {k} values, 20% missing (median of {rounds})"
    table(title, header, rows)


# ----------------------------------------------------------------------------- aggregation
def digits_truth() -> np.ndarray:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return np.random.default_rng(0).integers(0, 10, 1797)
    return np.asarray(load_digits().target)


def crowd(setup: str, y: np.ndarray, seed: int) -> VoteTable:
    if setup == "honest":  # 5 annotators, accuracies 0.55..0.95, everyone labels everything
        return simulate_crowd(y, np.linspace(0.55, 0.95, 5), n_classes=10, seed=seed)
    acc = np.random.default_rng(100 + seed).uniform(0.55, 0.95, 20)
    acc[:4] = 0.1  # 20% of 20 annotators are uniform spammers; 3 annotators per item
    return simulate_crowd(y, acc, n_classes=10, overlap=3, seed=seed)


def bench_aggregation(seeds: int) -> None:
    y = digits_truth()
    methods: list[tuple[str, Callable[[VoteTable], np.ndarray]]] = [
        ("MV", lambda t: MajorityVote().fit_predict(t)),
        ("MV (ties: first)", lambda t: MajorityVote("first").fit_predict(t)),
        ("DS", lambda t: DawidSkene().fit_predict(t)),
        ("OCDS", lambda t: OneCoinDawidSkene().fit_predict(t)),
    ]
    try:
        import pandas as pd
        from crowdkit import aggregation as ck_agg

        def ck(est: Any) -> Callable[[VoteTable], np.ndarray]:
            def run(t: VoteTable) -> np.ndarray:
                df = pd.DataFrame({"task": t.items, "worker": t.annotators, "label": t.labels})
                return np.asarray(est.fit_predict(df).sort_index().to_numpy())

            return run

        methods += [
            ("crowd-kit MV", ck(ck_agg.MajorityVote())),
            ("crowd-kit DS", ck(ck_agg.DawidSkene(n_iter=100))),
            ("crowd-kit OCDS", ck(ck_agg.OneCoinDawidSkene(n_iter=100))),
        ]
    except ImportError:
        pass
    rows = []
    for setup in ("honest", "spammers"):
        tables = [crowd(setup, y, s) for s in range(seeds)]
        for name, fn in methods:
            accs, times = [], []
            for t in tables:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    dt, pred = best_of(lambda t=t, fn=fn: fn(t), repeat=3)  # type: ignore[misc]
                accs.append(float((pred == y).mean()))
                times.append(dt)
            quoted = QUOTED.get((setup, name))
            rows.append(
                [
                    setup,
                    name,
                    f"{np.mean(accs):.3f}",
                    f"{np.min(accs):.3f}",
                    f"{np.mean(times) * 1000:.1f}",
                    "-" if quoted is None else f"{quoted:.3f}",
                ]
            )
    table(
        f"Aggregation on digits-style crowds ({y.size} items, 10 classes, mean over {seeds} seeds)",
        ["setup", "method", "accuracy", "min acc", "ms", "issue"],
        rows,
    )


# ----------------------------------------------------------------------------- label errors
def bench_label_errors(seeds: int) -> None:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        print("\nConfident learning: scikit-learn not installed, skipped")
        return
    x, y = load_digits(return_X_y=True)
    rows = []
    for rate in (0.1, 0.2):
        f1s: dict[str, list[float]] = {}
        times = []
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            flipped = rng.random(y.size) < rate
            noisy = np.where(flipped, (y + rng.integers(1, 10, y.size)) % 10, y)
            with one_blas_thread():
                t0 = time.perf_counter()
                probs = out_of_fold_pred_probs(x, noisy, seed=seed)
                t_oof = time.perf_counter() - t0
            for fb in ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given"):
                dt, issues = best_of(
                    lambda fb=fb, y_=noisy, p=probs: find_label_issues(y_, p, filter_by=fb),  # type: ignore[misc]
                    repeat=3,
                )
                mask = issues.mask
                f1s.setdefault(fb, []).append(2 * (mask & flipped).sum() / (mask.sum() + flipped.sum()))
                if fb == "prune_by_noise_rate":
                    times.append((t_oof, dt))
        for fb, vals in f1s.items():
            quoted = f"{QUOTED[('cl', rate)]:.2f}" if fb == "prune_by_noise_rate" else "-"
            rows.append([f"{rate:.0%}", fb, f"{np.mean(vals):.3f}", f"{np.min(vals):.3f}", quoted])
        t_oof, t_cl = np.mean(times, axis=0)
        rows.append([f"{rate:.0%}", f"(time: out-of-fold LR {t_oof:.2f} s, CL {t_cl * 1000:.1f} ms)", "", "", ""])
    table(
        f"Confident learning on digits with injected noise, 5-fold logistic regression (mean over {seeds} seeds)",
        ["noise", "filter_by", "F1", "min F1", "cleanlab (issue)"],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    bench_alpha()
    bench_aggregation(args.seeds)
    bench_label_errors(args.seeds)


if __name__ == "__main__":
    main()
