"""Exports from the browser and the API: formats with their options, run as jobs into zips.

An export job writes the project in a format straight into a zip file beside the published
exports (the exporters' zip output: one file on disk, media streamed into it) and renames the
zip into place, so a download never sees half a file and a failed or cancelled export leaves
nothing behind. Progress is the items the exporter has consumed, then the files packed. The
``native`` format writes a folder, packed into the zip afterwards.

Options are the keyword options of each exporter (YOLO ``task``, CoNLL ``control`` ...),
read from its signature and checked here: an unknown name is refused with the names that
are known. Media are streamed into the zip (a ``native`` export hard-links them into its
folder where the file system allows, the CLI's ``--link-media``): the zip holds the bytes either way.

Example:
    >>> sorted(o["name"] for o in export_formats()["yolo"]["options"])
    ['control', 'task', 'with_media']
    >>> check_options("yolo", {"task": "segment"})
    {'task': 'segment'}
    >>> check_options("yolo", {"tsak": "segment"})
    Traceback (most recent call last):
    ...
    labelloop.errors.InputRejected: options: expected options of yolo: control, task, with_media, got 'tsak'
"""

from __future__ import annotations

import inspect
import math
import re
import shutil
import tempfile
import types
import typing
import uuid
import zipfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, Literal, Union

from labelloop.core import Actor
from labelloop.errors import InputRejected, NotFound
from labelloop.services.jobs import CancelFlag, JobFn, Progress
from labelloop.services.zip_stream import iter_zip
from labelloop.storage import Store

__all__ = [
    "EXPORT_NAME",
    "KEEP_EXPORTS",
    "check_options",
    "export_dir",
    "export_file",
    "export_formats",
    "export_job",
    "run_export",
]

EXPORT_NAME = re.compile(r"^[0-9a-f]{32}\.zip$")
KEEP_EXPORTS = 20
"""Finished export zips kept per project; older ones are removed when a new one is published."""

_HIDDEN = frozenset({"link", "absolute_paths", "calib", "as_of", "progress", "actor", "batch"})
"""Options the web does not offer: ``link`` is always on; ``absolute_paths`` would name server
paths; ``calib`` is not JSON; the rest are the service's own arguments."""
_STRING_RULES = {"lang": re.compile(r"^[a-z]{2,3}$")}
_MAX_STRING = 200
_MAX_ERRORS = 200
_MAX_INT = 10**9
_KIND = {bool: "boolean", int: "integer", float: "number", str: "string"}


def _exporter(fmt: str) -> Callable[..., Any]:
    if fmt == "native":
        from labelloop.services.native import export_native

        return export_native
    from labelloop.formats import EXPORTERS

    return EXPORTERS[fmt]


def _spec(name: str, annotation: Any, default: Any) -> dict[str, Any] | None:
    """An option's wire description, or None when the web cannot offer it (not JSON)."""
    nullable = False
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (Union, types.UnionType):
        nullable = type(None) in args
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1:
            return None
        annotation = rest[0]
    choices = None
    if typing.get_origin(annotation) is Literal:
        choices = list(typing.get_args(annotation))
        if not all(isinstance(c, str) for c in choices):
            return None
        annotation = str
    if annotation not in _KIND:
        return None
    return {
        "name": name, "type": _KIND[annotation], "default": default, "nullable": nullable, "choices": choices,
    }  # fmt: skip


@cache
def _options(fmt: str) -> dict[str, dict[str, Any]]:
    fn = _exporter(fmt)
    hints = typing.get_type_hints(fn)
    out: dict[str, dict[str, Any]] = {}
    for p in inspect.signature(fn).parameters.values():
        if p.kind is not inspect.Parameter.KEYWORD_ONLY or p.name in _HIDDEN:
            continue
        spec = _spec(p.name, hints.get(p.name), p.default)
        if spec is not None:
            out[p.name] = spec
    return out


def export_formats() -> dict[str, dict[str, Any]]:
    """Every export format with the options the web offers: ``{name: {"options": [...]}}``.

    Each option is ``{"name", "type" (boolean/integer/number/string), "default", "nullable",
    "choices"}``. ``native`` is labelloop's lossless format (it imports back with its history).
    """
    from labelloop.formats import EXPORTERS

    names = ["native", *sorted(EXPORTERS)]
    return {n: {"options": list(_options(n).values())} for n in names}


def _check_value(fmt: str, spec: dict[str, Any], value: Any) -> Any:
    where = f"options.{spec['name']}"
    if value is None:
        if spec["nullable"]:
            return None
        raise InputRejected(where, f"a {spec['type']} for {fmt}", "null")
    kind = spec["type"]
    ok = (
        (kind == "boolean" and isinstance(value, bool))
        or (kind == "integer" and isinstance(value, int) and not isinstance(value, bool))
        or (kind == "number" and isinstance(value, int | float) and not isinstance(value, bool))
        or (kind == "string" and isinstance(value, str))
    )
    if not ok:
        raise InputRejected(where, f"a {kind} for {fmt}", type(value).__name__)
    if kind == "integer" and not 1 <= value <= _MAX_INT:
        raise InputRejected(where, f"an integer from 1 to {_MAX_INT}", str(value))
    if kind == "number" and not math.isfinite(value):
        raise InputRejected(where, "a finite number", str(value))
    if kind == "string":
        if spec["choices"] is not None and value not in spec["choices"]:
            raise InputRejected(where, f"one of {', '.join(spec['choices'])}", repr(value[:50]))
        rule = _STRING_RULES.get(spec["name"])
        if len(value) > _MAX_STRING or any(ord(c) < 32 for c in value) or (rule and not rule.match(value)):
            raise InputRejected(where, f"a short plain string{' like en' if rule else ''}", repr(value[:50]))
    return value


def check_options(fmt: str, options: dict[str, Any]) -> dict[str, Any]:
    """Validate ``options`` of export format ``fmt``; return them.

    Raises:
        InputRejected: an unknown format (the message lists the known ones), an unknown option
            (the message lists the known ones) or a value of the wrong type or out of range.
    """
    formats = export_formats()
    if fmt not in formats:
        raise InputRejected("format", f"one of {', '.join(formats)}", repr(fmt[:50]))
    known = _options(fmt)
    for name in options:
        if name not in known:
            expected = f"options of {fmt}: {', '.join(sorted(known))}" if known else f"no options for {fmt}"
            raise InputRejected("options", expected, repr(name[:50]))
    return {name: _check_value(fmt, known[name], value) for name, value in options.items()}


def export_dir(store: Store, project_id: int) -> Path:
    """Where a project's finished exports live."""
    return store.data_dir / "exports" / f"p{project_id}"


def export_file(store: Store, project_id: int, name: str) -> Path:
    """The path of a finished export of this project.

    Raises:
        NotFound: a malformed name, or no such export of this project (or it was pruned).
    """
    if not EXPORT_NAME.match(name):
        raise NotFound("export", name)
    path = export_dir(store, project_id) / name
    if not path.is_file():
        raise NotFound("export", name)
    return path


def _prune(folder: Path, keep: int) -> None:
    zips = sorted((p for p in folder.iterdir() if EXPORT_NAME.match(p.name)), key=lambda p: p.stat().st_mtime)
    for old in zips[: max(0, len(zips) - keep)]:
        old.unlink(missing_ok=True)


def _write(
    store: Store, project_id: int, fmt: str, options: dict[str, Any], out: Path, actor: str, step: Callable[..., None]
) -> dict[str, Any]:
    if fmt == "native":
        from labelloop.services.native import export_native

        n = export_native(store, project_id, out, progress=step, actor=actor, **options)
        return {"items": n.items, "annotations": n.annotations, "suggestions": n.suggestions, "reviews": n.reviews}
    from labelloop.services.exports import export_dataset

    rep = export_dataset(store, project_id, fmt, out, progress=step, actor=actor, **options)
    return {
        "items": rep.items, "regions": rep.regions, "suggestions": rep.suggestions,
        "ignored_regions": rep.ignored_regions, "skipped": len(rep.errors),
        "errors": [{"source": e.source, "reason": e.reason, "code": e.code} for e in rep.errors[:_MAX_ERRORS]],
    }  # fmt: skip


def run_export(
    store: Store,
    project_id: int,
    fmt: str,
    options: dict[str, Any],
    *,
    actor: str = Actor.system("export"),
    progress: Progress | None = None,
    cancel: CancelFlag | None = None,
    keep: int = KEEP_EXPORTS,
) -> dict[str, Any]:
    """Export the project as a zip under the data dir; return ``{"file", "format", counts...}``.

    Nothing is published unless the whole export succeeds (a cancel raises
    :class:`~labelloop.services.jobs.JobCancelled` and removes the partial work). The export
    is a provenance event of ``actor``. Only the ``keep`` newest zips of the project stay.

    Raises:
        InputRejected: an unknown format or option.
        NotFound: no such project.
    """
    options = check_options(fmt, options)
    report = progress or Progress()
    flag = cancel or CancelFlag()
    target = export_dir(store, project_id)
    target.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".job-", dir=target))
    try:

        def step(done: int, total: int | None) -> None:
            flag.raise_if_set()
            report(done, total, "exporting items")

        def packed(done: int, total: int) -> None:
            flag.raise_if_set()
            report(done, total, "packing files")

        partial = work / "partial.zip"
        if fmt == "native":
            summary = _write(store, project_id, fmt, options, work / "out", actor, step)
            with partial.open("wb") as f:
                for chunk in iter_zip(work / "out", on_member=packed):
                    f.write(chunk)
        else:  # the exporter writes the zip itself: its files were packed as it went
            summary = _write(store, project_id, fmt, options, partial, actor, step)
            with zipfile.ZipFile(partial) as zf:
                members = sum(not i.is_dir() for i in zf.infolist())
            packed(members, members)
        name = f"{uuid.uuid4().hex}.zip"
        partial.replace(target / name)  # atomic: a download never sees half a file
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _prune(target, keep)
    return {"file": name, "format": fmt, "options": options, **summary}


def export_job(store: Store, project_id: int, fmt: str, options: dict[str, Any], actor: str) -> JobFn:
    """The export as a job function for :meth:`~labelloop.services.jobs.JobRunner.submit`."""

    def work(progress: Progress, cancel: CancelFlag) -> dict[str, Any]:
        return run_export(store, project_id, fmt, options, actor=actor, progress=progress, cancel=cancel)

    return work
