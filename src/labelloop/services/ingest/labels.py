"""Labels that arrive with imported items (manifest ``annotations`` / ``suggestions``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labelloop.core import AnnotationStatus, LabelSchema, MediaRef
from labelloop.errors import InputRejected

__all__ = ["IncomingAnnotation", "IncomingSuggestion", "parse_labels"]


class IncomingAnnotation(BaseModel):
    """An annotation given in a manifest line."""

    model_config = ConfigDict(extra="forbid")
    annotator: str = Field(min_length=1, max_length=200)
    value: list[dict[str, Any]]
    status: AnnotationStatus = AnnotationStatus.SUBMITTED
    lead_time_s: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class IncomingSuggestion(BaseModel):
    """A machine suggestion given in a manifest line."""

    model_config = ConfigDict(extra="forbid")
    backend: str = Field(min_length=1, max_length=200)
    model_version: str = Field(min_length=1, max_length=200)
    score: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    value: list[dict[str, Any]]


def parse_labels(
    annotations: list[Any], suggestions: list[Any], schema: LabelSchema, media: Mapping[str, MediaRef], source: str
) -> tuple[list[IncomingAnnotation], list[IncomingSuggestion]]:
    """Parse and validate a line's labels against the schema and the item's media.

    Raises:
        InputRejected: naming the first bad label and every problem with it.
    """
    parsed_a: list[IncomingAnnotation] = []
    parsed_s: list[IncomingSuggestion] = []
    for kind, raw_list, model in (
        ("annotations", annotations, IncomingAnnotation),
        ("suggestions", suggestions, IncomingSuggestion),
    ):
        for i, raw in enumerate(raw_list):
            try:
                obj = model.model_validate(raw)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise InputRejected(source, f"valid {kind}[{i}]", f"{where}: {first['msg']}") from None
            problems = schema.validate_value(obj.value, media)
            if problems:
                raise InputRejected(source, f"{kind}[{i}] to fit the label schema", "; ".join(problems[:5]))
            if isinstance(obj, IncomingAnnotation):
                parsed_a.append(obj)
            else:
                assert isinstance(obj, IncomingSuggestion)
                parsed_s.append(obj)
    return parsed_a, parsed_s
