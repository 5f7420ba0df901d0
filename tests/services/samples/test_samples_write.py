"""write_samples: every project's schema, manifest and gold annotation is valid, within budget."""

from __future__ import annotations

import hashlib
import mimetypes
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from labelloop.core.media import MediaRef, Medium
from labelloop.core.schema import LabelSchema
from labelloop.errors import Conflict
from labelloop.services.samples import SampleSet, read_points, write_samples

RESERVED = {"key", "meta", "annotations", "suggestions"}
EXPECTED = ["text-demo", "image-demo", "audio-demo", "pointcloud-demo", "multimodal-demo", "lidar-camera-demo"]


def _media_ref(kind: Medium, value: str, folder: Path) -> MediaRef:
    if kind == Medium.TEXT:
        return MediaRef.from_text(value)
    path = folder / value
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if kind == Medium.IMAGE:
        with Image.open(path) as im:
            return MediaRef(kind, digest, media_type, meta={"width": im.width, "height": im.height})
    if kind == Medium.AUDIO:
        info = sf.info(str(path))
        return MediaRef(kind, digest, media_type, meta={"duration_s": info.frames / info.samplerate})
    xyz, _ = read_points(path)
    return MediaRef(kind, digest, media_type, meta={"points": len(xyz)})


def test_projects_are_written_within_budget(samples: SampleSet) -> None:
    assert samples.names == EXPECTED
    assert samples.total_bytes < 15_000_000
    for p in samples:
        assert p.source.is_file() and p.source.name == "items.jsonl"
        assert p.source.parent.parent == samples.root
        assert p.items > 0 and 0 < p.annotated <= p.items
        assert p.description
    with pytest.raises(KeyError, match="text-demo"):
        samples.project("nope")


def test_every_schema_validates(samples: SampleSet) -> None:
    for p in samples:
        schema = LabelSchema.model_validate(p.schema)
        assert schema.json_schema()["type"] == "array"


def test_manifest_lines_follow_the_convention(samples: SampleSet, lines: dict[str, list[dict[str, Any]]]) -> None:
    for p in samples:
        schema = LabelSchema.model_validate(p.schema)
        media = {m.name: m.kind for m in schema.media}
        keys = [line["key"] for line in lines[p.name]]
        assert len(keys) == len(set(keys)) == p.items
        assert sum(bool(line.get("annotations")) for line in lines[p.name]) == p.annotated
        for line in lines[p.name]:
            assert set(line) <= RESERVED | set(media), line.keys()
            assert set(media) <= set(line)
            assert line["meta"]["licence"] and line["meta"]["source"] == "labelloop demo"
            for name, kind in media.items():
                if kind != Medium.TEXT:
                    assert not Path(line[name]).is_absolute()
                    assert (p.source.parent / line[name]).is_file()
            for ann in line.get("annotations", []):
                assert set(ann) <= {"annotator", "value", "lead_time_s"} and ann["annotator"] == "demo-gold"


def test_every_gold_annotation_validates_against_schema_and_media(
    samples: SampleSet, lines: dict[str, list[dict[str, Any]]]
) -> None:
    checked = 0
    for p in samples:
        schema = LabelSchema.model_validate(p.schema)
        for line in lines[p.name]:
            refs = {m.name: _media_ref(m.kind, line[m.name], p.source.parent) for m in schema.media}
            for ann in line.get("annotations", []):
                assert schema.validate_value(ann["value"]) == [], (p.name, line["key"])
                assert schema.validate_value(ann["value"], refs) == [], (p.name, line["key"])
                ids = [r["id"] for r in ann["value"]]
                assert len(ids) == len(set(ids))
                checked += 1
    assert checked == sum(p.annotated for p in samples)


def test_span_texts_match_code_point_offsets(lines: dict[str, list[dict[str, Any]]]) -> None:
    spans = 0
    for project, field in (("text-demo", "text"), ("multimodal-demo", "caption")):
        for line in lines[project]:
            for ann in line.get("annotations", []):
                for r in ann["value"]:
                    if "start" in r:
                        assert line[field][r["start"] : r["end"]] == r["text"]
                        spans += 1
    assert spans > 40
    emoji = next(line for line in lines["text-demo"] if "🍕" in line["text"])
    naples = next(r for r in emoji["annotations"][0]["value"] if r.get("text") == "Naples")
    assert naples["start"] == emoji["text"].index("Naples")  # code points, not UTF-16 units
    assert len(emoji["text"].encode("utf-16-le")) // 2 == len(emoji["text"]) + 1


def test_text_project_is_bilingual_and_half_annotated(lines: dict[str, list[dict[str, Any]]]) -> None:
    rows = lines["text-demo"]
    assert len(rows) >= 40
    assert {r["meta"]["lang"] for r in rows} == {"en", "zh"}
    annotated = [r for r in rows if r.get("annotations")]
    assert 0.4 <= len(annotated) / len(rows) <= 0.6
    assert {r["meta"]["lang"] for r in annotated} == {"en", "zh"}
    controls = {reg["control"] for r in annotated for reg in r["annotations"][0]["value"]}
    assert controls == {"sentiment", "entities", "relations"}


def test_media_come_in_the_promised_formats(samples: SampleSet, lines: dict[str, list[dict[str, Any]]]) -> None:
    images = {Path(line["image"]).suffix for line in lines["image-demo"]}
    assert images == {".png", ".jpg", ".webp", ".bmp"}
    assert sum(line["key"].startswith("digit-") for line in lines["image-demo"]) == 100
    audio = {Path(line["audio"]).suffix for line in lines["audio-demo"]}
    assert {".wav", ".flac"} <= audio
    if {"OGG", "MP3"} <= set(sf.available_formats()):
        assert audio == {".wav", ".flac", ".ogg", ".mp3"}
    folder = samples.project("pointcloud-demo").source.parent
    formats = [line["meta"]["format"] for line in lines["pointcloud-demo"]]
    assert formats == ["pcd-ascii", "pcd-binary", "pcd-binary_compressed", "ply-binary", "laz", "kitti-bin"]
    for line, data in zip(lines["pointcloud-demo"][:3], ("ascii", "binary", "binary_compressed"), strict=True):
        header = (folder / line["pointcloud"]).read_bytes()[:400].decode("ascii", "replace")
        assert f"\nDATA {data}\n" in header


def test_gold_audio_segments_cover_the_speech(lines: dict[str, list[dict[str, Any]]]) -> None:
    for line in lines["audio-demo"]:
        (seg, *rest) = line["annotations"][0]["value"]
        assert not rest
        if line["key"].startswith("speech-"):
            assert seg["label"] == "speech" and seg["transcript"].endswith(".")
            assert 0.15 < seg["start_s"] < 0.5 and 1.5 < seg["end_s"] - seg["start_s"] < 3.0
        else:
            assert seg["label"] == "noise"
            assert seg["start_s"] == pytest.approx(0.6, abs=0.05) and seg["end_s"] == pytest.approx(1.6, abs=0.05)


def test_pointcloud_gold_labels_split_ground_and_objects(lines: dict[str, list[dict[str, Any]]]) -> None:
    gold = [line for line in lines["pointcloud-demo"] if line.get("annotations")]
    assert len(gold) == 2
    for line in gold:
        value = line["annotations"][0]["value"]
        by_label = {r["label"]: set(r["indices"]) for r in value if r["control"] == "ground"}
        assert not by_label["ground"] & by_label["object"]
        assert len(by_label["ground"]) > line["meta"]["points"] // 2
        assert sum(r["control"] == "objects" for r in value) >= 3


def test_multimodal_links_join_spans_to_boxes(lines: dict[str, list[dict[str, Any]]]) -> None:
    for project, src, dst in (
        ("multimodal-demo", "caption_spans", "regions"),
        ("lidar-camera-demo", "objects", "boxes"),
    ):
        links = 0
        for line in lines[project]:
            for ann in line.get("annotations", []):
                kind = {r["id"]: r["control"] for r in ann["value"]}
                for r in ann["value"]:
                    if "from_id" in r:
                        assert (kind[r["from_id"]], kind[r["to_id"]]) == (src, dst)
                        links += 1
        assert links >= 1, project


def test_pointcloud_files_reread_with_the_writing_libraries(
    samples: SampleSet, lines: dict[str, list[dict[str, Any]]]
) -> None:
    import laspy
    from plyfile import PlyData
    from pypcd4 import PointCloud

    for project in ("pointcloud-demo", "lidar-camera-demo"):
        folder = samples.project(project).source.parent
        for line in lines[project]:
            path = folder / line["pointcloud"]
            if path.suffix == ".pcd":
                n = len(PointCloud.from_path(path).numpy())
            elif path.suffix == ".ply":
                n = PlyData.read(str(path))["vertex"].count
            elif path.suffix == ".laz":
                n = laspy.read(str(path)).header.point_count
            else:
                n = path.stat().st_size // 16
            assert n == line["meta"]["points"] > 20_000, path.name
            xyz, intensity = read_points(path)
            assert xyz.shape == (n, 3) and np.isfinite(xyz).all()
            assert intensity.min() >= 0.0 and intensity.max() <= 1.0


def test_same_seed_writes_the_same_bytes(samples: SampleSet, tmp_path: Path) -> None:
    again = write_samples(tmp_path / "again", seed=0)
    assert again.files == samples.files
    for rel in samples.files:
        assert (samples.root / rel).read_bytes() == (again.root / rel).read_bytes(), rel


def test_rewrites_its_own_output_but_refuses_foreign_files(tmp_path: Path) -> None:
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(Conflict, match="text"):
        write_samples(tmp_path)
    assert (tmp_path / "text" / "notes.txt").read_text(encoding="utf-8") == "mine"
