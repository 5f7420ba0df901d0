"""``labelloop desensitise`` and ``labelloop audit verify`` end to end."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import yaml

from tests.cli.test_cli import cli  # noqa: F401 (the shared CLI fixture)
from tests.helpers import TEXT_SCHEMA


def _project(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    schema = tmp_path / "schema.yaml"
    schema.write_text(yaml.safe_dump(TEXT_SCHEMA), encoding="utf-8")
    assert cli("project", "create", "reviews", "--schema", str(schema))[0] == 0
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        "".join(json.dumps({"text": t}) + "\n" for t in ["mail me: a.b@example.com", "手机13812345678", "plain"]),
        encoding="utf-8",
    )
    assert cli("import", "reviews", str(manifest))[0] == 0


def test_desensitise_then_verify_then_tamper(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _project(cli, tmp_path)
    cfg = tmp_path / "compliance.yaml"
    cfg.write_text(yaml.safe_dump({"compliance": {"pii": {"mode": "mask", "chinese_ner": False}}}), encoding="utf-8")
    code, out, err = cli("desensitise", "reviews", "--config", str(cfg))
    assert code == 0, err
    assert "desensitised 3 items: 2 redactions (EMAIL 1, PHONE 1)" in out
    code, out, _ = cli("audit", "verify", "reviews")
    assert code == 0 and "chain 1:" in out and ": ok" in out
    head = out.split("head ")[1].split(":")[0]
    assert cli("audit", "verify", "--expect-head", head)[0] == 0
    db = sqlite3.connect(tmp_path / "data" / "labelloop.db")
    db.execute("DROP TRIGGER provenance_events_no_update")
    db.execute("UPDATE provenance_events SET actor = 'user:mallory' WHERE seq = 1")
    db.commit()
    db.close()
    code, out, err = cli("audit", "verify", "reviews")
    assert code == 9, (out, err)
    assert "TAMPERED: first bad: chain 1: event seq 1" in err and "edited" in err


def test_malformed_pattern_is_a_clear_error(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _project(cli, tmp_path)
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"pii": {"patterns": [{"name": "evil", "regex": "(x*)*y", "entity": "X"}]}}))
    code, _, err = cli("desensitise", "reviews", "--config", str(cfg))
    assert code == 2 and "error[LL-INPUT]" in err and "PII pattern 'evil'" in err


def test_unknown_head_is_reported(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _project(cli, tmp_path)
    code, _, err = cli("audit", "verify", "--expect-head", "00" * 32)
    assert code == 9 and "expected head" in err


def test_cut_tail_fails_without_expect_head(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _project(cli, tmp_path)
    cfg = tmp_path / "compliance.yaml"
    cfg.write_text(yaml.safe_dump({"compliance": {"pii": {"mode": "mask", "chinese_ner": False}}}), encoding="utf-8")
    assert cli("desensitise", "reviews", "--config", str(cfg))[0] == 0
    code, out, err = cli("audit", "verify", "reviews")
    assert code == 0 and "warning" not in err, (out, err)
    db = sqlite3.connect(tmp_path / "data" / "labelloop.db")
    (last,) = db.execute("SELECT max(seq) FROM provenance_events WHERE chain = 1").fetchone()
    db.execute("DROP TRIGGER provenance_events_no_delete")
    db.execute("DELETE FROM provenance_events WHERE chain = 1 AND seq = ?", (last,))  # the redaction event
    db.commit()
    db.close()
    code, out, err = cli("audit", "verify", "reviews")
    assert code == 9, (out, err)
    assert f"TAMPERED: first bad: chain 1: anchor: events after seq {last - 1} were cut" in err, err


def test_missing_anchor_file_is_a_warning(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _project(cli, tmp_path)
    (tmp_path / "data" / "provenance-anchors.jsonl").unlink()
    code, out, err = cli("audit", "verify")
    assert code == 0 and "warning: no anchor file" in err, (out, err)
