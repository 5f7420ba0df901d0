"""Pre-annotation benchmark: items/s per backend, engine overhead, cuboid recall, digits accuracy.

Engine overhead: the same items, in the same batches, through ``preannotate`` (read pending
items, predict, validate, store suggestions with their provenance event, one transaction per
batch) versus the backend's ``predict`` called directly on items already in memory. Each
backend runs ``--repeat`` times (default 3) on a fresh store, direct then engine; the best of
each is compared (wall clock, and CPU time of this process, steadier on a shared machine). The
engine's cost per item is the difference.

``--db-url URL`` runs the store on that database instead of a SQLite file; a PostgreSQL URL
(``postgresql+psycopg://postgres@127.0.0.1:5432/test``) gets a fresh schema per run, dropped
afterwards (blobs stay in a temporary directory either way).

Run: ``PYTHONPATH=src:. .venv/bin/python benchmarks/preannotate_bench.py [--quick] [--repeat N]
[--only text.rules,text.ner] [--db-url URL]``
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from labelloop.backends.geometry3d import Box3D, recall_at_iou
from labelloop.backends.image_classify import FewShotClassifier
from labelloop.backends.pointcloud_cuboids import CuboidConfig, detect_cuboids
from labelloop.core.plugins import BackendContext
from labelloop.plugins import PluginManager
from labelloop.services.preannotate import StoreMedia, preannotate
from labelloop.services.samples import make_scene
from labelloop.services.samples._pointclouds import visible_objects
from labelloop.storage import Store
from tests.backends.factories import CLOUD_SCHEMA, TEXT_SCHEMA, add_items, cloud_ref, make_project, text_ref

QUICK = "--quick" in sys.argv
REPEAT = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 3
ONLY = set(sys.argv[sys.argv.index("--only") + 1].split(",")) if "--only" in sys.argv else None
DB_URL = sys.argv[sys.argv.index("--db-url") + 1] if "--db-url" in sys.argv else None


@contextmanager
def database_url() -> Iterator[str | None]:
    """The store's URL for one run: None (SQLite in the data dir) or a fresh PostgreSQL schema."""
    if DB_URL is None or make_url(DB_URL).get_backend_name() != "postgresql":
        yield DB_URL
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(DB_URL)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(DB_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    finally:
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


RULES = {
    "rules": [
        {
            "name": "places",
            "kind": "gazetteer",
            "control": "entities",
            "entries": {
                "北京": "LOC",
                "上海": "LOC",
                "London": "LOC",
                "Paris": "LOC",
                "阿里巴巴": "ORG",
                "Google": "ORG",
            },
        },
        {"name": "people", "kind": "dictionary", "control": "entities", "label": "PER", "terms": ["Alice", "张三"]},
        {
            "name": "email",
            "kind": "regex",
            "control": "entities",
            "label": "ORG",
            "pattern": r"@(\w+)\.com",
            "group": 1,
        },
        {"name": "good", "kind": "regex", "control": "sentiment", "label": "pos", "pattern": "(?i)great|好"},
    ]
}
SENTENCES = [
    "张三在北京的阿里巴巴工作，觉得很好。",
    "Alice flew from London to Paris to meet Google people, great trip.",
    "Write to alice@acme.com about the 上海 office.",
    "Nothing to see in this sentence at all, just words and more words.",
]
NER_SENTENCES = [
    "Angela Merkel met Emmanuel Macron in Paris to discuss Airbus orders.",
    "张伟昨天在北京的清华大学见到了阿里巴巴公司的马云。",
    "Tim Cook 和张伟在上海见面, then flew to London 😀.",
    "Nothing to see in this sentence at all, just words and more words.",
]


def _one_run(name: str, schema: dict, field: str, refs_fn, config: dict, batch: int) -> tuple[int, list[float]]:  # type: ignore[type-arg]
    """One fresh store: direct predict over all items (after a warm-up pass), then the engine.

    Returns:
        The item count and [direct wall, direct CPU, engine wall, engine CPU] seconds.
    """
    with tempfile.TemporaryDirectory() as d, database_url() as url:
        store = Store.open(url, Path(d))
        s = make_project(store, "p", schema)
        items = add_items(store, "p", field, refs_fn(store))
        pm = PluginManager()
        direct = pm.create_backend(name, config)
        direct.setup(BackendContext(media=StoreMedia(store)))
        controls = [c for c in s.controls if direct.capabilities.supports(c, s)]
        for i in range(0, len(items), batch):  # warm-up over every item: imports, caches, spaCy's vocabulary
            direct.predict(items[i : i + batch], s, controls)
        t, c = time.perf_counter(), time.process_time()
        for i in range(0, len(items), batch):
            direct.predict(items[i : i + batch], s, controls)
        t_direct, c_direct = time.perf_counter() - t, time.process_time() - c
        r = preannotate(store, "p", name, plugins=pm, config=config, batch_size=batch)
        assert r.failed == 0 and r.suggestions == len(items), r.errors[:3]
        store.close()
    return len(items), [t_direct, c_direct, r.seconds, r.cpu_seconds]


def engine_vs_direct(name: str, schema: dict, field: str, refs_fn, config: dict, batch: int) -> None:  # type: ignore[type-arg]
    if ONLY is not None and name not in ONLY:
        return
    runs = [_one_run(name, schema, field, refs_fn, config, batch) for _ in range(REPEAT)]
    n = runs[0][0]
    t_direct, c_direct, t_engine, c_engine = (min(r[1][k] for r in runs) for k in range(4))
    per = 1e6 / n
    db = "sqlite" if DB_URL is None else make_url(DB_URL).get_backend_name()
    print(
        f"{name:18s} [{db}] {n:6d} items (batch {batch}, best of {REPEAT}): direct {n / t_direct:8.1f} items/s, "
        f"engine {n / t_engine:8.1f} items/s; overhead {t_engine / t_direct - 1:+.1%} wall, "
        f"{c_engine / c_direct - 1:+.1%} CPU; per item: backend {t_direct * per:.1f} us, "
        f"engine adds {(t_engine - t_direct) * per:.1f} us "
        f"(CPU: {c_direct * per:.1f} + {(c_engine - c_direct) * per:.1f} us)"
    )


def cuboids(frames: int, points: int) -> None:
    cfg = CuboidConfig()
    scenes = [make_scene(np.random.default_rng(100 + i), n_objects=10, n_points=points) for i in range(frames)]
    detect_cuboids(scenes[0].xyz, cfg)  # warm-up: imports
    hit = total = 0
    per_class: dict[str, list[int]] = {}
    t = time.perf_counter()
    results = [detect_cuboids(sc.xyz, cfg) for sc in scenes]
    dt = time.perf_counter() - t
    for sc, dets in zip(scenes, results, strict=True):
        vis = visible_objects(sc)
        truth = [Box3D(sc.cuboids[k].center, sc.cuboids[k].size, sc.cuboids[k].yaw) for k in vis]
        h, n = recall_at_iou([d.box for d in dets if d.label], truth, 0.5)
        hit, total = hit + h, total + n
        for k, tb in zip(vis, truth, strict=True):
            lab = sc.cuboids[k].label
            hh, _ = recall_at_iou([d.box for d in dets if d.label == lab], [tb], 0.5)
            per_class.setdefault(lab, [0, 0])
            per_class[lab][0] += hh
            per_class[lab][1] += 1
    pts = np.mean([len(sc.xyz) for sc in scenes])
    classes = ", ".join(f"{k} {a}/{b}" for k, (a, b) in sorted(per_class.items()))
    print(
        f"pointcloud.cuboids   {frames} frames x {pts:.0f} pts: {frames / dt:.1f} frames/s; "
        f"recall@3D-IoU0.5 {hit}/{total} = {hit / total:.3f} (class-agnostic); with the right class: {classes}"
    )


def digits() -> None:
    from sklearn.datasets import load_digits

    d = load_digits()
    for shots in (5, 20, 100):
        accs = []
        for seed in range(5):
            rng = np.random.default_rng(seed)
            tr = np.concatenate([rng.choice(np.flatnonzero(d.target == k), shots, replace=False) for k in range(10)])
            te = np.setdiff1d(np.arange(len(d.target)), tr)
            clf = FewShotClassifier().fit(list(d.images[tr]), [str(v) for v in d.target[tr]])
            labels, _ = clf.predict(list(d.images[te]))
            accs.append(float(np.mean(np.array(labels) == d.target[te].astype(str))))
        print(f"image.classify digits {shots:3d}-shot: accuracy {np.mean(accs):.3f} ± {np.std(accs):.3f} (5 splits)")


def main() -> None:
    n_text = 2000 if QUICK else 20000
    engine_vs_direct(
        "text.rules", TEXT_SCHEMA, "text",
        lambda st: [text_ref(f"{SENTENCES[i % 4]} #{i}") for i in range(n_text)], RULES, 256,
    )  # fmt: skip
    n_ner = 512 if QUICK else 4096
    engine_vs_direct(
        "text.ner", TEXT_SCHEMA, "text",
        lambda st: [text_ref(f"{NER_SENTENCES[i % 4]} #{i}") for i in range(n_ner)], {}, 256,
    )  # fmt: skip
    n_frames = 4 if QUICK else 12

    def clouds(st: Store) -> list:  # type: ignore[type-arg]
        return [cloud_ref(st, make_scene(np.random.default_rng(i), 10, 100_000).xyz) for i in range(n_frames)]

    engine_vs_direct("pointcloud.cuboids", CLOUD_SCHEMA, "pointcloud", clouds, {}, 4)
    if ONLY is None:
        cuboids(5 if QUICK else 20, 100_000)
        digits()


if __name__ == "__main__":
    main()
