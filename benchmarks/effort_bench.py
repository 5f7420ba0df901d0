"""Human-effort benchmark on scikit-learn digits (run: ``.venv/bin/python benchmarks/effort_bench.py``).

Prints, per strategy and averaged over seeds, human time as a fraction of pure manual labelling,
final label accuracy vs gold and whether the certified auto-accept bound held; then the gold
labels an active learner needs to reach 95% test accuracy with margin, diverse (margin + k-center)
and random sampling. Costs and human accuracy are the documented assumptions of
:mod:`labelloop.services.simulate`.
"""

from __future__ import annotations

import sys

import numpy as np

from labelloop.services.simulate import STRATEGIES, labels_to_reach, simulate


def main(seeds: int = 5) -> None:
    """Run the benchmark and print one line per strategy and sampler."""
    print(f"digits, {seeds} seeds: mean (min..max)")
    for name in STRATEGIES:
        rs = [simulate("digits", name, seed=s) for s in range(seeds)]
        tf = np.array([r.time_fraction for r in rs])
        acc = np.array([r.accuracy for r in rs])
        held = [r.bound_held for r in rs]
        auto = np.mean([r.auto_accepted for r in rs])
        print(
            f"{name:>7}: time {tf.mean():.3f} ({tf.min():.3f}..{tf.max():.3f}) of manual, "
            f"accuracy {acc.mean():.4f} ({acc.min():.4f}..{acc.max():.4f}), auto {auto:.0f}, bound held {held}"
        )
    for sampler in ("margin", "diverse", "random"):
        ns = [labels_to_reach(0.95, sampler, seed=s) for s in range(seeds)]
        print(f"labels to 95% test accuracy, {sampler:>7}: {ns}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
