"""Move annotation spans from an original text to its redacted text.

Policy for a span ``[start, end)`` against each replaced range ``[a, b)``:

* **disjoint** (``end <= a`` or ``start >= b``): shifted exactly; the covered text is unchanged.
* **contains** (``start <= a`` and ``b <= end``): the edges are shifted exactly and the span
  covers the whole replacement text.
* **partial** (an edge lies strictly inside ``[a, b)``): with ``policy="clip"`` (default) the
  edge moves out of the replaced range (start to ``b``, end to ``a``); with ``"expand"`` it
  moves to cover the whole replacement; with ``"drop"`` the span is dropped.
* **inside** (``a <= start`` and ``end <= b``, not equal to the range): clipping leaves nothing,
  so the span is dropped; ``"expand"`` gives the replacement's range.

Every span gets a :class:`SpanReport` saying what happened, so the caller can ask a person to
re-check ``clipped``/``expanded``/``dropped`` spans. Regions without integer ``start``/``end``
(boxes, classifications …) pass through untouched; a ``text`` field is rewritten to the new
covered text.

Example:
    >>> from labelloop.compliance.pii import Finding
    >>> from labelloop.compliance.redact import redact
    >>> red = redact("Call 13812345678 today", [Finding(5, 16, "PHONE", 1.0, "cn_mobile")], mode="tag")
    >>> out = remap_regions([{"id": "a", "start": 17, "end": 22}, {"id": "b", "start": 0, "end": 10}], red)
    >>> [(r["start"], r["end"]) for r in out.regions], [s.status for s in out.reports]
    ([(13, 18), (0, 5)], ['exact', 'clipped'])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from labelloop.compliance.redact import Redacted

__all__ = ["RemapResult", "SpanReport", "remap_regions", "remap_span"]

OverlapPolicy = Literal["clip", "expand", "drop"]
Status = Literal["exact", "contains", "clipped", "expanded", "dropped"]


@dataclass(frozen=True, slots=True)
class SpanReport:
    """What happened to one span.

    Attributes:
        index: Position of the region in the input.
        start: Original start.
        end: Original end.
        status: ``exact``, ``contains``, ``clipped``, ``expanded`` or ``dropped``.
        new_start: New start (``None`` when dropped).
        new_end: New end (``None`` when dropped).
    """

    index: int
    start: int
    end: int
    status: Status
    new_start: int | None
    new_end: int | None


@dataclass(frozen=True, slots=True)
class RemapResult:
    """Remapped regions (dropped spans removed) and one report per span region."""

    regions: list[dict[str, Any]]
    reports: list[SpanReport]


def remap_span(
    start: int, end: int, red: Redacted, policy: OverlapPolicy = "clip"
) -> tuple[Status, int | None, int | None]:
    """Map one span; see the module docstring for the policy.

    Raises:
        ValueError: The span is empty, reversed or outside the original text.

    Example:
        >>> from labelloop.compliance.pii import Finding
        >>> from labelloop.compliance.redact import redact
        >>> red = redact("ab 10.0.0.1 cd", [Finding(3, 11, "IP_ADDRESS", 1.0, "ipv4")], mode="mask")
        >>> remap_span(0, 14, red), remap_span(5, 7, red), remap_span(5, 7, red, "expand")
        (('contains', 0, 9), ('dropped', None, None), ('expanded', 3, 6))
    """
    if not 0 <= start < end <= red.original_length:
        raise ValueError(f"span {start}..{end} is not a non-empty range inside 0..{red.original_length}")
    s, e = start, end
    changed = False
    contains = False
    for rep in red.replacements:
        if rep.end <= start or rep.start >= end:
            continue
        if start <= rep.start and rep.end <= end:
            contains = True
            continue
        if policy == "drop":
            return "dropped", None, None
        changed = True
        if policy == "expand":
            s, e = min(s, rep.start), max(e, rep.end)
        else:
            if rep.start < s < rep.end:
                s = rep.end
            if rep.start < e < rep.end:
                e = rep.start
    if s >= e:
        return "dropped", None, None
    new_s, new_e = red.map_offset(s), red.map_offset(e)
    if changed:
        return ("expanded" if policy == "expand" else "clipped"), new_s, new_e
    return ("contains" if contains else "exact"), new_s, new_e


def remap_regions(
    regions: Iterable[Mapping[str, Any]], red: Redacted, *, policy: OverlapPolicy = "clip"
) -> RemapResult:
    """Map annotation regions (schema format: spans carry ``start``/``end``) onto ``red.text``.

    Args:
        regions: Regions of one annotation value; they are not modified (copies are returned).
        red: The redaction of the text the regions refer to.
        policy: What to do with spans that partly overlap a replacement.

    Returns:
        The kept regions in input order, and one report per span region.
    """
    out: list[dict[str, Any]] = []
    reports: list[SpanReport] = []
    for i, region in enumerate(regions):
        start, end = region.get("start"), region.get("end")
        if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool):
            out.append(dict(region))
            continue
        status, ns, ne = remap_span(start, end, red, policy)
        reports.append(SpanReport(i, start, end, status, ns, ne))
        if ns is None or ne is None:
            continue
        new = dict(region, start=ns, end=ne)
        if "text" in new and new["text"] is not None:
            new["text"] = red.text[ns:ne]
        out.append(new)
    return RemapResult(out, reports)
