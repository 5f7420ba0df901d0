r"""Desensitisation: PII out of texts, faces and licence plates out of images before annotators see them.

A project opts in with a ``compliance`` setting (:func:`configure`)::

    compliance:
      pii:
        mode: pseudonym            # mask | tag | pseudonym | hash
        entities: [PHONE, EMAIL]   # default: every entity type
        english_ner: false         # Presidio + spaCy person/location names
        chinese_ner: true          # jieba person/place names
        patterns:                  # extra patterns, validated (malformed ones are refused)
          - {name: employee, regex: "EMP-\\d{6}", entity: EMPLOYEE_ID}
      faces: blur                  # blur | pixelate (images)
      plates: pixelate             # blur | pixelate | true (= blur): licence plates read by OCR

From then on every imported item is *held* (kept from annotators and backends) until
:func:`desensitise` has processed it. Processing an item stores its original media in the
append-only ``item_originals`` table, replaces its working media with the redacted text or the
blurred image, redacts the labels (:mod:`labelloop.services.desensitise_labels`: spans moved
onto the new text, free text — text fields, transcripts, text attributes — through the same
detector and mode; a new version of every annotation chain head and a copy of every suggestion
that changes, drafts and gold answers rewritten in place), stores detected faces and plates as
box suggestions a reviewer can adjust, and releases the hold. Older label versions stay in the
append-only history for managers and the audit; :mod:`labelloop.services.redacted_view` keeps
them, and review comments written before, from everybody else. Plates are the text lines that
the bundled OCR (``image.ocr``'s RapidOCR engine, the ``ocr`` extra) reads as a Chinese or UK
plate (:mod:`labelloop.compliance.plates`); the engine loads once per run, only when needed. A
failure keeps the item held, with the reason. Each batch is one ``redaction`` provenance event
whose digests cover the new media and the originals.

Pseudonyms are consistent per project and hashes salted per project: both use a random
per-project secret kept in the project's settings.

Example:
    >>> parse_compliance({"pii": {"mode": "tag"}}, source="x").pii.mode
    'tag'
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelloop.compliance import (
    PiiDetector,
    Redacted,
    blur_regions,
    detect_faces,
    find_plates,
    redact,
    write_image_atomic,
)
from labelloop.core import (
    Annotation,
    ControlKind,
    Item,
    LabelSchema,
    MediaRef,
    Medium,
    NewAnnotation,
    NewSuggestion,
    Suggestion,
)
from labelloop.core.permissions import decide
from labelloop.errors import InputRejected, LabelloopError, PermissionDenied
from labelloop.services.compliance_settings import ComplianceSettings, PiiSettings, parse_compliance
from labelloop.services.desensitise_labels import LabelRedactor, TextRedactor
from labelloop.services.redacted_view import REDACTOR
from labelloop.storage import BlobRow, Store, UnitOfWork
from labelloop.storage.provenance_repo import ROW_COLUMNS, id_ranges, rows_digest
from labelloop.storage.tasks_repo import TaskRepo

__all__ = [
    "HOLD_PENDING",
    "ComplianceSettings",
    "DesensitiseReport",
    "PiiSettings",
    "configure",
    "desensitise",
    "parse_compliance",
    "read_original",
    "settings_of",
]

SETTING = "compliance"
SECRET = "compliance.secret"  # noqa: S105 (the settings key, not a secret)
HOLD_PENDING = "awaiting desensitisation"
ACTOR = REDACTOR
PLATES_VERSION = "rapidocr3.10-ppocrv6-small+plates-1"


def settings_of(tx: UnitOfWork, project_id: int) -> ComplianceSettings | None:
    """A project's stored compliance settings, or None when it has none."""
    raw = tx.compliance.setting(project_id, SETTING)
    return None if raw is None else parse_compliance(raw, source=f"project {project_id} compliance setting")


def configure(store: Store, project: str | int, data: Any, *, actor: str) -> ComplianceSettings:
    """Validate and store a project's compliance settings; hold every item not yet desensitised.

    Media of those items that members were already shown is no longer fetchable (its grant is
    revoked); once desensitised, an item grants its redacted media when shown.

    Raises:
        InputRejected: a malformed setting (nothing is stored).
    """
    cfg = parse_compliance(data, source="compliance setting")
    with store.transaction() as tx:
        p = tx.projects.get(project)
        tx.compliance.set_setting(p.id, SETTING, cfg.to_json(), actor)
        if tx.compliance.setting(p.id, SECRET) is None:
            tx.compliance.set_setting(p.id, SECRET, os.urandom(32).hex(), actor)
        after = 0
        grants = TaskRepo(tx.conn)
        while page := tx.compliance.pending(p.id, after_id=after, limit=5000):
            tx.compliance.hold(p.id, [i.id for i in page], HOLD_PENDING)
            # media already shown to members stops being fetchable while its item is held
            grants.revoke(p.id, [r.sha256 for i in page for r in i.data.values() if r.kind is not Medium.TEXT])
            after = page[-1].id
        tx.provenance.append(
            "config", actor=actor, project_id=p.id, subject={"setting": SETTING}, payload=cfg.to_json()
        )
    return cfg


@dataclass(slots=True)
class DesensitiseReport:
    """What a run did."""

    items: int = 0
    redactions: int = 0
    faces: int = 0
    plates: int = 0
    label_texts: int = 0
    entities: dict[str, int] = field(default_factory=dict)
    remapped: dict[str, int] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Labels:
    """An item's label records and mutable label values, read with its page."""

    sugg: list[Suggestion] = field(default_factory=list)
    anns: list[Annotation] = field(default_factory=list)
    drafts: list[tuple[int, list[dict[str, Any]]]] = field(default_factory=list)  # (user id, value)
    gold: list[dict[str, Any]] | None = None


@dataclass(slots=True)
class _Done:
    item: Item
    data: dict[str, MediaRef]
    redactions: dict[str, Redacted] = field(default_factory=dict)
    faces: dict[str, list[tuple[int, int, int, int]]] = field(default_factory=dict)
    plates: dict[str, list[tuple[int, int, int, int]]] = field(default_factory=dict)
    blobs: list[BlobRow] = field(default_factory=list)
    new_a: list[NewAnnotation] = field(default_factory=list)
    new_s: list[NewSuggestion] = field(default_factory=list)
    drafts: dict[int, list[dict[str, Any]] | None] = field(default_factory=dict)  # user id -> value (None: drop)
    gold: list[dict[str, Any]] | None = None
    statuses: dict[str, int] = field(default_factory=dict)
    texts: int = 0


class _Ocr:
    """The OCR engine of a run: loaded on the first image that needs it, then reused."""

    def __init__(self) -> None:
        self._engine: Any = None

    def read(self, pixels: Any) -> list[Any]:
        if self._engine is None:
            from labelloop.backends.image_ocr import OcrEngine

            self._engine = OcrEngine()
        return list(self._engine.read(pixels))


def _text(item: Item, name: str, ref: MediaRef, det: PiiDetector, cfg: PiiSettings, secret: bytes) -> Redacted:
    assert ref.text is not None
    return redact(ref.text, det.detect(ref.text), mode=cfg.mode, key=secret, salt=secret)


def _image(
    store: Store, item: Item, name: str, ref: MediaRef, cfg: ComplianceSettings, ocr: _Ocr, out: _Done
) -> MediaRef:
    from labelloop.modalities import load_image

    pixels = load_image(store.blobs.path(ref.sha256), source=f"item {item.id} {name}")
    faces = detect_faces(pixels) if cfg.faces is not None else []
    plates = find_plates(ocr.read(pixels), pixels.shape[1], pixels.shape[0]) if cfg.plates is not None else []
    out.faces[name] = [f.xyxy for f in faces]
    out.plates[name] = [p.xyxy for p in plates]
    if not faces and not plates:
        return ref
    hidden = pixels
    if faces and cfg.faces is not None:
        hidden = blur_regions(hidden, faces, method=cfg.faces)
    if plates and cfg.plates is not None:
        hidden = blur_regions(hidden, plates, method=cfg.plates)
    suffix = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}.get(ref.media_type, ".png")
    tmp_dir = store.data_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tmp_dir) as d:
        path = Path(d) / f"redacted{suffix}"
        write_image_atomic(hidden, path)
        sha, size, _new = store.blobs.put_bytes(path.read_bytes())
    media_type = ref.media_type if suffix != ".png" or ref.media_type == "image/png" else "image/png"
    meta = {**ref.meta, "faces_hidden": len(faces)}
    if cfg.plates is not None:
        meta["plates_hidden"] = len(plates)
    out.blobs.append(BlobRow(sha, size, Medium.IMAGE.value, media_type, meta))
    return MediaRef(Medium.IMAGE, sha, media_type, None, meta)


def _process(
    store: Store, item: Item, cfg: ComplianceSettings, det: PiiDetector | None, secret: bytes, ocr: _Ocr
) -> _Done:
    out = _Done(item, dict(item.data))
    for name, ref in item.data.items():
        if ref.kind is Medium.TEXT and cfg.pii is not None and det is not None and ref.text is not None:
            red = _text(item, name, ref, det, cfg.pii, secret)
            out.redactions[name] = red
            if red.replacements:
                out.data[name] = MediaRef(
                    Medium.TEXT, MediaRef.from_text(red.text).sha256, ref.media_type, red.text,
                    {**ref.meta, "chars": len(red.text), "redacted": len(red.replacements)},
                )  # fmt: skip
        elif ref.kind is Medium.IMAGE and (cfg.faces is not None or cfg.plates is not None):
            out.data[name] = _image(store, item, name, ref, cfg, ocr, out)
    return out


def _labels_of(tx: UnitOfWork, ids: list[int]) -> dict[int, _Labels]:
    out: dict[int, _Labels] = {i: _Labels() for i in ids}
    sugg, anns, _ = tx.labels.for_items(ids)
    for sg in sugg:
        out[sg.item_id].sugg.append(sg)
    for a in anns:
        out[a.item_id].anns.append(a)
    tasks = TaskRepo(tx.conn)
    for user_id, item_id, value in tasks.drafts_of(ids):
        out[item_id].drafts.append((user_id, value))
    for item_id, value in tasks.gold_values(ids).items():
        out[item_id].gold = value
    return out


def _text_redactor(det: PiiDetector | None, pii: PiiSettings | None, secret: bytes) -> TextRedactor | None:
    if det is None or pii is None:
        return None

    def run(text: str) -> tuple[str, int]:
        red = redact(text, det.detect(text), mode=pii.mode, key=secret, salt=secret)
        return red.text, len(red.replacements)

    return run


def _redact_labels(out: _Done, schema: LabelSchema, labels: _Labels, redact_text: TextRedactor | None) -> None:
    """New versions of the chain heads, copies of the suggestions, drafts and gold: redacted."""
    fix = LabelRedactor(schema, out.redactions, redact_text, out.statuses)
    replaced = {a.parent_id for a in labels.anns if a.parent_id is not None}
    for a in labels.anns:
        v = None if a.id in replaced else fix.value(a.value)
        if v is not None:
            out.new_a.append(
                NewAnnotation(
                    a.item_id, v, a.annotator, a.status, a.lead_time_s, parent_id=a.id, suggestion_id=a.suggestion_id
                )
            )
    for sg in labels.sugg:
        v = fix.value(sg.value)
        if v is not None:
            out.new_s.append(NewSuggestion(sg.item_id, v, sg.backend, sg.model_version, sg.score))
    for user_id, value in labels.drafts:
        try:
            v = fix.value(value)
        except ValueError:  # an unvalidated draft whose spans cannot be moved: it cannot be kept
            out.drafts[user_id] = None
            continue
        if v is not None:
            out.drafts[user_id] = v
    if labels.gold is not None:
        out.gold = fix.value(labels.gold)
    out.texts = fix.texts


def _box_value(
    schema: LabelSchema, boxes: Mapping[str, list[tuple[int, int, int, int]]], label: str, what: str
) -> list[dict[str, Any]]:
    """Box regions for every boxes control that has ``label`` and targets a medium with boxes."""
    value = []
    for ctl in schema.controls:
        if ctl.kind is not ControlKind.BOXES or label not in ctl.labels or ctl.target not in boxes:
            continue
        for i, box in enumerate(boxes[ctl.target]):
            value.append(
                {"id": f"{ctl.name}-{what}-{i}", "control": ctl.name, "label": label, "xyxy": [float(v) for v in box]}
            )
    return value


def _write(
    tx: UnitOfWork,
    pid: int,
    schema: LabelSchema,
    cfg: ComplianceSettings,
    done: Sequence[_Done],
    report: DesensitiseReport,
) -> None:
    if not done:
        return
    tx.items.add_blobs([b for d in done for b in d.blobs])
    originals = tx.compliance.add_originals(pid, {d.item.id: d.item.data for d in done}, ACTOR)
    tx.compliance.replace_data(pid, {d.item.id: d.data for d in done if d.data != d.item.data})
    ids = [d.item.id for d in done]
    new_a = [a for d in done for a in d.new_a]
    new_s = [sg for d in done for sg in d.new_s]
    copies = len(new_s)
    for d in done:
        found = (
            (d.faces, cfg.face_label, "face", "compliance.faces", "haar-1"),
            (d.plates, cfg.plate_label, "plate", "compliance.plates", PLATES_VERSION),
        )
        for boxes, label, what, backend, version in found:
            value = _box_value(schema, boxes, label, what) if any(boxes.values()) else []
            if value and not schema.validate_value(value, d.data):
                new_s.append(NewSuggestion(d.item.id, value, backend, version))
    tx.labels.add_annotations(pid, new_a, created_by=[ACTOR] * len(new_a))
    tx.labels.add_suggestions(pid, new_s, created_by=[ACTOR] * len(new_s))
    tasks = TaskRepo(tx.conn)
    for d in done:
        for user_id, draft in d.drafts.items():
            if draft is None:
                tasks.drop_draft(d.item.id, user_id)
            else:
                tasks.set_draft_value(d.item.id, user_id, draft)
        if d.gold is not None:
            tasks.set_gold_value(d.item.id, d.gold)
    tx.compliance.release(ids)
    labels = {
        "versions": len(new_a), "suggestions": copies, "drafts": sum(len(d.drafts) for d in done),
        "gold": sum(d.gold is not None for d in done), "free_text": sum(d.texts for d in done),
    }  # fmt: skip
    entities: dict[str, int] = {}
    for d in done:
        for red in d.redactions.values():
            for rep in red.replacements:
                entities[rep.entity] = entities.get(rep.entity, 0) + 1
    faces = sum(len(v) for d in done for v in d.faces.values())
    plates = sum(len(v) for d in done for v in d.plates.values())
    data_rows = [
        (d.item.id, {k: v.to_json() for k, v in d.data.items()}) for d in sorted(done, key=lambda d: d.item.id)
    ]
    orig_rows = [[r[c] for c in ROW_COLUMNS["item_originals"]] for r in originals]
    n_orig, orig_digest = rows_digest(orig_rows)
    tx.provenance.record_rows(
        "redaction", "items.data", data_rows, actor=ACTOR, project_id=pid,
        payload={
            "mode": None if cfg.pii is None else cfg.pii.mode, "faces": faces, "plates": plates,
            "entities": entities, "labels": labels,
            "also": [{"table": "item_originals", "ids": id_ranges(ids), "count": n_orig, "sha256": orig_digest}],
        },
    )  # fmt: skip
    report.items += len(done)
    report.redactions += sum(entities.values())
    report.faces += faces
    report.plates += plates
    report.label_texts += labels["free_text"]
    for d in done:
        for k, n in d.statuses.items():
            report.remapped[k] = report.remapped.get(k, 0) + n
    for k, n in entities.items():
        report.entities[k] = report.entities.get(k, 0) + n


def desensitise(
    store: Store, project: str | int, *, batch: int = 100, detector: PiiDetector | None = None
) -> DesensitiseReport:
    """Desensitise every item of ``project`` not yet processed (see the module docstring).

    Args:
        store: The store.
        project: Project name or id; it must have compliance settings (:func:`configure`).
        batch: Items per transaction (and per provenance event).
        detector: A prebuilt PII detector (default: built from the settings).

    Raises:
        InputRejected: the project has no compliance settings.

    Example:
        >>> # configure(store, "reviews", {"pii": {"mode": "pseudonym"}}, actor="user:me")
        >>> # desensitise(store, "reviews").items
    """
    with store.read() as tx:
        p = tx.projects.get(project)
        cfg = settings_of(tx, p.id)
        secret = bytes.fromhex(str(tx.compliance.setting(p.id, SECRET) or ""))
    if cfg is None:
        raise InputRejected(f"project {p.name!r}", "compliance settings (labelloop desensitise --config)", "none")
    det = detector
    if det is None and cfg.pii is not None:
        pii = cfg.pii
        det = PiiDetector(
            english_ner=pii.english_ner, chinese_ner=pii.chinese_ner, extra_patterns=pii.patterns,
            entities=pii.entities, min_score=pii.min_score,
        )  # fmt: skip
    report = DesensitiseReport()
    ocr = _Ocr()
    redact_text = _text_redactor(det, cfg.pii, secret)
    after = 0
    while True:
        with store.read() as tx:
            page = tx.compliance.pending(p.id, after_id=after, limit=batch)
            labels = _labels_of(tx, [i.id for i in page]) if page else {}
        if not page:
            return report
        after = page[-1].id
        done: list[_Done] = []
        failed: dict[int, str] = {}
        for item in page:
            try:
                out = _process(store, item, cfg, det, secret, ocr)
                _redact_labels(out, p.schema, labels[item.id], redact_text)
                done.append(out)
            except (LabelloopError, ValueError, OSError) as exc:
                failed[item.id] = f"{type(exc).__name__}: {exc}"[:2000]
        with store.transaction() as tx:
            _write(tx, p.id, p.schema, cfg, done, report)
            if failed:
                tx.compliance.hold(p.id, list(failed), "desensitisation failed")
                reasons = {str(k): v for k, v in failed.items()}
                tx.provenance.append(
                    "redaction_failed", actor=ACTOR, project_id=p.id,
                    subject={"ids": id_ranges(failed)}, payload={"count": len(failed), "reasons": reasons},
                )  # fmt: skip
        report.failed.update(failed)


def read_original(store: Store, project: str | int, item_id: int, *, actor: str, role: str) -> dict[str, MediaRef]:
    """Return an item's original media; every read, allowed or not, is an ``original_read`` event.

    Who may is the ``original.read`` row of the permission table
    (:data:`labelloop.core.permissions.POLICY`: managers and instance admins).

    Raises:
        PermissionDenied: the table denies ``role`` (the refusal is logged too).
        NotFound: no such project, or the item has no stored original.
    """
    from labelloop.errors import NotFound

    with store.transaction() as tx:
        p = tx.projects.get(project)
        decision = decide(role, "original.read", frozenset())
        tx.provenance.append(
            "original_read", actor=actor, project_id=p.id,
            subject={"item_id": item_id}, payload={"role": role, "allowed": decision.allowed},
        )  # fmt: skip
        if not decision.allowed:
            denied = PermissionDenied(f"{actor} ({role}) may not read original media: {decision.reason}")
        else:
            original = tx.compliance.original(p.id, item_id)
            if original is None:
                raise NotFound("original of item", item_id)
            return original
    raise denied


# The demo's settings: names, identifiers and contacts out of the texts (places stay: they are
# what the LOC labels are about), faces blurred in the photos.
DEMO_SETTINGS: dict[str, dict[str, Any]] = {
    "text-demo": {
        "pii": {
            "mode": "pseudonym",
            "english_ner": True,
            "chinese_ner": True,
            "entities": ["PERSON", "PHONE", "EMAIL", "CN_ID", "BANK_CARD", "PASSPORT", "IP_ADDRESS", "URL"],
        }
    },
    "image-demo": {"faces": "blur"},
}


def desensitise_demo(store: Store, projects: Sequence[str], *, actor: str) -> list[str]:
    """The demo step: desensitise the demo projects that have settings, then verify their logs.

    Returns one line per project. Where the English NER extra is missing the text project falls
    back to the rule-based detectors (and says so).
    """
    from labelloop.services.audit import verify

    lines = []
    for name in projects:
        settings = DEMO_SETTINGS.get(name)
        if settings is None:
            continue
        try:
            configure(store, name, settings, actor=actor)
            report = desensitise(store, name)
        except LabelloopError as exc:
            lines.append(f"{name}: desensitisation skipped ({exc})")
            continue
        if report.failed and "english_ner" in settings.get("pii", {}):
            fallback = {"pii": {**settings["pii"], "english_ner": False}}
            configure(store, name, fallback, actor=actor)
            report = desensitise(store, name)
        ents = ", ".join(f"{k} {v}" for k, v in sorted(report.entities.items())) or "none found"
        audit = verify(store, name)
        state = "log verified" if audit.ok else f"LOG TAMPERED: {audit.first_bad}"
        lines.append(
            f"{name}: {report.items} items, {report.redactions} redactions ({ents}), {report.faces} faces blurred, "
            f"{len(report.failed)} kept hidden; {state} ({audit.chains[0].events} events)"
        )
    return lines
