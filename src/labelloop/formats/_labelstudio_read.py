"""Label Studio JSON importer (the reader of :mod:`labelloop.formats.labelstudio`).

Reads a full-export task list (``tasks.json``). Per task: the chosen annotation is the
``ground_truth`` one, else the last one not ``was_cancelled``; predictions become
``meta["suggestions"]`` (``value``, ``score``, ``model_version``). Media paths in ``data`` are
relative to the dataset root (an optional ``media_prefix`` is stripped); URLs, absolute paths
and ``..`` are refused for that task. NaN/Infinity in the JSON, unknown ``from_name``/labels,
or geometry outside the image give an :class:`ItemError` for that task, never an exception.

Example:
    >>> _from_percent({"x": 5, "y": 20, "width": 25, "height": 50}, 200, 100)
    [10.0, 20.0, 60.0, 70.0]
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from labelloop.core import ControlKind, ItemError, LabelSchema, Medium
from labelloop.formats._base import ImportedItem, Value, check_problems, is_finite_number, resolve_inside
from labelloop.formats._media import probe_image

__all__ = ["import_label_studio", "regions_from_results"]

MAX_JSON_BYTES = 512 * 1024**2
_READ_MEDIA = (Medium.TEXT, Medium.IMAGE, Medium.AUDIO)


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _from_percent(v: dict[str, Any], width: int, height: int) -> list[float]:
    x, y, w, h = (float(v[k]) for k in ("x", "y", "width", "height"))
    return [x * width / 100, y * height / 100, (x + w) * width / 100, (y + h) * height / 100]


def _num(v: Any, what: str) -> float:
    if not is_finite_number(v):
        raise ValueError(f"{what} must be a finite number, got {v!r}")
    return float(v)


def _one_label(value: dict[str, Any], key: str) -> str:
    labels = value.get(key)
    if not isinstance(labels, list) or len(labels) != 1 or not isinstance(labels[0], str):
        raise ValueError(f"expected exactly one label in {key!r}, got {labels!r}")
    return labels[0]


def _size(res: dict[str, Any], fallback: tuple[int, int] | None) -> tuple[int, int]:
    w, h = res.get("original_width"), res.get("original_height")
    if isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0:
        return w, h
    if fallback is None:
        raise ValueError("an image result without original_width/original_height")
    return fallback


def _regions(schema: LabelSchema, results: Any, sizes: dict[str, tuple[int, int] | None]) -> Value:
    if not isinstance(results, list):
        raise ValueError("'result' must be a list")
    regions: Value = []
    transcripts: dict[str, str] = {}
    relations = [c for c in schema.controls if c.kind == ControlKind.RELATIONS]
    for res in results:
        if not isinstance(res, dict) or not isinstance(res.get("value", {}), dict):
            raise ValueError("each result must be an object with a 'value' object")
        typ, rid, val = res.get("type"), str(res.get("id", "")), res.get("value", {})
        if typ == "relation":
            labels = res.get("labels") or []
            label = labels[0] if labels else (relations[0].labels[0] if relations else "")
            ctl_r = next((c for c in relations if label in c.labels), relations[0] if relations else None)
            if ctl_r is None:
                raise ValueError("a relation, but the schema has no relations control")
            regions.append(
                {"id": rid or f"rel{len(regions)}", "control": ctl_r.name, "label": label}
                | {"from_id": str(res.get("from_id")), "to_id": str(res.get("to_id"))}
            )
            continue
        name = str(res.get("from_name", ""))
        if typ == "textarea" and name.endswith("_transcript"):
            text = val.get("text")
            transcripts[rid] = "\n".join(text) if isinstance(text, list) else str(text or "")
            continue
        try:
            ctl = schema.control(name)
        except KeyError:
            raise ValueError(f"from_name {name!r} is not a control of the schema") from None
        base = {"id": rid, "control": ctl.name}
        k = ctl.kind
        if k == ControlKind.BOXES and typ == "rectanglelabels":
            if float(val.get("rotation") or 0) != 0:
                raise ValueError(f"result {rid!r}: rotated rectangles are not supported")
            for key in ("x", "y", "width", "height"):
                _num(val.get(key), f"result {rid!r} {key}")
            w, h = _size(res, sizes.get(ctl.target))
            regions.append(base | {"label": _one_label(val, "rectanglelabels"), "xyxy": _from_percent(val, w, h)})
        elif k == ControlKind.POLYGONS and typ == "polygonlabels":
            w, h = _size(res, sizes.get(ctl.target))
            pts = val.get("points")
            if not isinstance(pts, list) or not all(isinstance(p, list) and len(p) == 2 for p in pts):
                raise ValueError(f"result {rid!r}: 'points' must be [[x, y], ...]")
            xy = [[_num(x, "x") * w / 100, _num(y, "y") * h / 100] for x, y in pts]
            regions.append(base | {"label": _one_label(val, "polygonlabels"), "points": xy})
        elif k == ControlKind.SPANS and typ == "labels":
            span = {"label": _one_label(val, "labels"), "start": val.get("start"), "end": val.get("end")}
            if isinstance(val.get("text"), str):
                span["text"] = val["text"]
            regions.append(base | span)
        elif k == ControlKind.SEGMENTS and typ == "labels":
            s, e = _num(val.get("start"), "start"), _num(val.get("end"), "end")
            regions.append(base | {"label": _one_label(val, "labels"), "start_s": s, "end_s": e})
        elif k == ControlKind.CLASSIFICATION and typ == "choices":
            regions.append(base | {"labels": val.get("choices")})
        elif k == ControlKind.TEXT_FIELD and typ == "textarea":
            text = val.get("text")
            regions.append(base | {"text": "\n".join(text) if isinstance(text, list) else text})
        else:
            raise ValueError(f"result {rid!r}: type {typ!r} does not fit control {name!r} ({k})")
    for r in regions:
        if r["id"] in transcripts and schema.control(r["control"]).transcript:
            r["transcript"] = transcripts.pop(r["id"])
    if transcripts:
        raise ValueError(f"transcripts for unknown segment ids {sorted(transcripts)}")
    return regions


def regions_from_results(
    schema: LabelSchema, results: Any, sizes: dict[str, tuple[int, int] | None] | None = None
) -> Value:
    """Convert a Label Studio ``result`` list (an annotation's or a prediction's) to schema regions.

    Args:
        schema: The label schema (``from_name`` must name its controls).
        results: The ``result`` list.
        sizes: Image sizes per media field, used when a result lacks ``original_width/height``.

    Raises:
        ValueError: a malformed result, an unknown ``from_name`` or a type that does not fit.

    Example:
        >>> s = LabelSchema.model_validate({"media": [{"name": "t", "kind": "text"}], "controls": [
        ...     {"name": "c", "kind": "classification", "target": "t", "labels": ["a"]}]})
        >>> regions_from_results(s, [{"id": "r", "from_name": "c", "type": "choices", "value": {"choices": ["a"]}}])
        [{'id': 'r', 'control': 'c', 'labels': ['a']}]
    """
    return _regions(schema, results, dict(sizes or {}))


def _pick(annotations: Any) -> dict[str, Any] | None:
    if not isinstance(annotations, list):
        raise ValueError("'annotations' must be a list")
    live = [a for a in annotations if isinstance(a, dict) and not a.get("was_cancelled")]
    return next((a for a in live if a.get("ground_truth")), live[-1] if live else None)


def _read_task(root: Path, schema: LabelSchema, task: Any, media_prefix: str) -> ImportedItem:
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        raise ValueError("a task must be an object with a 'data' object")
    data = task["data"]
    fields = [m for m in schema.media if m.kind in _READ_MEDIA and m.name in data]
    if not fields:
        raise ValueError(f"'data' has none of the schema's media fields {[m.name for m in schema.media]}")
    sizes: dict[str, tuple[int, int] | None] = {}
    metas: dict[str, dict[str, Any]] = {}
    paths: dict[str, Path] = {}
    text: str | None = None
    for m in fields:
        raw = data[m.name]
        if not isinstance(raw, str):
            raise ValueError(f"data.{m.name} must be a string")
        if m.kind == Medium.TEXT:
            metas[m.name] = {"text": raw}
            text = raw if text is None else text
            continue
        rel = raw[len(media_prefix) :] if media_prefix and raw.startswith(media_prefix) else raw
        path = resolve_inside(root, rel)
        if not path.is_file():
            raise ValueError(f"data.{m.name}: {rel!r} is not a file in the dataset")
        paths[m.name] = path
        sizes[m.name] = probe_image(path) if m.kind == Medium.IMAGE else None
        size = sizes[m.name]
        metas[m.name] = {"width": size[0], "height": size[1]} if size else {}
    primary = fields[0].name
    chosen = _pick(task.get("annotations", []))
    regions = _regions(schema, chosen.get("result", []), sizes) if chosen else []
    for fld, meta in metas.items():
        problems = check_problems(schema, fld, regions, meta)
        if problems:
            raise ValueError("; ".join(problems))
    suggestions = []
    preds = task.get("predictions", [])
    for i, p in enumerate(preds if isinstance(preds, list) else []):
        if not isinstance(p, dict):
            raise ValueError(f"prediction {i} must be an object")
        value = _regions(schema, p.get("result", []), sizes)
        for fld, meta in metas.items():
            problems = check_problems(schema, fld, value, meta)
            if problems:
                raise ValueError(f"prediction {i}: " + "; ".join(problems))
        score = p.get("score")
        suggestions.append(
            {
                "value": value,
                "score": float(score) if score is not None and is_finite_number(score) else None,
                "model_version": str(p.get("model_version") or ""),
            }
        )
    raw_meta = task.get("meta")
    meta_in: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
    key = meta_in.get("labelloop_key") if isinstance(meta_in.get("labelloop_key"), str) else None
    if key is None:
        key = data[primary] if primary in paths else f"task:{task.get('id')}"
    info: dict[str, Any] = {"task_id": task.get("id"), "suggestions": suggestions}
    if isinstance(meta_in.get("split"), str):
        info["split"] = meta_in["split"]
    size = sizes.get(primary)
    if size:
        info |= {"width": size[0], "height": size[1]}
    if chosen:
        info |= {k: chosen[k] for k in ("completed_by", "lead_time") if k in chosen}
    return ImportedItem(key, primary, paths.get(primary), text, regions, f"task {task.get('id')}", info)


def import_label_studio(
    root: Path, schema: LabelSchema, /, *, tasks: str = "tasks.json", media_prefix: str = ""
) -> Iterator[ImportedItem | ItemError]:
    """Read a Label Studio full JSON export; never reads outside ``root``.

    Args:
        root: The dataset folder.
        schema: The label schema (``from_name`` values are its control names).
        tasks: The task list, relative to ``root``.
        media_prefix: A prefix of media paths in ``data`` to strip (``/data/local-files/?d=``).

    Yields:
        One :class:`ImportedItem` per task (predictions in ``meta["suggestions"]``), or an
        :class:`ItemError` naming ``tasks.json[i]``.

    Example:
        >>> # for got in import_label_studio(Path("ls-export"), schema): ...
    """
    top = root.resolve()
    try:
        path = resolve_inside(top, tasks)
        if path.stat().st_size > MAX_JSON_BYTES:
            raise ValueError(f"larger than {MAX_JSON_BYTES} bytes")
        with path.open(encoding="utf-8") as fh:
            doc = json.load(fh, parse_constant=_no_constant)
    except (OSError, ValueError) as exc:
        yield ItemError(tasks, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return
    if not isinstance(doc, list):
        doc = [doc]
    for i, task in enumerate(doc):
        try:
            yield _read_task(top, schema, task, media_prefix)
        except (ValueError, TypeError, KeyError) as exc:
            yield ItemError(f"{tasks}[{i}]", str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc))
