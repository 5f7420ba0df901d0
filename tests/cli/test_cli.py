"""The command line: real commands end to end, one-line errors with stable codes."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from labelloop.cli.main import main
from labelloop.storage.migrate import head_revision
from tests.helpers import TEXT_SCHEMA


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    data = tmp_path / "data"

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--data-dir", str(data), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_create_import_export_restore(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    schema = tmp_path / "schema.yaml"
    schema.write_text(yaml.safe_dump(TEXT_SCHEMA), encoding="utf-8")
    code, out, _ = cli("project", "create", "reviews", "--schema", str(schema))
    assert code == 0 and "created project 'reviews'" in out
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        json.dumps({"text": "good"}) + "\n" + "{broken\n" + json.dumps({"text": "坏"}) + "\n", encoding="utf-8"
    )
    errors = tmp_path / "errors.txt"
    code, out, err = cli("import", "reviews", str(manifest), "--errors-file", str(errors))
    assert code == 0 and "2 items" in out and "1 refused" in out
    assert "m.jsonl:2: expected a JSON object, got malformed JSON" in err
    assert errors.read_text(encoding="utf-8").startswith("m.jsonl:2:")
    code, _, err = cli("import", "reviews", str(manifest), "--strict")
    assert code == 2 and "error[LL-INPUT]" in err
    code, out, _ = cli("project", "list")
    assert code == 0 and "reviews" in out
    code, out, _ = cli("project", "show", "reviews")
    assert json.loads(out)["items"] == 2
    code, out, _ = cli("project", "show", "reviews", "--json-schema")
    assert json.loads(out)["type"] == "array"
    code, out, _ = cli("export", "reviews", str(tmp_path / "backup"))
    assert code == 0 and "exported 2 items" in out
    code, out, _ = cli("restore", str(tmp_path / "backup"), "--name", "copy")
    assert code == 0 and "restored project 'copy': 2 items" in out


def test_create_from_flags(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli(
        "project", "create", "boxes", "--media", "photo:image", "--control", "objects:boxes:photo:car,person"
    )
    assert code == 0 and "['photo']" in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["project", "show", "nope"], 3, "error[LL-NOTFOUND]: project 'nope' not found"),
        (["project", "create", "x"], 2, "error[LL-SCHEMA]: a project needs --schema"),
        (["project", "create", "x", "--media", "video"], 2, "error[LL-SCHEMA]"),
        (["project", "create", "x", "--media", "text", "--control", "a:b"], 2, "expected NAME:KIND:TARGET"),
        (["import", "nope", "."], 3, "error[LL-NOTFOUND]"),
        (["restore", "/nonexistent"], 2, "error[LL-FORMAT]"),
        (["schema", "check", "/nonexistent.yaml"], 2, "error[LL-SCHEMA]"),
        (["no-such-command"], 2, "error[LL-USAGE]"),
    ],
)
def test_errors_are_one_line_with_codes(cli, args: list[str], code: int, message: str) -> None:  # type: ignore[no-untyped-def]
    got, _, err = cli(*args)
    assert got == code
    assert message in err
    assert "Traceback" not in err


def test_schema_commands(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "s.json"
    good.write_text(json.dumps(TEXT_SCHEMA))
    code, out, _ = cli("schema", "check", str(good))
    assert code == 0 and "valid" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("media: [{name: t, kind: text}]\ncontrols: [{name: c, kind: boxes, target: t, labels: [a]}]\n")
    code, _, err = cli("schema", "check", str(bad))
    assert code == 2 and "invalid label schema: control 'c': boxes cannot target text media" in err
    evil = tmp_path / "evil.yaml"
    evil.write_text("!!python/object/apply:os.system ['echo pwned']\n")
    code, _, err = cli("schema", "check", str(evil))
    assert code == 2 and "syntax error" in err


def test_console_script_exit_code_and_no_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "LABELLOOP_DATA_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", "from labelloop.cli.main import run; run()", "project", "show", "missing"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 3
    assert proc.stderr.strip() == "error[LL-NOTFOUND]: project 'missing' not found"


def test_db_commands(cli) -> None:  # type: ignore[no-untyped-def]
    head = head_revision()
    code, out, _ = cli("db", "upgrade")
    assert code == 0 and f"revision {head}" in out
    code, out, _ = cli("db", "current")
    assert f"current: {head}  head: {head}" in out


def test_demo_builds_all_four_media(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--data-dir", str(tmp_path / "d"), "--no-serve"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "demo ready: 6 projects" in out
    assert out.count("identical after export") == 6
    assert "problem:" not in err
    assert out.count(".html") == 6 and (tmp_path / "d" / "demo" / "reports" / "qc-image-demo.html").is_file()
    assert re.search(r"open http://127\.0\.0\.1:8000/#/p/\d+/label and log in as demo / \S{12,}", out)
    assert re.search(r"tiers auto-accept \d+, review \d+, manual \d+", out) and "(holds)" in out
    assert (tmp_path / "d" / "demo" / "reports" / "routing-certificate.json").is_file()
    assert re.search(r"text-demo: live routing of text\.classify@\S+: auto 0, review \d+, manual \d+", out)
    assert "clean audited items would unlock auto-accept" in out
    if importlib.util.find_spec("llama_cpp") is not None:  # the embedded LLM labels a sample of the texts
        assert "text-demo: llm → 5 suggestions on 5 items (0 already done, 0 refused;" in out
    else:
        assert "text-demo: llm skipped (" in out
    code = main(["--data-dir", str(tmp_path / "d"), "project", "list"])
    listing = capsys.readouterr().out
    for medium in ("text", "image", "audio", "pointcloud"):
        assert medium in listing


def test_export_and_import_a_training_format(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.helpers import png_bytes, write

    cli("project", "create", "pets", "--media", "image", "--control", "objects:boxes:image:cat,dog")
    write(tmp_path / "ds" / "a.png", png_bytes())
    write(
        tmp_path / "ds" / "m.jsonl",
        json.dumps(
            {
                "image": "a.png",
                "annotations": [
                    {
                        "annotator": "a",
                        "value": [{"id": "b", "control": "objects", "label": "dog", "xyxy": [1, 1, 9, 9]}],
                    }
                ],
            }
        )
        + "\n",
    )
    assert cli("import", "pets", str(tmp_path / "ds" / "m.jsonl"))[0] == 0
    code, out, _ = cli("export", "pets", str(tmp_path / "yolo"), "--format", "yolo")
    assert code == 0 and "exported 1 items, 1 regions as yolo" in out
    assert (tmp_path / "yolo" / "data.yaml").is_file()
    cli("project", "create", "pets2", "--media", "image", "--control", "objects:boxes:image:cat,dog")
    code, out, _ = cli("import", "pets2", str(tmp_path / "yolo"), "--format", "yolo")
    assert code == 0 and "1 items" in out and "1 annotations" in out
    code, out, _ = cli("export", "pets", str(tmp_path / "coco"), "--format", "coco", "--link-media")
    assert code == 0 and "exported 1 items, 1 regions as coco" in out
    (linked,) = (tmp_path / "coco" / "images").iterdir()
    copied = next((tmp_path / "yolo" / "images").rglob("*.png"))
    assert linked.read_bytes() == copied.read_bytes() == png_bytes()
    assert linked.stat().st_nlink >= 2 and copied.stat().st_nlink == 1  # shares the store's blob; the copy does not
    code, _, err = cli("export", "pets", str(tmp_path / "x"), "--format", "nope")
    assert code == 6 and "error[LL-PLUGIN]: no exporter 'nope'" in err


@pytest.mark.parametrize(
    ("fmt", "media_dir"), [("coco", "images"), ("yolo", "images"), ("voc", "JPEGImages"), ("label_studio", "media")]
)
def test_a_labels_only_export_names_the_media_it_leaves_out(cli, tmp_path: Path, fmt: str, media_dir: str) -> None:  # type: ignore[no-untyped-def]
    from tests.helpers import png_bytes, write

    cli("project", "create", "pets", "--media", "image", "--control", "objects:boxes:image:cat,dog")
    rows = []
    for name, color in (("a", (1, 2, 3)), ("b", (4, 5, 6))):
        write(tmp_path / "ds" / f"{name}.png", png_bytes(color=color))
        value = [{"id": "b", "control": "objects", "label": "dog", "xyxy": [1, 1, 9, 9]}]
        rows.append(json.dumps({"image": f"{name}.png", "annotations": [{"annotator": "a", "value": value}]}))
    write(tmp_path / "ds" / "m.jsonl", "\n".join(rows) + "\n")
    assert cli("import", "pets", str(tmp_path / "ds" / "m.jsonl"))[0] == 0
    assert cli("export", "pets", str(tmp_path / "full"), "--format", fmt)[0] == 0
    code, out, _ = cli("export", "pets", str(tmp_path / "labels"), "--format", fmt, "--no-media")
    assert code == 0 and f"exported 2 items, 2 regions as {fmt}" in out

    def files(root: Path) -> dict[str, bytes]:  # (data.yaml names its own folder)
        at = str(root).encode()
        return {
            p.relative_to(root).as_posix(): p.read_bytes().replace(at, b"ROOT") for p in root.rglob("*") if p.is_file()
        }

    full, labels = files(tmp_path / "full"), files(tmp_path / "labels")
    media = {k for k in full if k.startswith(media_dir + "/")}
    assert len(media) == 2 and not any(k.startswith(media_dir + "/") for k in labels)
    assert set(labels) == set(full) - media
    for name, data in labels.items():  # every label file names the media exactly as the full export
        if name.endswith(".json"):
            a, b = json.loads(data), json.loads(full[name])
            if isinstance(a, dict):
                a.pop("info", None), b.pop("info", None)  # (creation time)
            assert a == b, name
        else:
            assert data == full[name], name


def test_export_as_a_zip_and_import_it_back(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import zipfile

    from tests.helpers import png_bytes, write

    cli("project", "create", "pets", "--media", "image", "--control", "objects:boxes:image:cat,dog")
    write(tmp_path / "ds" / "a.png", png_bytes())
    value = [{"id": "b", "control": "objects", "label": "dog", "xyxy": [1, 1, 9, 9]}]
    write(
        tmp_path / "ds" / "m.jsonl", json.dumps({"image": "a.png", "annotations": [{"annotator": "a", "value": value}]})
    )
    assert cli("import", "pets", str(tmp_path / "ds" / "m.jsonl"))[0] == 0
    code, out, _ = cli("export", "pets", str(tmp_path / "yolo"), "--format", "yolo", "--zip")
    assert code == 0 and "exported 1 items, 1 regions as yolo" in out and "yolo.zip" in out
    assert not (tmp_path / "yolo").exists()
    with zipfile.ZipFile(tmp_path / "yolo.zip") as zf:
        names = set(zf.namelist())
        assert {"data.yaml", "images/train/item-1.png", "labels/train/item-1.txt"} <= names
        assert zf.read("images/train/item-1.png") == png_bytes()
    assert cli("export", "pets", str(tmp_path / "coco.zip"), "--format", "coco")[0] == 0  # the name says zip
    assert zipfile.is_zipfile(tmp_path / "coco.zip")
    cli("project", "create", "pets2", "--media", "image", "--control", "objects:boxes:image:cat,dog")
    code, out, _ = cli("import", "pets2", str(tmp_path / "yolo.zip"), "--format", "yolo")
    assert code == 0 and "1 items" in out and "1 annotations" in out
    code, _, err = cli("export", "pets", str(tmp_path / "n"), "--zip")
    assert code == 2 and "--zip: expected a training format" in err
    code, _, err = cli("export", "pets", str(tmp_path / "coco.zip"), "--format", "coco")
    assert code != 0 and "already exists" in err
