"""The demo's release step: release every demo project, export it, verify the signed folder.

Example:
    >>> # for name, detail in release_demo(store, ["image-demo"], Path("demo/releases")): print(name, detail)
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

from labelloop.core import Actor, ControlKind, LabelSchema
from labelloop.errors import LabelloopError
from labelloop.services.release_export import export_release, verify_release_export
from labelloop.services.releases import create_release, list_releases
from labelloop.storage import Store

__all__ = ["release_demo", "training_format"]

# The training format that suits a project, by the first control kind it has (else native only).
_FORMATS: tuple[tuple[ControlKind, str], ...] = (
    (ControlKind.BOXES, "coco"),
    (ControlKind.SPANS, "conll2003"),
    (ControlKind.CUBOIDS, "openlabel"),
    (ControlKind.SEGMENTS, "nemo"),
)


def training_format(schema: LabelSchema) -> str | None:
    """The standard format the demo exports a project's release in, if any.

    Example:
        >>> s = LabelSchema.model_validate({"media": [{"name": "i", "kind": "image"}],
        ...     "controls": [{"name": "o", "kind": "boxes", "target": "i", "labels": ["cat"]}]})
        >>> training_format(s)
        'coco'
    """
    kinds = {c.kind for c in schema.controls}
    return next((fmt for kind, fmt in _FORMATS if kind in kinds), None)


def release_demo(store: Store, projects: Sequence[str], out_dir: Path) -> Iterator[tuple[str, str]]:
    """Release each project (``demo-N``, the next free N), export it natively and in its training format.

    Yields ``(step, detail)`` lines; a problem is reported as a line starting with ``PROBLEM``.
    """
    for project in projects:
        taken = {r.name for r in list_releases(store, project)}
        name = next(f"demo-{n}" for n in range(1, len(taken) + 2) if f"demo-{n}" not in taken)
        rel = create_release(store, project, name, Actor.system("demo"))
        yield "release", f"{project}: {name} of {rel.items} items ({rel.labelled} labelled), root {rel.merkle_root}"
        with store.read() as tx:
            schema = tx.projects.get(project).schema
        fmts = ["native", *([f] if (f := training_format(schema)) else [])]
        for fmt in fmts:
            out = out_dir / f"{project}-{name}-{fmt}"
            if out.exists():
                shutil.rmtree(out)
            try:
                ex = export_release(store, project, name, fmt, out)
            except LabelloopError as exc:
                yield "release", f"PROBLEM {project}: {fmt} export failed: {exc}"
                continue
            report = verify_release_export(store, out)
            verdict = "signature verified" if report.ok else f"PROBLEM verification failed: {report.first}"
            yield "release", f"{project}: {name} → {fmt} ({ex.files} files, {ex.skipped} skipped) → {out}; {verdict}"
