"""Built-in rules for text spans, audio segments and free-text fields."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from labelloop.core.schema import Control, ControlKind
from labelloop.quality.rules._context import Emit, RuleContext, floats

__all__ = [
    "EmptyTextParams",
    "OverlapParams",
    "SpanTokenParams",
    "empty_transcript",
    "is_token_char",
    "segment_overlap",
    "span_overlap",
    "span_tokens",
]


class _P(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return 0x3040 <= o <= 0x30FF or 0x3400 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0xAC00 <= o <= 0xD7AF


def is_token_char(ch: str) -> bool:
    """Part of a space-delimited word (letters, digits, ``_``; not CJK, where every character is a token edge).

    Example:
        >>> is_token_char("a"), is_token_char(" "), is_token_char("北")
        (True, False, False)
    """
    return (ch.isalnum() or ch == "_") and not _is_cjk(ch)


def _snap(text: str, start: int, end: int) -> tuple[int, int]:
    """Trim white space off both ends, then widen to whole words."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    while 0 < start < len(text) and is_token_char(text[start - 1]) and is_token_char(text[start]):
        start -= 1
    while 0 < end < len(text) and is_token_char(text[end - 1]) and is_token_char(text[end]):
        end += 1
    return start, end


class SpanTokenParams(_P):
    """``trim_whitespace``: spans must not start or end with white space."""

    trim_whitespace: bool = True


def _int_pair(r: dict[str, Any], a: str, b: str) -> tuple[int, int] | None:
    s, e = r.get(a), r.get(b)
    if isinstance(s, int) and isinstance(e, int) and not isinstance(s, bool) and not isinstance(e, bool):
        return s, e
    return None


def span_tokens(ctx: RuleContext, ctl: Control, p: SpanTokenParams, emit: Emit) -> None:
    """Span boundaries must fall on token edges; the fix snaps them to whole words."""
    ref = ctx.media.get(ctl.target)
    if ref is None or ref.text is None:
        return
    text = ref.text
    for r in ctx.of(ctl):
        se = _int_pair(r, "start", "end")
        if se is None or not (0 <= se[0] < se[1] <= len(text)):
            continue
        start, end = se
        if not p.trim_whitespace and (text[start].isspace() or text[end - 1].isspace()):
            continue
        s2, e2 = _snap(text, start, end)
        if (s2, e2) == (start, end) or s2 >= e2:
            continue
        emit(
            f"span [{start}:{end}] {text[start:end]!r} does not lie on token edges; whole words: {text[s2:e2]!r}",
            control=ctl,
            region=r,
            fix={"action": "set", "field": ["start", "end", "text"], "value": [s2, e2, text[s2:e2]]},
        )


class OverlapParams(_P):
    """Overlap tolerance (characters for spans, seconds for segments)."""

    tolerance: float = Field(0.0, ge=0)


def _overlaps(
    ctx: RuleContext, ctl: Control, p: OverlapParams, emit: Emit, start: str, end: str, unit: str, numeric: bool
) -> None:
    if ctl.allow_overlap:
        return
    regs = []
    for r in ctx.of(ctl):
        if numeric:
            v = floats([r.get(start), r.get(end)], 2)
            se = (v[0], v[1]) if v is not None else None
        else:
            ip = _int_pair(r, start, end)
            se = (float(ip[0]), float(ip[1])) if ip is not None else None
        if se is not None and se[1] > se[0]:
            regs.append((se[0], se[1], r))
    regs.sort(key=lambda t: (t[0], t[1]))
    if not regs:
        return
    s0, e0, r0 = regs[0]  # the region reaching furthest so far
    for s1, e1, r1 in regs[1:]:
        if s1 >= e0 - p.tolerance:
            s0, e0, r0 = s1, e1, r1
            continue
        if (s0, e0) == (s1, e1) and r0.get("label") == r1.get("label"):
            fix: dict[str, Any] = {"action": "delete"}
            msg = f"duplicates {unit} region {r0.get('id')!r}"
            target = r1
        else:
            new_end: float | int = s1 if numeric else int(s1)
            fix = {"action": "set", "field": end, "value": new_end} if s1 > s0 else {"action": "review"}
            msg = f"overlaps {unit} region {r1.get('id')!r} ([{s1:g}, {e1:g}]) where {ctl.name!r} forbids overlap"
            target = r0
        emit(msg, control=ctl, region=target, fix=fix)
        if e1 > e0:
            s0, e0, r0 = s1, e1, r1


def span_overlap(ctx: RuleContext, ctl: Control, p: OverlapParams, emit: Emit) -> None:
    """Spans may not overlap unless the control allows it; fix: end the earlier where the later starts."""
    _overlaps(ctx, ctl, p, emit, "start", "end", "span", numeric=False)


def segment_overlap(ctx: RuleContext, ctl: Control, p: OverlapParams, emit: Emit) -> None:
    """Audio segments may not overlap unless the control allows it; same fix as spans."""
    _overlaps(ctx, ctl, p, emit, "start_s", "end_s", "segment", numeric=True)


class EmptyTextParams(_P):
    """Shortest acceptable transcript or text field (characters after trimming)."""

    min_chars: int = Field(1, ge=1)


def empty_transcript(ctx: RuleContext, ctl: Control, p: EmptyTextParams, emit: Emit) -> None:
    """Segments with transcripts, and text fields, must not be empty."""
    if ctl.kind == ControlKind.SEGMENTS and not ctl.transcript:
        return
    key = "transcript" if ctl.kind == ControlKind.SEGMENTS else "text"
    for r in ctx.of(ctl):
        v = r.get(key)
        text = v.strip() if isinstance(v, str) else ""
        if len(text) < p.min_chars:
            where = f"segment [{r.get('start_s')}, {r.get('end_s')}] s" if key == "transcript" else "text field"
            emit(
                f"empty {key} in {where}",
                control=ctl,
                region=r,
                fix={"action": "review", "hint": f"type the {key} (or delete the region if nothing is said)"},
            )
