"""Import and native-export throughput with peak memory, at growing sizes.

Each measurement runs in a fresh child process (so peak RSS is its own) on a fresh SQLite
store in a temporary folder.

    python benchmarks/import_export.py                 # 100k, 300k, 1M items
    python benchmarks/import_export.py --sizes 10000   # quick

Prints, per size: import items/s and peak RSS (short text items from a JSONL manifest), then
the same items with one annotation each imported, and native export items/s and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCHEMA = {
    "media": [{"name": "text", "kind": "text"}],
    "controls": [{"name": "sentiment", "kind": "classification", "target": "text", "labels": ["pos", "neg", "neu"]}],
}
WORDS = [
    "great",
    "product",
    "terrible",
    "service",
    "fast",
    "delivery",
    "broken",
    "screen",
    "love",
    "it",
    "would",
    "buy",
    "again",
    "很好",
    "质量差",
    "物流快",
]


def write_manifest(path: Path, n: int, *, annotated: bool) -> None:
    labels = SCHEMA["controls"][0]["labels"]  # type: ignore[index]
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            text = f"#{i} " + " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(8))
            line: dict[str, object] = {"text": text, "meta": {"n": i}}
            if annotated:
                line["annotations"] = [
                    {"annotator": "bench", "value": [{"id": "s", "control": "sentiment", "labels": [labels[i % 3]]}]}
                ]
            f.write(json.dumps(line, ensure_ascii=False) + "\n")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def helper_peak_rss_mb() -> float:
    """Peak RSS of the import's helper process (large text manifests are parsed in one), if any."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def child(task: str, n: int, work: Path) -> dict[str, float]:
    from labelloop.core import LabelSchema
    from labelloop.services.ingest import import_source
    from labelloop.services.native import export_native
    from labelloop.services.projects import create_project
    from labelloop.storage import Store

    store = Store.open(None, work / "data")
    create_project(store, "bench", LabelSchema.model_validate(SCHEMA), "user:bench")
    manifest = work / f"{task}.jsonl"
    write_manifest(manifest, n, annotated=task == "export")
    base_rss = peak_rss_mb()
    t0 = time.perf_counter()
    report = import_source(store, "bench", manifest, actor="user:bench")
    t_import = time.perf_counter() - t0
    assert report.items == n and not report.errors, report
    out: dict[str, float] = {
        "n": n,
        "import_s": t_import,
        "import_rss_mb": peak_rss_mb(),
        "helper_rss_mb": helper_peak_rss_mb(),
        "base_rss_mb": base_rss,
    }
    if task == "export":
        t0 = time.perf_counter()
        ex = export_native(store, "bench", work / "export")
        out["export_s"] = time.perf_counter() - t0
        out["export_rss_mb"] = peak_rss_mb()
        assert ex.items == n and ex.annotations == n
    store.close()
    return out


def run_child(task: str, n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="labelloop-bench-") as tmp:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", task, "--sizes", str(n), "--work", tmp],
            check=True,
            capture_output=True,
            text=True,
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000,300000,1000000")
    ap.add_argument("--child", choices=["import", "export"])
    ap.add_argument("--work", type=Path)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.child:
        print(json.dumps(child(args.child, sizes[0], args.work)))
        return
    print("labelloop import/export benchmark (SQLite, one process per row)")
    print(
        f"{'items':>9} | {'import items/s':>14} {'peak RSS MB':>11} {'helper RSS MB':>13} | "
        f"{'annotated import/s':>18} | {'export items/s':>14} {'peak RSS MB':>11}"
    )
    for n in sizes:
        imp = run_child("import", n)
        exp = run_child("export", n)
        print(
            f"{n:>9} | {n / imp['import_s']:>14,.0f} {imp['import_rss_mb']:>11.0f} {imp['helper_rss_mb']:>13.0f} | "
            f"{n / exp['import_s']:>18,.0f} | {n / exp['export_s']:>14,.0f} {exp['export_rss_mb']:>11.0f}",
            flush=True,
        )
    print("target: import >= 40,000 items/s with flat memory (Label Studio: ~4,000/s)")
    print("manifests of 16 MiB or more are parsed by a helper process; 'helper RSS' is its peak")


if __name__ == "__main__":
    main()
