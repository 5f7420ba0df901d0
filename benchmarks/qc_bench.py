"""Benchmark of the QC engine: rule throughput, full and incremental runs, confident learning via the service.

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/qc_bench.py [--items N] [--postgres URL]``

1. Rule engine alone: values per second for an image value with 10 boxes, a polygon and a class.
2. ``run_qc`` on a fresh store: N image items, each with a human annotation (10 boxes, some
   bad) and a model suggestion; a full run, then an incremental run after 1% of the items got a
   new annotation version.
3. Confident learning through ``run_qc`` on scikit-learn's digits with 10% / 20% injected label
   noise and out-of-fold logistic-regression probabilities; F1 of the suspects against the
   injected flips (cleanlab's F1 measured here: 0.87 / 0.90).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from labelloop.core import LabelSchema, MediaRef, Medium, NewAnnotation, NewItem, NewSuggestion
from labelloop.quality.rules import RuleEngine
from labelloop.services.qc import list_findings, run_qc
from labelloop.storage import Store

SCHEMA = LabelSchema.model_validate(
    {
        "media": [{"name": "image", "kind": "image"}],
        "controls": [
            {"name": "kind", "kind": "classification", "target": "image", "labels": ["day", "night"]},
            {"name": "objects", "kind": "boxes", "target": "image", "labels": ["car", "person", "bike"]},
            {"name": "outline", "kind": "polygons", "target": "image", "labels": ["car"]},
        ],
    }
)


def _value(rng: np.random.Generator, n_boxes: int = 10) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"id": "k", "control": "kind", "labels": ["day"]}]
    for j in range(n_boxes):
        x, y = rng.uniform(0, 600), rng.uniform(0, 440)
        w, h = rng.uniform(0.5, 80), rng.uniform(0.5, 80)
        label = ["car", "person", "bike"][j % 3]
        out.append({"id": f"b{j}", "control": "objects", "label": label, "xyxy": [x, y, x + w, y + h]})
    out.append({"id": "p", "control": "outline", "label": "car", "points": [[0, 0], [50, 40], [50, 0], [0, 30]]})
    return out


def _media(i: int) -> dict[str, MediaRef]:
    return {"image": MediaRef(Medium.IMAGE, f"{i:064x}", "image/png", meta={"width": 640, "height": 480})}


def bench_rules(n: int = 2000) -> None:
    rng = np.random.default_rng(0)
    values = [_value(rng) for _ in range(n)]
    eng = RuleEngine(SCHEMA)
    media = _media(0)
    t0 = time.perf_counter()
    found = sum(len(eng.check(i, v, media)) for i, v in enumerate(values))
    dt = time.perf_counter() - t0
    print(f"rules: {n} values (12 regions each) in {dt:.2f}s = {n / dt:,.0f} values/s, {found} findings")


def bench_runs(n: int, url: str | None) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="qc-bench-"))
    store = Store.open(url, tmp)
    try:
        rng = np.random.default_rng(1)
        with store.transaction() as tx:
            p = tx.projects.create("bench", SCHEMA, "user:bench")
            ids = tx.items.add_many(p.id, [NewItem(_media(i), f"{i:064x}") for i in range(n)], created_by="bench")
            item_ids = [i for i in ids if i is not None]
            anns = [
                NewAnnotation(i, _value(rng), f"ann{i % 7}", lead_time_s=float(rng.uniform(5, 60))) for i in item_ids
            ]
            ann_ids = tx.labels.add_annotations(p.id, anns)
            tx.labels.add_suggestions(
                p.id, [NewSuggestion(i, _value(rng, 6), "image.det", "1", float(rng.uniform(0.5, 1))) for i in item_ids]
            )
        t0 = time.perf_counter()
        full = run_qc(store, "bench", batch=500)
        dt = time.perf_counter() - t0
        print(
            f"run_qc full ({store.engine.dialect.name}): {n} items in {dt:.2f}s = {n / dt:,.0f} items/s, "
            f"{full.findings_new} findings"
        )
        k = max(1, n // 100)
        with store.transaction() as tx:
            tx.labels.add_annotations(
                p.id,
                [
                    NewAnnotation(item_ids[j], _value(rng), anns[j].annotator, parent_id=ann_ids[j])
                    for j in range(0, n, n // k)
                ],
            )
        t0 = time.perf_counter()
        inc = run_qc(store, "bench", batch=500)
        dt = time.perf_counter() - t0
        print(
            f"run_qc incremental: {inc.items_checked} changed items in {dt:.2f}s, "
            f"{inc.findings_new} new / {inc.findings_resolved} resolved, {inc.findings_open} open"
        )
    finally:
        store.close()
        shutil.rmtree(tmp, ignore_errors=True)


def bench_label_errors() -> None:
    from sklearn.datasets import load_digits

    from labelloop.quality.label_errors import out_of_fold_pred_probs

    x, y = load_digits(return_X_y=True)
    labels = [str(d) for d in range(10)]
    schema = LabelSchema.model_validate(
        {
            "media": [{"name": "text", "kind": "text"}],
            "controls": [{"name": "digit", "kind": "classification", "target": "text", "labels": labels}],
        }
    )
    for rate, baseline in ((0.1, 0.87), (0.2, 0.90)):
        rng = np.random.default_rng(0)
        noisy = y.copy()
        flip = rng.choice(len(y), int(rate * len(y)), replace=False)
        noisy[flip] = (y[flip] + rng.integers(1, 10, flip.size)) % 10
        probs = out_of_fold_pred_probs(x, noisy, seed=0)
        tmp = Path(tempfile.mkdtemp(prefix="qc-bench-"))
        store = Store.open(None, tmp)
        try:
            with store.transaction() as tx:
                p = tx.projects.create("digits", schema, "bench")
                refs = [MediaRef.from_text(f"digit {i}") for i in range(len(y))]
                tx.items.add_many(p.id, [NewItem({"text": r}, r.sha256) for r in refs], created_by="bench")
                items = [it for page in tx.items.iter_all(p.id) for it in page]
                tx.labels.add_annotations(
                    p.id,
                    [
                        NewAnnotation(it.id, [{"id": "d", "control": "digit", "labels": [str(noisy[k])]}], "crowd")
                        for k, it in enumerate(items)
                    ],
                )
            given = {(it.id, "digit"): dict(zip(labels, probs[k].tolist(), strict=True)) for k, it in enumerate(items)}
            t0 = time.perf_counter()
            run_qc(store, "digits", probabilities=given)
            dt = time.perf_counter() - t0
            suspects = {f["item_id"] for f in list_findings(store, "digits") if f["detector"] == "label_error"}
            truth = {items[k].id for k in flip.tolist()}
            tp = len(suspects & truth)
            f1 = 2 * tp / (len(suspects) + len(truth))
            print(
                f"confident learning via run_qc, digits {rate:.0%} noise: F1 {f1:.3f} "
                f"(precision {tp / max(len(suspects), 1):.3f}, recall {tp / len(truth):.3f}; cleanlab {baseline}) "
                f"in {dt:.2f}s"
            )
        finally:
            store.close()
            shutil.rmtree(tmp, ignore_errors=True)


def _scratch_postgres(url: str) -> tuple[str, Any]:
    """A fresh schema on the server (search_path set in the URL) and a function that drops it."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = f"qc_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return scoped.render_as_string(hide_password=False), drop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--items", type=int, default=5000)
    ap.add_argument(
        "--postgres", default=None, help="PostgreSQL URL to run on too (in a scratch schema, dropped after)"
    )
    args = ap.parse_args()
    bench_rules()
    bench_runs(args.items, None)
    if args.postgres:
        scoped, drop = _scratch_postgres(args.postgres)  # never touches the server's existing schemas
        try:
            bench_runs(args.items, scoped)
        finally:
            drop()
    bench_label_errors()


if __name__ == "__main__":
    main()
