"""Shared types and helpers of the format modules.

* :class:`ExportRecord` — what an exporter consumes, one per item (streamed).
* :class:`ImportedItem` — what an importer yields per item (or an :class:`ItemError`).
* :class:`ExportReport` — what an exporter did, with one :class:`ItemError` per skipped item.
* :func:`resolve_inside` — resolve a dataset-relative path without ever leaving the root.

Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> try:
    ...     resolve_inside(root, "../../etc/passwd")
    ... except ValueError as exc:
    ...     print(exc)
    expected a relative path inside the dataset folder, got '../../etc/passwd'
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Protocol

from labelloop.core import Control, ControlKind, Item, ItemError, LabelSchema, MediaRef, Medium
from labelloop.errors import FormatError

__all__ = [
    "ExportRecord",
    "ExportReport",
    "ExportSuggestion",
    "Exporter",
    "ImportedItem",
    "Importer",
    "MediaPath",
    "UnsafePath",
    "Value",
    "check_problems",
    "check_relative",
    "controls_of",
    "fmt_num",
    "is_finite_number",
    "pick_control",
    "resolve_inside",
    "safe_split",
]

Value = list[dict[str, Any]]
MediaPath = Callable[[str], Path]
"""Maps a blob's SHA-256 to a readable file (the blob store's path for it)."""

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_SPLIT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_EXACT_INT = 2**53  # ints below this in magnitude are exact as floats


@dataclass(frozen=True, slots=True)
class ExportSuggestion:
    """A machine suggestion carried along with an exported item."""

    value: Value
    score: float | None = None
    model_version: str = ""


@dataclass(frozen=True, slots=True)
class ExportRecord:
    """One item to export: its chosen annotation value and optional suggestions.

    Attributes:
        item: The stored item.
        value: The chosen annotation value (list of regions); ``None`` when not annotated
            (the item is still exported, with no regions).
        suggestions: Machine suggestions, written where the format has a place for them.
        split: ``train`` / ``val`` / ``test``; defaults to ``item.meta["split"]`` or ``train``.
    """

    item: Item
    value: Value | None = None
    suggestions: tuple[ExportSuggestion, ...] = ()
    split: str | None = None

    @property
    def split_name(self) -> str:
        """The split this record goes to."""
        return self.split or str(self.item.meta.get("split") or "train")

    @property
    def where(self) -> str:
        """How error messages name this item."""
        return f"item {self.item.id}" + (f" ({self.item.key})" if self.item.key else "")


@dataclass(slots=True)
class ExportReport:
    """What an export wrote.

    Attributes:
        path: The published artifact (a folder, or a zip file when its name ends in ``.zip``).
        items: Items written.
        regions: Regions written.
        suggestions: Suggestion regions written (formats with a predictions file).
        ignored_regions: Regions of controls this format does not carry.
        errors: One entry per item that was skipped, with the reason.
    """

    path: Path
    items: int = 0
    regions: int = 0
    suggestions: int = 0
    ignored_regions: int = 0
    errors: list[ItemError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no item was skipped."""
        return not self.errors


@dataclass(frozen=True, slots=True)
class ImportedItem:
    """One item read from a dataset.

    Attributes:
        key: A stable external id: the dataset-relative media path, or ``file:document``.
        field: The media field of the schema the media belongs to.
        path: The media file (resolved, inside the dataset root), for binary media.
        text: The text, for text media.
        regions: The annotation value (validated against the schema).
        source: Where it came from (``annotations.json:images[3]``).
        meta: Format facts (``split``, ``width``, ``height``, original ids).
    """

    key: str
    field: str
    path: Path | None
    text: str | None
    regions: Value
    source: str
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)


class Exporter(Protocol):
    """An exporter: ``(records, schema, out, media_path) -> ExportReport``; options are keywords."""

    def __call__(
        self, records: Iterable[ExportRecord], schema: LabelSchema, out: Path, media_path: MediaPath, /
    ) -> ExportReport: ...


class Importer(Protocol):
    """An importer: ``(root, schema) -> iterator of ImportedItem | ItemError``; options are keywords."""

    def __call__(self, root: Path, schema: LabelSchema, /) -> Iterator[ImportedItem | ItemError]: ...


# ---------------------------------------------------------------------- paths
class UnsafePath(ValueError):
    """A user-given path that could leave its root.

    Attributes:
        path: The path as given.
        escapes: True when the path itself looked relative but resolves (through a symbolic
            link) outside the root.
    """

    def __init__(self, path: object, *, escapes: bool = False) -> None:
        tail = ", which resolves outside it" if escapes else ""
        super().__init__(f"expected a relative path inside the dataset folder, got {path!r}{tail}")
        self.path = path
        self.escapes = escapes


def check_relative(rel: object) -> PurePosixPath:
    """Return ``rel`` as a relative POSIX path, refusing anything that could name another place.

    Refused: non-strings, empty names, NUL bytes, URLs, absolute POSIX or Windows paths, drive
    letters and ``..`` components. Pure: nothing on disk is consulted.

    Raises:
        UnsafePath: naming the path.

    Example:
        >>> check_relative("a/b.png").parts
        ('a', 'b.png')
        >>> check_relative("/etc/passwd")
        Traceback (most recent call last):
        ...
        labelloop.formats._base.UnsafePath: expected a relative path inside the dataset folder, got '/etc/passwd'
    """
    if not isinstance(rel, str) or not rel or "\x00" in rel:
        raise UnsafePath(rel)
    posix = PurePosixPath(rel.replace("\\", "/"))
    win = PureWindowsPath(rel)
    if _SCHEME.match(rel) or posix.is_absolute() or win.is_absolute() or win.drive or ".." in posix.parts:
        raise UnsafePath(rel)
    return posix


def resolve_inside(root: Path, rel: str, *, base: str = "") -> Path:
    """Resolve ``base/rel`` under ``root``; refuse anything that could leave ``root``.

    Everything :func:`check_relative` refuses, and symbolic links that resolve outside
    ``root``. The file need not exist.

    Raises:
        UnsafePath: naming the path (a :class:`ValueError`).
    """
    posix = check_relative(rel)
    top = root.resolve()
    target = (top / base / posix).resolve()
    if not target.is_relative_to(top):
        raise UnsafePath(rel, escapes=True)
    return target


def safe_split(name: str) -> str:
    """Return ``name`` if it is usable as a split folder/file name.

    Raises:
        ValueError: for names with separators or odd characters.
    """
    if not _SPLIT.match(name):
        raise ValueError(f"split names are letters, digits, '_' or '-', got {name!r}")
    return name


# ---------------------------------------------------------------------- schema helpers
def controls_of(schema: LabelSchema, kinds: Iterable[ControlKind], field_name: str | None = None) -> list[Control]:
    """The controls of the given kinds (on ``field_name`` if given), in schema order."""
    wanted = set(kinds)
    return [c for c in schema.controls if c.kind in wanted and (field_name is None or c.target == field_name)]


def pick_control(
    schema: LabelSchema,
    kind: ControlKind,
    name: str | None,
    *,
    fmt: str,
    prefer: Callable[[Control], bool] | None = None,
) -> Control:
    """The control a format exports: ``name`` (which must be of ``kind``), else the first of ``kind``.

    Args:
        schema: The project's schema.
        kind: The control kind the format carries.
        name: The control the user asked for, if any.
        fmt: The format's name, for messages.
        prefer: Among several controls of ``kind``, the first one this accepts wins.

    Raises:
        FormatError: no such control, or one of another kind.

    Example:
        >>> s = LabelSchema.model_validate({"media": [{"name": "t", "kind": "text"}],
        ...     "controls": [{"name": "ents", "kind": "spans", "target": "t", "labels": ["X"]}]})
        >>> pick_control(s, ControlKind.SPANS, None, fmt="CoNLL-2003").name
        'ents'
    """
    if name is not None:
        ctl = schema.control(name)
        if ctl.kind != kind:
            raise FormatError(f"{fmt} exports a {kind.value} control; {name!r} is {ctl.kind.value}")
        return ctl
    found = controls_of(schema, [kind])
    if not found:
        raise FormatError(f"{fmt} needs a {kind.value} control")
    return next((c for c in found if prefer(c)), found[0]) if prefer is not None else found[0]


def check_problems(schema: LabelSchema, field_name: str, regions: Value, meta: Mapping[str, Any]) -> list[str]:
    """Validate ``regions`` against the schema and the medium's known size/text.

    ``meta`` may carry ``width``/``height`` (images) or ``text`` (text); empty lists are valid.
    """
    kind = schema.medium_of(field_name)
    text = meta.get("text")
    ref = MediaRef(
        kind,
        "",
        "",
        text if isinstance(text, str) else None,
        {k: meta[k] for k in ("width", "height") if isinstance(meta.get(k), int)},
    )
    problems: list[str] = schema.validate_value(regions, {field_name: ref})
    # ``required`` controls concern finished annotations, not what a dataset may hold.
    return [p for p in problems if "at least one region is required" not in p]


def image_ref(item: Item, field_name: str) -> MediaRef:
    """The item's image reference for ``field_name``.

    Raises:
        ValueError: when the item has no image in that field.
    """
    ref = item.data.get(field_name)
    if ref is None or ref.kind != Medium.IMAGE:
        raise ValueError(f"the item has no image in field {field_name!r}")
    return ref


# ---------------------------------------------------------------------- numbers
def is_finite_number(v: object) -> bool:
    """True for int/float values that are finite (bool is not a number here)."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def fmt_num(v: float) -> str:
    """Format a number exactly (shortest round-trip form), without exponent notation.

    Example:
        >>> fmt_num(3.0), fmt_num(0.1), fmt_num(5e-05)
        ('3', '0.1', '0.00005')
    """
    if type(v) is int and -_EXACT_INT < v < _EXACT_INT:  # what the float path gives, without it
        return str(v)
    s = repr(float(v))
    if s.endswith(".0"):  # an integral value below 1e16
        return "0" if s == "-0.0" else s[:-2]
    if "e" in s or "E" in s:
        f = float(v)
        if f.is_integer():
            return str(int(f))
        s = f"{f:.20f}".rstrip("0").rstrip(".")
    return s
