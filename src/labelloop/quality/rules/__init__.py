"""Declarative QC rules: the project's ``qc`` config plus a built-in library per medium.

Each rule checks one label value of one item and reports :class:`~labelloop.core.findings.Finding`
objects that name the item, the region, the rule, a severity, a message and a suggested fix.

Example:
    >>> from labelloop.core import LabelSchema
    >>> schema = LabelSchema.model_validate({"media": [{"name": "audio", "kind": "audio"}],
    ...     "controls": [{"name": "speech", "kind": "segments", "target": "audio", "labels": ["s"],
    ...                   "transcript": True}]})
    >>> v = [{"id": "a", "control": "speech", "label": "s", "start_s": 0, "end_s": 2, "transcript": "hi"},
    ...      {"id": "b", "control": "speech", "label": "s", "start_s": 1.5, "end_s": 3, "transcript": " "}]
    >>> [(f.rule_id, f.region_id, f.fix["action"]) for f in RuleEngine(schema).check(1, v)]
    [('segment_overlap', 'a', 'set'), ('empty_transcript', 'b', 'review')]
"""

from __future__ import annotations

from labelloop.quality.rules._config import (
    LabelErrorSettings,
    ModelCheckSettings,
    QCConfig,
    RuleSpec,
    TextImageSettings,
    parse_qc_config,
)
from labelloop.quality.rules._context import RuleContext
from labelloop.quality.rules._engine import RuleEngine
from labelloop.quality.rules._geometry import polygon_problem
from labelloop.quality.rules._library import BUILTIN_RULES, BuiltinRule
from labelloop.quality.rules._sequence import is_token_char

__all__ = [
    "BUILTIN_RULES",
    "BuiltinRule",
    "LabelErrorSettings",
    "ModelCheckSettings",
    "QCConfig",
    "RuleContext",
    "RuleEngine",
    "RuleSpec",
    "TextImageSettings",
    "is_token_char",
    "parse_qc_config",
    "polygon_problem",
]
