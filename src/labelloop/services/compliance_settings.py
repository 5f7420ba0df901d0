r"""A project's ``compliance`` setting: what desensitisation hides and how (validated, stored as JSON).

See :mod:`labelloop.services.desensitise` for the setting's shape and what it does.

Example:
    >>> parse_compliance({"pii": {"mode": "tag"}, "plates": True}, source="x").plates
    'blur'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from labelloop.compliance import PatternSpec, RedactionMode
from labelloop.compliance.pii import compile_patterns
from labelloop.errors import InputRejected

__all__ = ["ComplianceSettings", "FaceMethod", "PiiSettings", "parse_compliance"]

FaceMethod = Literal["blur", "pixelate"]


@dataclass(frozen=True, slots=True)
class PiiSettings:
    """How text PII is found and replaced."""

    mode: str = "tag"
    entities: tuple[str, ...] | None = None
    patterns: tuple[PatternSpec, ...] = ()
    english_ner: bool = False
    chinese_ner: bool = True
    min_score: float = 0.0


@dataclass(frozen=True, slots=True)
class ComplianceSettings:
    """A project's desensitisation settings (``None``: that part is off)."""

    pii: PiiSettings | None = None
    faces: FaceMethod | None = None
    face_label: str = "face"
    plates: FaceMethod | None = None
    plate_label: str = "plate"

    def to_json(self) -> dict[str, Any]:
        """The stored form (what :func:`parse_compliance` reads)."""
        out: dict[str, Any] = {}
        if self.pii is not None:
            p = self.pii
            out["pii"] = {
                "mode": p.mode,
                "entities": None if p.entities is None else list(p.entities),
                "patterns": [
                    {
                        "name": s.name,
                        "regex": s.regex,
                        "entity": s.entity,
                        "score": s.score,
                        "ignore_case": s.ignore_case,
                    }
                    for s in p.patterns
                ],
                "english_ner": p.english_ner,
                "chinese_ner": p.chinese_ner,
                "min_score": p.min_score,
            }
        if self.faces is not None:
            out["faces"] = self.faces
            out["face_label"] = self.face_label
        if self.plates is not None:
            out["plates"] = self.plates
            out["plate_label"] = self.plate_label
        return out


def _keys(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise InputRejected(where, f"only the keys {sorted(allowed)}", f"unknown key(s) {extra}")


def parse_compliance(data: Any, *, source: str) -> ComplianceSettings:
    """Validate a ``compliance`` setting; malformed PII patterns are refused.

    Raises:
        InputRejected: naming the setting and what was expected.

    Example:
        >>> bad = {"pii": {"patterns": [{"name": "x", "regex": "(a+)+", "entity": "X"}]}}
        >>> parse_compliance(bad, source="cfg")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        labelloop.errors.InputRejected: PII pattern 'x': expected a regular expression without nested repetition ...
    """
    if not isinstance(data, Mapping):
        raise InputRejected(source, "a mapping with 'pii', 'faces' and/or 'plates'", type(data).__name__)
    _keys(data, {"pii", "faces", "face_label", "plates", "plate_label"}, source)
    pii: PiiSettings | None = None
    raw = data.get("pii")
    if raw is not None:
        where = f"{source}: pii"
        if not isinstance(raw, Mapping):
            raise InputRejected(where, "a mapping", type(raw).__name__)
        _keys(raw, {"mode", "entities", "patterns", "english_ner", "chinese_ner", "min_score"}, where)
        mode = raw.get("mode", "tag")
        if mode not in {m.value for m in RedactionMode}:
            raise InputRejected(f"{where}.mode", "one of mask, tag, pseudonym, hash", repr(mode))
        entities = raw.get("entities")
        if entities is not None and (
            not isinstance(entities, list) or not all(isinstance(e, str) and e for e in entities)
        ):
            raise InputRejected(f"{where}.entities", "a list of entity names", repr(entities))
        specs = []
        for i, p in enumerate(raw.get("patterns") or []):
            if not isinstance(p, Mapping) or not {"name", "regex", "entity"} <= set(p):
                raise InputRejected(f"{where}.patterns[{i}]", "a mapping with name, regex and entity", repr(p))
            _keys(p, {"name", "regex", "entity", "score", "ignore_case"}, f"{where}.patterns[{i}]")
            specs.append(
                PatternSpec(
                    str(p["name"]), str(p["regex"]), str(p["entity"]), float(p.get("score", 0.8)),
                    bool(p.get("ignore_case", False)),
                )
            )  # fmt: skip
        compile_patterns(specs)  # refuses malformed or dangerous patterns, naming them
        for flag in ("english_ner", "chinese_ner"):
            if not isinstance(raw.get(flag, False), bool):
                raise InputRejected(f"{where}.{flag}", "true or false", repr(raw.get(flag)))
        min_score = raw.get("min_score", 0.0)
        if not isinstance(min_score, (int, float)) or not 0.0 <= float(min_score) <= 1.0:
            raise InputRejected(f"{where}.min_score", "a number in [0, 1]", repr(min_score))
        pii = PiiSettings(
            str(mode),
            None if entities is None else tuple(entities),
            tuple(specs),
            bool(raw.get("english_ner", False)),
            bool(raw.get("chinese_ner", True)),
            float(min_score),
        )
    faces = data.get("faces")
    if faces is not None and faces not in ("blur", "pixelate"):
        raise InputRejected(f"{source}: faces", "blur or pixelate", repr(faces))
    raw_plates = data.get("plates")
    if not (raw_plates is None or isinstance(raw_plates, bool) or raw_plates in ("blur", "pixelate")):
        raise InputRejected(f"{source}: plates", "blur, pixelate, true or false", repr(raw_plates))
    plates: FaceMethod | None = None
    if raw_plates is True or raw_plates in ("blur", "pixelate"):
        plates = "pixelate" if raw_plates == "pixelate" else "blur"
    labels = {}
    for key, default in (("face_label", "face"), ("plate_label", "plate")):
        label = data.get(key, default)
        if not isinstance(label, str) or not label:
            raise InputRejected(f"{source}: {key}", "a label name", repr(label))
        labels[key] = label
    return ComplianceSettings(pii, faces, labels["face_label"], plates, labels["plate_label"])
