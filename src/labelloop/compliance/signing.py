"""Signed, tamper-evident release manifests: SHA-256 content hashes, a Merkle root, Ed25519.

A release directory holds::

    release.json     {"manifest": {...}, "signature": {"algorithm": "ed25519", "public_key", "value"}}
    labels.jsonl     one canonical label record per item (the Merkle leaves' content)
    labels.sha256    the SHA-256 of each record, one hex digest per line, in the same order
    ...              every other file (the dataset export, media, lineage) listed in the
                     manifest's ``files`` with its SHA-256 and size

The Merkle tree follows RFC 6962 (leaf ``H(0x00 || d)``, node ``H(0x01 || l || r)``, split at
the largest power of two), built in one pass with O(log n) memory. The signature covers the
canonical JSON of the manifest (sorted keys, no spaces), which names the Merkle root, the
parent release's root and the quality certificate. :func:`verify_release_dir` checks all of
it and names the first problem; a tampered directory is never reported as valid.

Example:
    >>> tree = MerkleTree()
    >>> for d in (b"a", b"b", b"c"):
    ...     tree.add(hashlib.sha256(d).digest())
    >>> len(tree.root_hex()), tree.count
    (64, 3)
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from labelloop.errors import FormatError, LabelloopError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "FILES_EXCLUDED",
    "LABELS",
    "LABEL_HASHES",
    "MANIFEST",
    "MANIFEST_FORMAT",
    "MerkleTree",
    "TamperDetected",
    "VerifyReport",
    "canonical_json",
    "file_sha256",
    "key_id",
    "load_or_create_key",
    "public_key_b64",
    "read_public_key",
    "sign_manifest",
    "verify_release_dir",
    "verify_statement",
    "write_public_key",
]

MANIFEST = "release.json"
LABELS = "labels.jsonl"
LABEL_HASHES = "labels.sha256"
FILES_EXCLUDED = frozenset({MANIFEST, LABELS, LABEL_HASHES})
MANIFEST_FORMAT = "labelloop.release"
_CHUNK = 1 << 20
_MAX_PROBLEMS = 50


class TamperDetected(LabelloopError):
    """A signed release (or its manifest) does not match what was signed."""

    code = "LL-TAMPER"
    exit_code = 8
    http_status = 422


def canonical_json(obj: Any) -> bytes:
    """The canonical bytes of a JSON value: sorted keys, no spaces, UTF-8.

    Example:
        >>> canonical_json({"b": 1, "a": [1.5, None]})
        b'{"a":[1.5,null],"b":1}'
    """
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


class MerkleTree:
    r"""An RFC 6962 Merkle tree hash built incrementally over 32-byte leaf digests.

    Memory is O(log n): only the roots of the perfect subtrees seen so far are kept.

    Example:
        >>> t = MerkleTree()
        >>> t.root_hex() == hashlib.sha256(b"").hexdigest()
        True
        >>> t.add(bytes(32)); t.root_hex() == hashlib.sha256(b"\x00" + bytes(32)).hexdigest()
        True
    """

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (height, hash) of perfect subtrees, left to right
        self.count = 0

    def add(self, digest: bytes) -> None:
        """Append one leaf (the SHA-256 digest of a record)."""
        node = hashlib.sha256(b"\x00" + digest).digest()
        height = 0
        while self._stack and self._stack[-1][0] == height:
            _, left = self._stack.pop()
            node = hashlib.sha256(b"\x01" + left + node).digest()
            height += 1
        self._stack.append((height, node))
        self.count += 1

    def root_hex(self) -> str:
        """The tree hash of the leaves so far (SHA-256 of nothing for an empty tree)."""
        if not self._stack:
            return hashlib.sha256(b"").hexdigest()
        node = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            node = hashlib.sha256(b"\x01" + left + node).digest()
        return node.hex()


# ---------------------------------------------------------------------- keys
def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """Load the Ed25519 signing key at ``path`` (PEM, PKCS#8), creating it if missing.

    A new key is written with mode 0600 (its folder 0700), created exclusively so two
    processes never overwrite each other's key.

    Raises:
        FormatError: the file exists but is not an Ed25519 private key.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "keys" / "release.pem"
        >>> k = load_or_create_key(p)
        >>> oct(p.stat().st_mode & 0o777), key_id(k.public_key()) == key_id(load_or_create_key(p).public_key())
        ('0o600', True)
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
                f.flush()
                os.fsync(f.fileno())
            return key
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise FormatError(f"{path}: expected an unencrypted PEM Ed25519 private key, got unreadable data") from exc
    if not isinstance(loaded, Ed25519PrivateKey):
        raise FormatError(f"{path}: expected an Ed25519 private key, got {type(loaded).__name__}")
    return loaded


def _raw(public: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public: Ed25519PublicKey) -> str:
    """The hex SHA-256 of a public key's raw bytes (how manifests and releases name keys)."""
    return hashlib.sha256(_raw(public)).hexdigest()


def public_key_b64(public: Ed25519PublicKey) -> str:
    """A public key's raw bytes in base64."""
    return base64.b64encode(_raw(public)).decode("ascii")


def _public_from_b64(text: str) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))


def write_public_key(public: Ed25519PublicKey, path: Path) -> None:
    """Write a public key as PEM (to hand to whoever verifies releases)."""
    from cryptography.hazmat.primitives import serialization

    path.write_bytes(public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def read_public_key(path: Path) -> Ed25519PublicKey:
    """Read a PEM public key, or the public half of a PEM private key.

    Raises:
        FormatError: not an Ed25519 key.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    data = path.read_bytes()
    key: object
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise FormatError(f"{path}: expected a PEM Ed25519 key, got unreadable data") from exc
    if isinstance(key, Ed25519PrivateKey):
        key = key.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise FormatError(f"{path}: expected an Ed25519 key, got {type(key).__name__}")
    return key


# ---------------------------------------------------------------------- signing
def sign_manifest(manifest: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """Return the signed document ``{"manifest": ..., "signature": ...}``.

    Example:
        >>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        >>> doc = sign_manifest({"merkle_root": "00"}, Ed25519PrivateKey.generate())
        >>> sorted(doc["signature"])
        ['algorithm', 'key_id', 'public_key', 'value']
    """
    public = key.public_key()
    return {
        "manifest": manifest,
        "signature": {
            "algorithm": "ed25519",
            "key_id": key_id(public),
            "public_key": public_key_b64(public),
            "value": base64.b64encode(key.sign(canonical_json(manifest))).decode("ascii"),
        },
    }


def verify_statement(statement: dict[str, Any], signature_b64: str, public: Ed25519PublicKey) -> bool:
    """True when ``signature_b64`` is ``public``'s signature of the canonical ``statement``."""
    from cryptography.exceptions import InvalidSignature

    try:
        public.verify(base64.b64decode(signature_b64, validate=True), canonical_json(statement))
    except (InvalidSignature, ValueError):
        return False
    return True


# ---------------------------------------------------------------------- verification
@dataclass(slots=True)
class VerifyReport:
    """The outcome of verifying a release directory.

    Attributes:
        path: The directory.
        problems: Every problem found (at most 50), the first one first; empty when valid.
        manifest: The manifest read (empty when unreadable).
        key_id: The key that signed it.
        trusted: True when the signing key was the one given as trusted.
        labels: Label records checked.
        files: Files checked.
    """

    path: Path
    problems: list[str] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)
    key_id: str = ""
    trusted: bool = False
    labels: int = 0
    files: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing was found wrong."""
        return not self.problems

    @property
    def first(self) -> str | None:
        """The first problem, if any."""
        return self.problems[0] if self.problems else None

    def add(self, problem: str) -> None:
        """Record a problem (the list is capped)."""
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(problem)

    def raise_if_bad(self) -> None:
        """Raise :class:`TamperDetected` naming the first problem.

        Raises:
            TamperDetected: when any problem was found.
        """
        if self.problems:
            more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
            raise TamperDetected(f"{self.path}: {self.problems[0]}{more}")


def _read_doc(path: Path, report: VerifyReport) -> dict[str, Any] | None:
    mpath = path / MANIFEST
    if not mpath.is_file():
        report.add(f"{MANIFEST} is missing: expected a signed release directory")
        return None
    try:
        doc = orjson.loads(mpath.read_bytes())
    except orjson.JSONDecodeError as exc:
        report.add(f"{MANIFEST}: expected JSON, got malformed data ({exc})")
        return None
    if (
        not isinstance(doc, dict)
        or not isinstance(doc.get("manifest"), dict)
        or not isinstance(doc.get("signature"), dict)
        or doc["manifest"].get("format") != MANIFEST_FORMAT
    ):
        report.add(f"{MANIFEST}: expected a {MANIFEST_FORMAT} manifest with a signature, got something else")
        return None
    return doc


def _check_signature(doc: dict[str, Any], trusted: Ed25519PublicKey | None, report: VerifyReport) -> bool:
    sig = doc["signature"]
    if sig.get("algorithm") != "ed25519":
        report.add(f"signature: expected algorithm ed25519, got {sig.get('algorithm')!r}")
        return False
    try:
        embedded = _public_from_b64(str(sig.get("public_key", "")))
    except ValueError:
        report.add("signature: the embedded public key is malformed")
        return False
    report.key_id = key_id(embedded)
    if trusted is not None:
        if key_id(trusted) != report.key_id:
            report.add(
                f"signature: signed by key {report.key_id[:16]}…, not by the trusted key {key_id(trusted)[:16]}…"
            )
            return False
        report.trusted = True
    if not verify_statement(doc["manifest"], str(sig.get("value", "")), embedded):
        report.add("signature: does not match the manifest (the manifest was edited after signing)")
        return False
    return True


def _check_parent(manifest: dict[str, Any], parent: dict[str, Any] | None, report: VerifyReport) -> None:
    if parent is None:
        return
    named = manifest.get("parent")
    if not isinstance(named, dict):
        report.add(f"parent: expected parent release {parent.get('release')!r}, the manifest names none")
        return
    if named.get("merkle_root") != parent.get("merkle_root") or named.get("name") != parent.get("release"):
        report.add(
            f"parent: the manifest names {named.get('name')!r} with root {str(named.get('merkle_root'))[:16]}…, "
            f"the parent given is {parent.get('release')!r} with root {str(parent.get('merkle_root'))[:16]}…"
        )


def _hash_lines(path: Path) -> Iterator[str]:
    with path.open("rb") as f:
        for raw in f:
            yield raw.rstrip(b"\n").decode("ascii", errors="replace")


def _check_labels(path: Path, manifest: dict[str, Any], report: VerifyReport) -> None:
    labels, hashes = path / LABELS, path / LABEL_HASHES
    for p in (labels, hashes):
        if not p.is_file():
            report.add(f"{p.name} is missing")
            return
    tree = MerkleTree()
    for n, hexd in enumerate(_hash_lines(hashes), 1):
        try:
            digest = bytes.fromhex(hexd)
        except ValueError:
            digest = b""
        if len(digest) != 32:
            report.add(f"{LABEL_HASHES}:{n}: expected a SHA-256 hex digest, got {hexd[:80]!r}")
            return
        tree.add(digest)
    expected_root, expected_n = manifest.get("merkle_root"), manifest.get("counts", {}).get("items")
    if tree.root_hex() != expected_root or tree.count != expected_n:
        report.add(
            f"{LABEL_HASHES}: Merkle root {tree.root_hex()[:16]}… over {tree.count} records does not match the "
            f"signed root {str(expected_root)[:16]}… over {expected_n} records (label hashes edited, added or removed)"
        )
        return
    with labels.open("rb") as f:
        line_hashes = _hash_lines(hashes)
        n = 0
        for n, raw in enumerate(f, 1):
            record = raw.rstrip(b"\n")
            want = next(line_hashes, None)
            if want is None:
                report.add(f"{LABELS}:{n}: a label record was added (the signed release has {tree.count})")
                return
            if hashlib.sha256(record).hexdigest() != want:
                report.add(f"{LABELS}:{n}: label record {_record_name(record)} was edited (hash mismatch)")
        report.labels = n
        if n < tree.count:
            report.add(f"{LABELS}: {tree.count - n} label record(s) removed after line {n} (expected {tree.count})")


def _record_name(record: bytes) -> str:
    try:
        obj = orjson.loads(record)
        item = obj["item"]
        return f"of item {item.get('key') or item.get('id')!r}"
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return "(unreadable)"


def _check_files(path: Path, manifest: dict[str, Any], report: VerifyReport) -> None:
    listed = manifest.get("files")
    if not isinstance(listed, list):
        report.add(f"{MANIFEST}: expected a list of files, got {type(listed).__name__}")
        return
    known: set[str] = set()
    for entry in listed:
        rel = str(entry.get("path", "")) if isinstance(entry, dict) else ""
        known.add(rel)
        target = (path / rel).resolve()
        if not rel or ".." in Path(rel).parts or Path(rel).is_absolute() or not target.is_relative_to(path.resolve()):
            report.add(f"{MANIFEST}: file entry {rel!r} is not a path inside the release")
            continue
        if not target.is_file():
            report.add(f"{rel}: listed in the manifest but removed")
            continue
        report.files += 1
        if target.stat().st_size != entry.get("size") or file_sha256(target) != entry.get("sha256"):
            report.add(f"{rel}: content changed (SHA-256 differs from the manifest)")
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path).as_posix()
        if (p.is_file() or p.is_symlink()) and rel not in known and rel not in FILES_EXCLUDED:
            report.add(f"{rel}: added after signing (not in the manifest)")


def verify_release_dir(
    path: Path, *, trusted_key: Ed25519PublicKey | None = None, parent: Path | dict[str, Any] | None = None
) -> VerifyReport:
    """Verify a signed release directory; never accepts a tampered one.

    Checks, in order: the manifest parses; the Ed25519 signature matches the manifest (and
    was made by ``trusted_key`` when given); the parent release (a directory, or a manifest
    dict) is the one the manifest names; the label hashes give the signed Merkle root; each
    label record matches its hash; each listed file exists with its hash and size; no file was
    added. ``report.first`` names the first problem.

    Example:
        >>> import tempfile, pathlib
        >>> verify_release_dir(pathlib.Path(tempfile.mkdtemp())).first
        'release.json is missing: expected a signed release directory'
    """
    report = VerifyReport(path)
    doc = _read_doc(path, report)
    if doc is None:
        return report
    report.manifest = doc["manifest"]
    if not _check_signature(doc, trusted_key, report):
        return report
    manifest = doc["manifest"]
    if isinstance(parent, Path):
        parent_report = verify_release_dir(parent, trusted_key=trusted_key)
        if not parent_report.ok:
            report.add(f"parent: the parent release {parent} does not verify: {parent_report.first}")
            return report
        parent = parent_report.manifest
    _check_parent(manifest, parent, report)
    _check_labels(path, manifest, report)
    _check_files(path, manifest, report)
    return report
