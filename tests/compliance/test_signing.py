"""Signed release manifests: Merkle tree, keys, and every kind of tampering reported, never accepted."""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from labelloop.compliance.signing import (
    LABEL_HASHES,
    LABELS,
    MANIFEST,
    MANIFEST_FORMAT,
    MerkleTree,
    TamperDetected,
    canonical_json,
    file_sha256,
    key_id,
    load_or_create_key,
    read_public_key,
    sign_manifest,
    verify_release_dir,
    write_public_key,
)
from labelloop.errors import FormatError


def _rfc6962(leaves: list[bytes]) -> bytes:
    """The recursive definition of RFC 6962 section 2.1, as the reference."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _rfc6962(leaves[:k]) + _rfc6962(leaves[k:])).digest()


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 100])
def test_incremental_merkle_tree_equals_the_rfc6962_definition(n: int) -> None:
    leaves = [hashlib.sha256(str(i).encode()).digest() for i in range(n)]
    tree = MerkleTree()
    for leaf in leaves:
        tree.add(leaf)
    assert tree.count == n
    assert tree.root_hex() == _rfc6962(leaves).hex()


def test_merkle_root_changes_with_order_and_content() -> None:
    a, b = hashlib.sha256(b"a").digest(), hashlib.sha256(b"b").digest()
    roots = set()
    for seq in ([a, b], [b, a], [a], [a, a]):
        t = MerkleTree()
        for x in seq:
            t.add(x)
        roots.add(t.root_hex())
    assert len(roots) == 4


def test_key_is_created_private_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "k.pem"
    k = load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert key_id(load_or_create_key(path).public_key()) == key_id(k.public_key())
    write_public_key(k.public_key(), tmp_path / "pub.pem")
    assert key_id(read_public_key(tmp_path / "pub.pem")) == key_id(k.public_key())
    assert key_id(read_public_key(path)) == key_id(k.public_key())  # the public half of a private key


def test_unreadable_key_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    with pytest.raises(FormatError, match=r"bad\.pem: expected"):
        load_or_create_key(bad)
    with pytest.raises(FormatError, match=r"bad\.pem: expected"):
        read_public_key(bad)


# ---------------------------------------------------------------------- a release directory
RECORDS = [
    {"item": {"id": i, "key": f"k{i}"}, "label": {"value": [{"label": "cat"}]} if i % 2 else None} for i in range(5)
]


def _build(root: Path, key: Ed25519PrivateKey, parent: dict[str, Any] | None = None, name: str = "v1") -> Path:
    root.mkdir(parents=True)
    tree = MerkleTree()
    with (root / LABELS).open("wb") as lf, (root / LABEL_HASHES).open("wb") as hf:
        for rec in RECORDS:
            raw = canonical_json({**rec, "release": name})
            digest = hashlib.sha256(raw).digest()
            tree.add(digest)
            lf.write(raw + b"\n")
            hf.write(digest.hex().encode() + b"\n")
    (root / "data" / "images").mkdir(parents=True)
    (root / "data" / "annotations.json").write_text('{"images": []}')
    (root / "data" / "images" / "a.png").write_bytes(b"\x89PNG fake")
    files = [
        {"path": p.relative_to(root).as_posix(), "sha256": file_sha256(p), "size": p.stat().st_size}
        for p in sorted((root / "data").rglob("*"))
        if p.is_file()
    ]
    manifest = {
        "format": MANIFEST_FORMAT,
        "version": 1,
        "project": "pets",
        "release": name,
        "parent": parent,
        "counts": {"items": tree.count},
        "merkle_root": tree.root_hex(),
        "quality_certificate": {"accuracy_lower_bound": 0.97},
        "files": files,
    }
    (root / MANIFEST).write_bytes(orjson.dumps(sign_manifest(manifest, key)))
    return root


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def rel(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    return _build(tmp_path / "v1", key)


def test_an_untouched_release_verifies(rel: Path, key: Ed25519PrivateKey) -> None:
    report = verify_release_dir(rel, trusted_key=key.public_key())
    assert report.ok and report.trusted and report.labels == 5 and report.files == 2, report.problems
    report.raise_if_bad()
    untrusted = verify_release_dir(rel)
    assert untrusted.ok and not untrusted.trusted


def _edit_manifest(rel: Path, change: Any) -> None:
    doc = json.loads((rel / MANIFEST).read_text())
    change(doc["manifest"])
    (rel / MANIFEST).write_text(json.dumps(doc))


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


TAMPERS = {
    "edited media file": (
        lambda r: (r / "data" / "images" / "a.png").write_bytes(b"\x89PNG evil"),
        "data/images/a.png: content changed",
    ),
    "same-size edit of a dataset file": (
        lambda r: (r / "data" / "annotations.json").write_text('{"imagez": []}'),
        "data/annotations.json: content changed",
    ),
    "removed file": (
        lambda r: (r / "data" / "annotations.json").unlink(),
        "data/annotations.json: listed in the manifest but removed",
    ),
    "added file": (
        lambda r: (r / "data" / "images" / "extra.png").write_bytes(b"x"),
        "data/images/extra.png: added after signing",
    ),
    "edited label record": (
        lambda r: (r / LABELS).write_text("".join(_lines(r / LABELS)).replace('"label":null', '"label":"dog"', 1)),
        "labels.jsonl:1: label record of item 'k0' was edited",
    ),
    "removed label record": (
        lambda r: (r / LABELS).write_text("".join(_lines(r / LABELS)[:-1])),
        "labels.jsonl: 1 label record(s) removed",
    ),
    "added label record": (
        lambda r: (r / LABELS).write_text("".join(_lines(r / LABELS)) + '{"item":{"id":99}}\n'),
        "labels.jsonl:6: a label record was added",
    ),
    "label record and its hash removed together": (
        lambda r: [(r / n).write_text("".join(_lines(r / n)[1:])) for n in (LABELS, LABEL_HASHES)],
        "Merkle root",
    ),
    "label record and its hash edited together": (
        lambda r: [
            (r / LABELS).write_text("X\n" + "".join(_lines(r / LABELS)[1:])),
            (r / LABEL_HASHES).write_text(
                hashlib.sha256(b"X").hexdigest() + "\n" + "".join(_lines(r / LABEL_HASHES)[1:])
            ),
        ],
        "Merkle root",
    ),
    "edited manifest counts": (
        lambda r: _edit_manifest(r, lambda m: m["counts"].update(items=4)),
        "signature: does not match the manifest",
    ),
    "edited quality certificate": (
        lambda r: _edit_manifest(r, lambda m: m["quality_certificate"].update(accuracy_lower_bound=0.999)),
        "signature: does not match the manifest",
    ),
    "file hash in manifest rewritten": (
        lambda r: _edit_manifest(r, lambda m: m["files"][0].update(sha256="0" * 64)),
        "signature: does not match the manifest",
    ),
    "missing manifest": (lambda r: (r / MANIFEST).unlink(), "release.json is missing"),
    "malformed manifest": (lambda r: (r / MANIFEST).write_text("{nope"), "release.json: expected JSON"),
    "missing label hashes": (lambda r: (r / LABEL_HASHES).unlink(), "labels.sha256 is missing"),
}


@pytest.mark.parametrize("case", list(TAMPERS))
def test_tampering_is_reported_with_the_first_problem(rel: Path, key: Ed25519PrivateKey, case: str) -> None:
    tamper, expected = TAMPERS[case]
    tamper(rel)
    report = verify_release_dir(rel, trusted_key=key.public_key())
    assert not report.ok
    assert report.first is not None and expected in report.first, report.problems
    with pytest.raises(TamperDetected, match="v1"):
        report.raise_if_bad()


def test_a_manifest_resigned_by_another_key_is_refused(rel: Path, key: Ed25519PrivateKey) -> None:
    (rel / "data" / "images" / "a.png").write_bytes(b"evil")
    doc = json.loads((rel / MANIFEST).read_text())
    doc["manifest"]["files"][1].update(sha256=file_sha256(rel / "data" / "images" / "a.png"), size=4)
    (rel / MANIFEST).write_bytes(orjson.dumps(sign_manifest(doc["manifest"], Ed25519PrivateKey.generate())))
    report = verify_release_dir(rel, trusted_key=key.public_key())
    assert report.first is not None and "not by the trusted key" in report.first


def test_a_forged_signature_value_is_refused(rel: Path, key: Ed25519PrivateKey) -> None:
    doc = json.loads((rel / MANIFEST).read_text())
    doc["signature"]["value"] = doc["signature"]["value"][:-4] + "AAA="
    (rel / MANIFEST).write_text(json.dumps(doc))
    assert "signature: does not match" in str(verify_release_dir(rel).first)


def test_manifest_paths_outside_the_release_are_refused(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    rel = _build(tmp_path / "v1", key)
    (tmp_path / "secret").write_text("s")
    doc = json.loads((rel / MANIFEST).read_text())
    doc["manifest"]["files"].append({"path": "../secret", "sha256": file_sha256(tmp_path / "secret"), "size": 1})
    (rel / MANIFEST).write_bytes(orjson.dumps(sign_manifest(doc["manifest"], key)))
    report = verify_release_dir(rel, trusted_key=key.public_key())
    assert report.first == "release.json: file entry '../secret' is not a path inside the release"


def test_parent_release_must_be_the_one_named(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    v1 = _build(tmp_path / "v1", key)
    root1 = json.loads((v1 / MANIFEST).read_text())["manifest"]["merkle_root"]
    v2 = _build(tmp_path / "v2", key, parent={"name": "v1", "merkle_root": root1}, name="v2")
    assert verify_release_dir(v2, trusted_key=key.public_key(), parent=v1).ok
    other = _build(tmp_path / "other", key, name="v1b")
    wrong = verify_release_dir(v2, trusted_key=key.public_key(), parent=other)
    assert wrong.first is not None and wrong.first.startswith("parent: the manifest names 'v1'")
    orphan = verify_release_dir(v1, trusted_key=key.public_key(), parent=v2)
    assert orphan.first is not None and "names none" in orphan.first
    # a tampered parent does not vouch for its child
    shutil.rmtree(v1 / "data" / "images")
    bad_parent = verify_release_dir(v2, trusted_key=key.public_key(), parent=v1)
    assert bad_parent.first is not None and "parent release" in bad_parent.first and "removed" in bad_parent.first
