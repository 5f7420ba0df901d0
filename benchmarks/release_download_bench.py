"""Release downloads as the API serves them: export a release to a temporary folder, stream it as a zip.

Times the signed export and the zip stream separately and reports the largest chunk and the
Python heap peak (tracemalloc) while the zip streams: the archive itself is never held.

Run: ``PYTHONPATH=src:. .venv/bin/python benchmarks/release_download_bench.py [--items 500] [--format coco]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from PIL import Image

from labelloop.core import LabelSchema
from labelloop.services.ingest import import_source
from labelloop.services.projects import create_project
from labelloop.services.release_web import prepare_download
from labelloop.services.releases import create_release
from labelloop.storage import Store

SCHEMA = {
    "media": [{"name": "image", "kind": "image"}],
    "controls": [{"name": "objects", "kind": "boxes", "target": "image", "labels": ["cat", "dog"]}],
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=500)
    ap.add_argument("--size", type=int, default=256, help="image side in pixels (noise: PNG barely compresses it)")
    ap.add_argument("--format", default="coco")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        src = tmp / "src"
        src.mkdir()
        lines = []
        for i in range(args.items):
            pixels = rng.integers(0, 255, (args.size, args.size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(src / f"{i}.png")
            box = {"id": "b", "control": "objects", "label": "cat" if i % 2 else "dog", "xyxy": [1, 2, 30, 40]}
            lines.append(json.dumps({"image": f"{i}.png", "annotations": [{"annotator": "a", "value": [box]}]}))
        (src / "m.jsonl").write_text("\n".join(lines) + "\n")
        store = Store.open(None, tmp / "data")
        try:
            pid = create_project(store, "bench", LabelSchema.model_validate(SCHEMA), "user:bench").id
            import_source(store, pid, src / "m.jsonl", actor="user:bench")
            create_release(store, pid, "v1", "user:bench")
            t0 = time.perf_counter()
            download = prepare_download(store, pid, "v1", args.format, "user:bench")
            t_export = time.perf_counter() - t0
            folder = sum(p.stat().st_size for p in download.export.path.rglob("*") if p.is_file())
            tracemalloc.start()
            t0 = time.perf_counter()
            sent = biggest = 0
            for chunk in download.chunks():
                sent += len(chunk)
                biggest = max(biggest, len(chunk))
            t_zip = time.perf_counter() - t0
            _cur, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert not download.folder.exists()
        finally:
            store.close()
    mib = 2**20
    print(f"{args.items} items, format {args.format}: signed export {t_export:.2f} s ({folder / mib:.1f} MiB folder)")
    print(
        f"zip stream: {sent / mib:.1f} MiB in {t_zip:.2f} s ({sent / mib / t_zip:.0f} MiB/s); "
        f"largest chunk {biggest / mib:.2f} MiB; heap peak while streaming {peak / mib:.2f} MiB; folder removed"
    )


if __name__ == "__main__":
    main()
