"""Export a project's current labels in a standard dataset format.

The *current* annotation of an item is its newest submitted version that no later version
replaces (drafts never leave labelloop). Items without one are exported unlabelled, as
formats such as COCO expect. Suggestions travel where the format has a place for them.

Example:
    >>> # export_dataset(store, "pets", "coco", Path("out/coco"))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from labelloop.core import Actor, Annotation
from labelloop.formats import EXPORTERS, ExportRecord, ExportReport, ExportSuggestion
from labelloop.services._gc import without_gc
from labelloop.services.audit import record_export
from labelloop.services.versions import current_annotation, withdrawn_auto_labels
from labelloop.storage import Store

__all__ = ["current_annotation", "export_dataset"]

ProgressFn = Callable[[int, int | None], None]
_PROGRESS_EVERY = 256  # items between two progress calls inside a page


@without_gc
def export_dataset(
    store: Store,
    project: str | int,
    fmt: str,
    out: Path,
    *,
    as_of: datetime | None = None,
    progress: ProgressFn | None = None,
    actor: str = Actor.system("export"),
    **options: Any,
) -> ExportReport:
    """Write ``project`` to ``out`` in format ``fmt`` (``coco``, ``yolo``, ``voc``, ``conll2003``, ``csv``).

    The finished export is an ``export`` event in the project's provenance log (counts and a
    digest of the files written), recorded by ``actor``. ``progress(done, total)`` is called
    every few hundred items as the exporter consumes them; an exception it raises (a cancel)
    stops the export and nothing is published.

    Raises:
        PluginError: no such format (the message lists them).
    """
    exporter = EXPORTERS[fmt]
    with store.read() as tx:
        proj = tx.projects.get(project)
        total = tx.projects.counts(proj.id)["items"]

        def records() -> Iterator[ExportRecord]:
            done = 0
            for page in tx.items.iter_all(proj.id, as_of=as_of):
                sugg, anns, revs = tx.labels.for_item_range(proj.id, page[0].id, page[-1].id, as_of=as_of)
                withdrawn = withdrawn_auto_labels(anns, revs)
                by_item: dict[int, list[Annotation]] = {}
                for a in anns:
                    by_item.setdefault(a.item_id, []).append(a)
                s_by_item: dict[int, list[ExportSuggestion]] = {}
                for s in sugg:
                    s_by_item.setdefault(s.item_id, []).append(ExportSuggestion(s.value, s.score, s.model_version))
                for it in page:
                    cur = current_annotation(by_item.get(it.id, []), withdrawn)
                    yield ExportRecord(it, None if cur is None else cur.value, tuple(s_by_item.get(it.id, ())))
                    done += 1
                    if progress and done % _PROGRESS_EVERY == 0:
                        progress(done, total)  # (the exporter has written the items before this one)
                if progress:
                    progress(done, total)

        report = exporter(records(), proj.schema, out, store.blobs.path, **options)
    record_export(store, proj.id, actor, fmt, report.path, items=report.items, regions=report.regions)
    return report
