"""The ``qc`` section of a project config, validated by pydantic.

Example YAML::

    qc:
      builtins: true            # the built-in library for every control it applies to
      rules:
        - rule: box_min_size
          controls: [objects]
          severity: warning
          params: {min_width: 4, min_height: 4}
        - rule: attribute_required_if
          id: occluded-needs-level
          controls: [objects]
          params: {attribute: level, if_attribute: occluded, equals: true}
      model_checks:
        min_confidence: 0.8
        box_iou: 0.5
        text_image: {enabled: true, threshold: 0.5}   # OCR text (or a CLIP export) vs caption
      label_errors: {enabled: true, min_items: 20}

Example:
    >>> cfg = parse_qc_config({"qc": {"rules": [{"rule": "box_min_size", "params": {"min_width": 3}}]}})
    >>> cfg.rules[0].rule_id, cfg.rules[0].params
    ('box_min_size', {'min_width': 3})
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labelloop.core.findings import Severity
from labelloop.errors import InvalidSchema

__all__ = ["LabelErrorSettings", "ModelCheckSettings", "QCConfig", "RuleSpec", "TextImageSettings", "parse_qc_config"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleSpec(_Strict):
    """One configured rule.

    Attributes:
        rule: The built-in rule it runs (see :data:`labelloop.quality.rules.BUILTIN_RULES`).
        id: The id findings carry; defaults to ``rule``.
        controls: The controls it applies to; empty means every control it fits.
        severity: Overrides the rule's default severity.
        enabled: False switches a built-in off (give the same ``rule`` and no ``id``).
        params: The rule's parameters, validated by the rule's own model.
    """

    rule: str = Field(min_length=1, max_length=64)
    id: str | None = Field(default=None, min_length=1, max_length=64)
    controls: list[str] = Field(default_factory=list)
    severity: Severity | None = None
    enabled: bool = True
    params: dict[str, Any] = Field(default_factory=dict)

    @property
    def rule_id(self) -> str:
        """The id findings carry."""
        return self.id or self.rule


class TextImageSettings(_Strict):
    """The text–image mismatch check (opt-in: it runs an encoder over every checked image).

    Attributes:
        enabled: Run the check on items with an image and a text (a text medium, such as a
            caption, or a ``text_field`` label).
        threshold: A text whose probability of describing its image is below this is flagged
            (0.5 by default: the ``multimodal.similarity`` backend's "misaligned").
        clip: A CLIP export (``image_model``, ``text_model``, ``tokenizer`` paths and the
            options of ``multimodal.similarity``'s ``clip``); without it, the offline default
            compares the image's OCR text with the text.
        cosine_threshold: The cosine at which a pair is as likely aligned as not (None: the
            encoder's default, 0.35 MiniLM, 0.82 e5, 0.25 CLIP).
        scale: Steepness of the cosine-to-probability sigmoid (None: the encoder's default).
    """

    enabled: bool = False
    threshold: float = Field(0.5, gt=0.0, lt=1.0)
    clip: dict[str, Any] | None = None
    cosine_threshold: float | None = Field(None, ge=-1.0, le=1.0)
    scale: float | None = Field(None, gt=0.0, le=1000.0)


class ModelCheckSettings(_Strict):
    """Thresholds of the model checks (human labels against confident suggestions, texts against images)."""

    enabled: bool = True
    min_confidence: float = Field(0.8, ge=0.0, le=1.0)
    box_iou: float = Field(0.5, gt=0.0, le=1.0)
    match_iou: float = Field(0.1, gt=0.0, le=1.0)
    text_image: TextImageSettings = Field(default_factory=TextImageSettings)


class LabelErrorSettings(_Strict):
    """Confident-learning settings: suspects need classification suggestions with scores."""

    enabled: bool = True
    min_items: int = Field(20, ge=2)
    max_findings: int = Field(1000, ge=0)


class QCConfig(_Strict):
    """The whole ``qc`` section.

    Attributes:
        builtins: Run the built-in library (each rule on every control it fits).
        rules: Configured rules; one with a built-in's name and no ``id`` replaces that built-in.
        model_checks: Thresholds of the model checks.
        label_errors: Confident-learning settings.
        gold_rate: Share of gold (honeypot) items mixed into annotation queues.
        drift_window: Gold items per window of the drift curve.
        slice_by: The item ``meta`` key whose value names an item's data slice.
    """

    builtins: bool = True
    rules: list[RuleSpec] = Field(default_factory=list)
    model_checks: ModelCheckSettings = Field(default_factory=ModelCheckSettings)
    label_errors: LabelErrorSettings = Field(default_factory=LabelErrorSettings)
    gold_rate: float = Field(0.05, ge=0.0, le=1.0)
    slice_by: str = Field("slice", min_length=1, max_length=64)
    drift_window: int = Field(50, ge=2)


def parse_qc_config(data: Any, *, source: str = "qc config") -> QCConfig:
    """Validate a config mapping: either the ``qc`` section itself or a dict that holds it.

    Raises:
        InvalidSchema: one line per problem, naming the field path under ``qc``.

    Example:
        >>> parse_qc_config({"qc": {"rules": [{"params": {}}]}})
        Traceback (most recent call last):
        ...
        labelloop.errors.InvalidSchema: qc config: invalid qc section: qc.rules.0.rule: Field required
    """
    if data is None:
        return QCConfig()
    if not isinstance(data, dict):
        raise InvalidSchema(f"{source}: expected a mapping with a 'qc' section, got {type(data).__name__}")
    section = data.get("qc", data)
    if section is None:
        return QCConfig()
    if not isinstance(section, dict):
        raise InvalidSchema(f"{source}: expected 'qc' to be a mapping, got {type(section).__name__}")
    try:
        cfg = QCConfig.model_validate(section)
    except ValidationError as exc:
        lines = []
        for e in exc.errors():
            loc = ".".join(str(p) for p in ("qc", *e["loc"]))
            lines.append(f"{loc}: {e['msg'].removeprefix('Value error, ')}")
        raise InvalidSchema(f"{source}: invalid qc section: " + "; ".join(lines)) from None
    from labelloop.quality.rules._library import validate_rule_specs

    problems = validate_rule_specs(cfg.rules)
    if problems:
        raise InvalidSchema(f"{source}: invalid qc section: " + "; ".join(problems))
    return cfg
