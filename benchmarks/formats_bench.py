"""Format export speed (10k tasks in every format) and a streamed export of 1M annotations.

    python benchmarks/formats_bench.py                       # 10k tasks per format, 1M annotations
    python benchmarks/formats_bench.py --n 1000 --stream 50000   # quick (CI)
    python benchmarks/formats_bench.py --dir DATA_DISK --link-media  # media hard-linked
    python benchmarks/formats_bench.py --dir DATA_DISK --no-media    # labels only (as Label Studio's export)
    python benchmarks/formats_bench.py --dir DATA_DISK --zip --parts 1   # each format into one zip file
    python benchmarks/formats_bench.py --parts 1 --formats spacy,openlabel  # only these formats

Three parts, each printed as it finishes:

1. **every format**: ``--n`` tasks (default 10,000) of the medium each format carries (images
   with 3 boxes, texts with 2 entity spans, audio with 2 transcribed segments, point clouds
   with 2 cuboids), fed to each registered exporter; media files are real and copied (or
   hard-linked with ``--link-media``, or left out with ``--no-media``: the labels-only export
   Label Studio's 40 s figure is for). Target: at most 1 s per format for 10k tasks. Formats
   that write a file per item (YOLO, VOC, KITTI, OpenLABEL, and every format's media copies)
   depend on the file system: the part first prints what creating one small file costs in
   ``--dir`` (tens of µs on a local disk; some temp folders cost a millisecond). With ``--zip``
   each format writes one ``.zip`` file instead of a folder (same members), so a file per item
   costs nothing on disk. The synthetic records of each medium are built once, before the clock
   starts (their building time is printed apart): the figure is the exporter's own work.
2. **from the store**: ``--n`` text tasks imported into a fresh SQLite store, then the whole
   path: ``export_dataset`` in the text formats, and a release created, exported (signed,
   hashed) and verified.
3. **streamed**: ``--stream`` annotations (default 1,000,000; 10 boxes per image) exported as
   COCO and CSV in a child process each, printing items/s, annotations/s and peak RSS above
   the baseline (flat memory means it does not grow with ``--stream``).
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from labelloop.core import Item, LabelSchema, MediaRef, Medium
from labelloop.formats import EXPORTERS, ExportRecord, takes_option

T0 = datetime(2026, 1, 1, tzinfo=UTC)

IMAGE = LabelSchema.model_validate(
    {
        "media": [{"name": "image", "kind": "image"}],
        "controls": [{"name": "objects", "kind": "boxes", "target": "image", "labels": ["cat", "dog", "bird"]}],
    }
)
TEXT = LabelSchema.model_validate(
    {
        "media": [{"name": "text", "kind": "text"}],
        "controls": [
            {"name": "topic", "kind": "classification", "target": "text", "labels": ["news", "sport"]},
            {"name": "ents", "kind": "spans", "target": "text", "labels": ["PER", "ORG", "LOC"]},
        ],
    }
)
AUDIO = LabelSchema.model_validate(
    {
        "media": [{"name": "audio", "kind": "audio"}],
        "controls": [{"name": "segs", "kind": "segments", "target": "audio", "labels": ["sp"], "transcript": True}],
    }
)
CLOUD = LabelSchema.model_validate(
    {
        "media": [{"name": "lidar", "kind": "pointcloud"}],
        "controls": [{"name": "boxes3d", "kind": "cuboids", "target": "lidar", "labels": ["Car", "Pedestrian"]}],
    }
)
# format -> the medium it carries
FAMILY = {
    "coco": "image",
    "yolo": "image",
    "voc": "image",
    "label_studio": "image",
    "csv": "image",
    "hf_parquet": "image",
    "conll2003": "text",
    "spacy": "text",
    "nemo": "audio",
    "kitti3d": "cloud",
    "openlabel": "cloud",
}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _item(i: int, field: str, ref: MediaRef) -> Item:
    return Item(i, 1, {field: ref}, ref.sha256, f"{field}/{i:07d}", "bench", {}, None, T0, "user:bench")


class Media:
    """A few real media files per medium, addressed by fake SHA-256s (one file per 64 items)."""

    def __init__(self, folder: Path, distinct: int) -> None:
        from PIL import Image

        folder.mkdir(parents=True, exist_ok=True)
        self.files: dict[str, Path] = {}
        self.distinct = distinct
        for i in range(distinct):
            buf = io.BytesIO()
            Image.new("RGB", (64, 48), (i % 256, 80, 160)).save(buf, "PNG")
            self._add(f"i{i:063x}", folder / f"{i}.png", buf.getvalue())
            wav = folder / f"{i}.wav"
            with wave.open(str(wav), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(8000)
                w.writeframes(b"\x00\x00" * 16000)
            self.files[f"a{i:063x}"] = wav
            self._add(f"c{i:063x}", folder / f"{i}.bin", b"\x00" * 160)

    def _add(self, sha: str, path: Path, data: bytes) -> None:
        path.write_bytes(data)
        self.files[sha] = path

    def __call__(self, sha: str) -> Path:
        return self.files[sha]

    def ref(self, kind: str, i: int) -> MediaRef:
        k = i % self.distinct
        if kind == "image":
            return MediaRef(Medium.IMAGE, f"i{k:063x}", "image/png", None, {"width": 64, "height": 48})
        if kind == "audio":
            return MediaRef(Medium.AUDIO, f"a{k:063x}", "audio/wav", None, {"duration_s": 2.0})
        return MediaRef(Medium.POINTCLOUD, f"c{k:063x}", "application/x-kitti-bin", None, {"points": 10})


def records(kind: str, n: int, media: Media, per_item: int = 3) -> Iterator[ExportRecord]:
    for i in range(1, n + 1):
        if kind == "image":
            value = [
                {"id": f"b{j}", "control": "objects", "label": ("cat", "dog", "bird")[(i + j) % 3],
                 "xyxy": [1 + j % 20, 2 + j % 20, 30 + j % 30, 40]}
                for j in range(per_item)
            ]  # fmt: skip
            yield ExportRecord(_item(i, "image", media.ref("image", i)), value)
        elif kind == "text":
            text = f"Alice Smith met Acme Corp in Paris on day {i}."
            value = [
                {"id": "t", "control": "topic", "labels": ["news"]},
                {"id": "p", "control": "ents", "label": "PER", "start": 0, "end": 11},
                {"id": "o", "control": "ents", "label": "ORG", "start": 16, "end": 25},
            ]
            yield ExportRecord(_item(i, "text", MediaRef.from_text(text)), value)
        elif kind == "audio":
            value = [
                {"id": "s1", "control": "segs", "label": "sp", "start_s": 0.0, "end_s": 0.8, "transcript": "hello"},
                {"id": "s2", "control": "segs", "label": "sp", "start_s": 1.0, "end_s": 1.9, "transcript": "world"},
            ]
            yield ExportRecord(_item(i, "audio", media.ref("audio", i)), value)
        else:
            value = [
                {"id": "c1", "control": "boxes3d", "label": "Car", "center": [10.0, 2.0, -0.8],
                 "size": [4.2, 1.8, 1.5], "yaw": 0.3, "frame": "lidar"},
                {"id": "c2", "control": "boxes3d", "label": "Pedestrian", "center": [5.0, -3.0, 0.0],
                 "size": [0.6, 0.5, 1.7], "yaw": -2.5, "frame": "lidar"},
            ]  # fmt: skip
            yield ExportRecord(_item(i, "lidar", media.ref("cloud", i)), value)


SCHEMAS = {"image": IMAGE, "text": TEXT, "audio": AUDIO, "cloud": CLOUD}


def create_cost_us(folder: Path, n: int = 2000) -> float:
    """Microseconds to create, write and close one small file in ``folder`` (the disk's share)."""
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for i in range(n):
        (folder / f"{i}.bin").write_bytes(b"x" * 200)
    return (time.perf_counter() - t0) / n * 1e6


def every_format(
    n: int, work: Path, link: bool, no_media: bool = False, as_zip: bool = False, only: set[str] | None = None
) -> None:
    media = Media(work / "media", 64)
    how = "left out (--no-media)" if no_media else "hard-linked (--link-media)" if link else "copied"
    if as_zip and not no_media:
        how = "streamed into the zip"
    print(f"== every format: {n:,} tasks each (media {how}; output: {'one zip file' if as_zip else 'a folder'}) ==")
    ext = ".zip" if as_zip else ""
    print(f"file system: {create_cost_us(work / 'probe'):.0f} µs to create one small file in {work.parent}")
    worst = 0.0
    built: dict[str, list[ExportRecord]] = {}
    for fmt, exporter in sorted(EXPORTERS.items()):
        if only is not None and fmt not in only:
            continue
        kind = FAMILY.get(fmt, "image")
        t0 = time.perf_counter()  # warm-up: the first call imports the format's libraries
        exporter(records(kind, 10, media), SCHEMAS[kind], work / f"warm-{fmt}{ext}", media)
        first = time.perf_counter() - t0
        if kind not in built:  # the synthetic records are built before the clock starts (the store's read is part 2)
            t0 = time.perf_counter()
            built[kind] = list(records(kind, n, media))
            print(f"{'(records)':>13} ({kind:>5}): {time.perf_counter() - t0:6.2f} s to build {n:,}, not timed below")
        t0, c0 = time.perf_counter(), time.process_time()
        options: dict[str, bool] = {"link": True} if link and takes_option(fmt, "link") else {}
        if no_media and takes_option(fmt, "with_media"):
            options["with_media"] = False
        rep = exporter(iter(built[kind]), SCHEMAS[kind], work / f"out-{fmt}{ext}", media, **options)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        worst = max(worst, dt)
        flag = "ok" if dt <= n / 10_000 else "SLOW"
        print(
            f"{fmt:>13} ({kind:>5}): {dt:6.2f} s (CPU {cpu:5.2f} s)  {n / dt:8,.0f} tasks/s  {rep.items:,} items "
            f"{rep.regions:,} regions {len(rep.errors)} skipped  [{flag} vs 1 s per 10k; warm-up {first:.2f} s]"
        )
    print(f"slowest: {worst:.2f} s")


def from_store(n: int, work: Path) -> None:
    from labelloop.services.exports import export_dataset
    from labelloop.services.ingest import import_source
    from labelloop.services.projects import create_project
    from labelloop.services.release_export import export_release, verify_release_export
    from labelloop.services.releases import create_release
    from labelloop.storage import Store

    print(f"== from the store: {n:,} text tasks in SQLite ==")
    store = Store.open(None, work / "data")
    create_project(store, "bench", TEXT, "user:bench")
    manifest = work / "m.jsonl"
    with manifest.open("w", encoding="utf-8") as f:
        for r in records("text", n, Media.__new__(Media)):
            f.write(
                json.dumps({"text": r.item.data["text"].text, "annotations": [{"annotator": "a", "value": r.value}]})
            )
            f.write("\n")
    t0 = time.perf_counter()
    import_source(store, "bench", manifest, actor="user:bench")
    print(f"{'import':>22}: {time.perf_counter() - t0:6.2f} s")
    t0 = time.perf_counter()
    import pyarrow.parquet  # noqa: F401  (the formats' libraries load once per process: timed apart)
    import spacy

    spacy.blank("en")
    print(f"{'load pyarrow + spaCy':>22}: {time.perf_counter() - t0:6.2f} s (once per process, not counted below)")
    for fmt in ("csv", "conll2003", "label_studio", "spacy", "hf_parquet"):
        t0, c0 = time.perf_counter(), time.process_time()
        export_dataset(store, "bench", fmt, work / f"store-{fmt}")
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(f"{'export ' + fmt:>22}: {dt:6.2f} s (CPU {cpu:5.2f} s)  {n / dt:10,.0f} tasks/s")
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("release create", lambda: create_release(store, "bench", "v1", "user:bench")),
        ("release export csv", lambda: export_release(store, "bench", "v1", "csv", work / "rel-csv")),
        ("release export native", lambda: export_release(store, "bench", "v1", "native", work / "rel-native")),
        ("release verify", lambda: verify_release_export(store, work / "rel-csv")),
    ]
    for name, fn in steps:
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(f"{name:>22}: {dt:6.2f} s (CPU {cpu:5.2f} s)  {n / dt:10,.0f} tasks/s")
    store.close()


def stream_child(fmt: str, annotations: int, work: Path) -> dict[str, float]:
    per_item = 10
    n = annotations // per_item
    media = Media(work / "media", 16)
    base = peak_rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    options = {"link": True} if fmt == "coco" else {}
    rep = EXPORTERS[fmt](records("image", n, media, per_item), IMAGE, work / f"stream-{fmt}", media, **options)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert rep.regions == n * per_item, rep
    return {"items": n, "regions": rep.regions, "seconds": dt, "cpu": cpu, "base_mb": base, "peak_mb": peak_rss_mb()}


def streamed(annotations: int, where: str | None, formats: list[str]) -> None:
    print(f"== streamed: {annotations:,} annotations (10 boxes per image) ==")
    for fmt in formats:
        with tempfile.TemporaryDirectory(prefix="labelloop-fbench-", dir=where) as tmp:
            cmd = [sys.executable, __file__, "--child", fmt, "--stream", str(annotations), "--work", tmp]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
        print(
            f"{fmt:>6}: {r['seconds']:6.1f} s (CPU {r['cpu']:.1f} s)  {r['items'] / r['seconds']:9,.0f} items/s  "
            f"{r['regions'] / r['seconds']:10,.0f} annotations/s  peak RSS {r['peak_mb']:.0f} MB "
            f"(baseline {r['base_mb']:.0f} MB, +{r['peak_mb'] - r['base_mb']:.0f} MB)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000, help="tasks per format (parts 1 and 2)")
    ap.add_argument("--stream", type=int, default=1_000_000, help="annotations in the streamed export (part 3)")
    ap.add_argument("--parts", default="1,2,3", help="which parts to run, e.g. 1,3")
    ap.add_argument("--stream-formats", default="coco,csv", help="formats of the streamed export (part 3)")
    ap.add_argument("--dir", default=None, help="where to write (default: the system temp folder)")
    ap.add_argument("--link-media", action="store_true", help="part 1: hard-link media instead of copying")
    ap.add_argument("--no-media", action="store_true", help="part 1: labels only (formats that embed media keep them)")
    ap.add_argument("--zip", action="store_true", help="part 1: write each format as one .zip file, not a folder")
    ap.add_argument("--formats", default=None, help="part 1: only these formats, e.g. spacy,openlabel")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(stream_child(args.child, args.stream, Path(args.work))))
        return
    parts = set(args.parts.split(","))
    with tempfile.TemporaryDirectory(prefix="labelloop-fbench-", dir=args.dir) as tmp:
        if "1" in parts:
            only = None if args.formats is None else set(args.formats.split(","))
            unknown = sorted((only or set()) - set(EXPORTERS))
            if unknown:
                ap.error(f"--formats: unknown {', '.join(unknown)}; known: {', '.join(sorted(EXPORTERS))}")
            every_format(args.n, Path(tmp) / "formats", args.link_media, args.no_media, args.zip, only)
        if "2" in parts:
            from_store(args.n, Path(tmp) / "store")
    if "3" in parts:
        streamed(args.stream, args.dir, args.stream_formats.split(","))


if __name__ == "__main__":
    main()
