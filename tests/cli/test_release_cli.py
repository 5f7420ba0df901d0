"""``labelloop release``: create, list, show, diff, lineage, export, verify end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from labelloop.cli.main import main
from tests.helpers import IMAGE_SCHEMA, png_bytes, write


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    def run(*args: str, data: Path = tmp_path / "data") -> tuple[int, str, str]:
        code = main(["--data-dir", str(data), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def pets(cli, tmp_path: Path):  # type: ignore[no-untyped-def]
    schema = tmp_path / "schema.yaml"
    schema.write_text(yaml.safe_dump(IMAGE_SCHEMA), encoding="utf-8")
    assert cli("project", "create", "pets", "--schema", str(schema))[0] == 0
    lines = []
    for i in range(3):
        write(tmp_path / "ds" / f"{i}.png", png_bytes(color=(i, 9, 9)))
        box = {"id": "b", "control": "objects", "label": "cat", "xyxy": [1, 1, 10, 10]}
        lines.append(json.dumps({"image": f"{i}.png", "annotations": [{"annotator": "a", "value": [box]}]}))
    write(tmp_path / "ds" / "m.jsonl", "\n".join(lines) + "\n")
    assert cli("import", "pets", str(tmp_path / "ds" / "m.jsonl"))[0] == 0
    return cli


def test_release_create_list_show_diff_lineage(pets, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cert = tmp_path / "cert.json"
    cert.write_text(json.dumps({"tier": "auto", "accuracy_lower_bound": 0.98}))
    code, out, err = pets("release", "create", "pets", "v1", "--quality-certificate", str(cert))
    assert code == 0, err
    assert "release 'v1': 3 items, 3 labelled, 3 regions" in out
    assert pets("release", "create", "pets", "v2")[0] == 0
    code, out, _ = pets("release", "list", "pets")
    assert code == 0 and "v1" in out and "v2" in out
    code, out, _ = pets("release", "show", "pets", "v2")
    shown = json.loads(out)
    assert shown["signature_ok"] is True and shown["parent"]["name"] == "v1" and shown["classes"] == {"cat": 3}
    assert json.loads(pets("release", "show", "pets", "v1")[1])["quality"]["accuracy_lower_bound"] == 0.98
    code, out, _ = pets("release", "diff", "pets", "v1", "v2", "--json")
    assert json.loads(out)["items"] == {"added": 0, "removed": 0, "changed": 0, "unchanged": 3}
    code, out, _ = pets("release", "lineage", "pets", "v1")
    rows = [json.loads(x) for x in out.splitlines()]
    assert [r["label"]["annotator"] for r in rows] == ["a", "a", "a"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("release", "create", "pets", "v1"), 4, "error[LL-CONFLICT]: release 'v1' already exists"),
        (("release", "show", "pets", "v9"), 3, "error[LL-NOTFOUND]: release 'v9' not found"),
        (("release", "create", "pets", "../x"), 2, "error[LL-INPUT]: release name"),
        (("release", "export", "pets", "v1", "--format", "parquet", "--out", "x"), 6, "no exporter 'parquet'"),
    ],
)
def test_release_errors_are_one_line(pets, args: tuple[str, ...], code: int, message: str) -> None:  # type: ignore[no-untyped-def]
    assert pets("release", "create", "pets", "v1")[0] == 0
    got, _, err = pets(*args)
    assert got == code and message in err and "Traceback" not in err


def test_export_verify_and_tamper(pets, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert pets("release", "create", "pets", "v1")[0] == 0
    out_dir = tmp_path / "out" / "v1"
    code, out, err = pets("release", "export", "pets", "v1", "--format", "yolo", "--out", str(out_dir))
    assert code == 0 and "3 items, 3 regions" in out, err
    code, out, err = pets("release", "verify", str(out_dir))
    assert code == 0 and "verified release 'v1' of 'pets': 3 label records" in out and "trusted key" in out, err
    # the same release with media hard-linked from the store verifies the same way
    linked = tmp_path / "out" / "v1-linked"
    code, out, err = pets("release", "export", "pets", "v1", "--format", "yolo", "--out", str(linked), "--link-media")
    assert code == 0 and "3 items, 3 regions" in out, err
    assert all(p.stat().st_nlink >= 2 for p in (linked / "data" / "images").rglob("*.*"))
    code, out, err = pets("release", "verify", str(linked))
    assert code == 0 and "verified release 'v1' of 'pets'" in out, err
    # a consumer with only the public key, and no workspace of their own
    pub = tmp_path / "release.pub.pem"
    assert pets("release", "public-key", str(pub))[0] == 0
    code, out, _ = pets("release", "verify", str(out_dir), "--key", str(pub), data=tmp_path / "elsewhere")
    assert code == 0 and "trusted key" in out and not (tmp_path / "elsewhere").exists()
    # tamper with one label file of the dataset
    label = sorted((out_dir / "data").rglob("*.txt"))[0]
    label.write_text(label.read_text().replace("0 ", "1 ", 1))
    code, _, err = pets("release", "verify", str(out_dir), "--key", str(pub), data=tmp_path / "elsewhere")
    assert code == 8 and "error[LL-TAMPER]" in err and "content changed" in err
    assert label.relative_to(out_dir).as_posix() in err
    # another key is not trusted
    other = tmp_path / "other"
    assert pets("project", "list", data=other)[0] == 0
    assert pets("release", "public-key", str(tmp_path / "other.pem"), data=other)[0] == 0
    code, _, err = pets("release", "verify", str(out_dir), "--key", str(tmp_path / "other.pem"))
    assert code == 8 and "not by the trusted key" in err


def test_export_destination_must_be_new(pets, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert pets("release", "create", "pets", "v1")[0] == 0
    busy = tmp_path / "busy"
    write(busy / "x.txt", "keep me")
    code, _, err = pets("release", "export", "pets", "v1", "--out", str(busy))
    assert code == 2 and "not empty" in err
    assert (busy / "x.txt").read_text() == "keep me"


def test_import_format_native_into_an_existing_project(pets, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert pets("export", "pets", str(tmp_path / "backup"))[0] == 0
    schema = tmp_path / "schema.yaml"
    assert pets("project", "create", "copy", "--schema", str(schema))[0] == 0
    code, out, err = pets("import", "copy", str(tmp_path / "backup"), "--format", "native")
    assert code == 0 and "3 items, 0 duplicates skipped, 3 annotations" in out, err
    code, out, _ = pets("import", "copy", str(tmp_path / "backup"), "--format", "native")
    assert code == 0 and "0 items, 3 duplicates skipped" in out


def test_export_a_release_as_a_zip_and_verify_it(pets, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import zipfile

    assert pets("release", "create", "pets", "v1")[0] == 0
    code, out, err = pets("release", "export", "pets", "v1", "--format", "yolo", "--out", str(tmp_path / "v1"), "--zip")
    assert code == 0 and "3 items, 3 regions" in out and "v1.zip" in out, err
    assert not (tmp_path / "v1").exists()
    with zipfile.ZipFile(tmp_path / "v1.zip") as zf:
        names = zf.namelist()
    assert {"release.json", "labels.jsonl", "data/data.yaml"} <= set(names)
    assert sum(n.startswith("data/labels/") and n.endswith(".txt") for n in names) == 3
    code, out, err = pets("release", "verify", str(tmp_path / "v1.zip"))
    assert code == 0 and "verified release 'v1' of 'pets': 3 label records" in out, err
