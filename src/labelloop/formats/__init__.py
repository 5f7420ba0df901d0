"""Dataset formats: streaming exporters and safe importers, one module per format.

* ``EXPORTERS[name](records, schema, out, media_path)`` writes a dataset folder atomically
  (or, when ``out`` ends in ``.zip``, one zip file with the same files) and returns an
  :class:`ExportReport`.
* :func:`atomic_output` (with :class:`ExportOutput`, :func:`nested`, :data:`STORED_SUFFIXES`) is
  where an exporter writes: a folder or one zip file, published atomically.
* ``IMPORTERS[name](root, schema)`` yields :class:`ImportedItem` or
  :class:`~labelloop.core.ItemError` per item and never reads outside ``root``.

Format options are keyword arguments of each module's function (``export_yolo(...,
task="segment")``). A name that is not registered raises :class:`~labelloop.errors.PluginError`
listing the names that are.

Example:
    >>> sorted(EXPORTERS)
    ['coco', 'conll2003', 'csv', 'hf_parquet', 'kitti3d', 'label_studio', 'nemo', 'openlabel', 'spacy', 'voc', 'yolo']
    >>> sorted(IMPORTERS)
    ['coco', 'conll2003', 'hf_parquet', 'kitti3d', 'label_studio', 'nemo', 'openlabel', 'voc', 'yolo']
    >>> EXPORTERS["parquet"]  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    labelloop.errors.PluginError: no exporter 'parquet'; available: coco, conll2003, csv, ..., voc, yolo
"""

from __future__ import annotations

from typing import TypeVar

from labelloop.errors import PluginError
from labelloop.formats._base import (
    Exporter,
    ExportRecord,
    ExportReport,
    ExportSuggestion,
    ImportedItem,
    Importer,
    MediaPath,
    UnsafePath,
    check_relative,
    resolve_inside,
)
from labelloop.formats._hf_parquet_read import import_hf_parquet
from labelloop.formats._nemo_read import import_nemo
from labelloop.formats._openlabel_read import import_openlabel
from labelloop.formats._output import (
    STORED_SUFFIXES,
    ExportOutput,
    FolderOutput,
    ZipOutput,
    atomic_output,
    is_zip_target,
    nested,
)
from labelloop.formats.coco import export_coco, import_coco
from labelloop.formats.conll2003 import export_conll2003, import_conll2003
from labelloop.formats.csv_rows import export_csv
from labelloop.formats.hf_parquet import export_hf_parquet
from labelloop.formats.kitti3d import export_kitti3d, import_kitti3d
from labelloop.formats.labelstudio import export_label_studio, import_label_studio
from labelloop.formats.nemo import export_nemo
from labelloop.formats.openlabel import export_openlabel
from labelloop.formats.spacy_docbin import export_spacy
from labelloop.formats.voc import export_voc, import_voc
from labelloop.formats.yolo import export_yolo, import_yolo

__all__ = [
    "EXPORTERS",
    "IMPORTERS",
    "STORED_SUFFIXES",
    "ExportOutput",
    "ExportRecord",
    "ExportReport",
    "ExportSuggestion",
    "Exporter",
    "FolderOutput",
    "ImportedItem",
    "Importer",
    "MediaPath",
    "UnsafePath",
    "ZipOutput",
    "atomic_output",
    "check_relative",
    "export_coco",
    "export_conll2003",
    "export_csv",
    "export_hf_parquet",
    "export_kitti3d",
    "export_label_studio",
    "export_nemo",
    "export_openlabel",
    "export_spacy",
    "export_voc",
    "export_yolo",
    "import_coco",
    "import_conll2003",
    "import_hf_parquet",
    "import_kitti3d",
    "import_label_studio",
    "import_nemo",
    "import_openlabel",
    "import_voc",
    "import_yolo",
    "is_zip_target",
    "nested",
    "resolve_inside",
    "takes_option",
]

T = TypeVar("T")


class _Registry(dict[str, T]):
    """A name -> plugin mapping whose misses raise :class:`PluginError` with the names."""

    def __init__(self, kind: str, entries: dict[str, T]) -> None:
        super().__init__(entries)
        self.kind = kind

    def __missing__(self, name: str) -> T:
        raise PluginError(f"no {self.kind} {name!r}; available: {', '.join(sorted(self))}")


EXPORTERS: dict[str, Exporter] = _Registry(
    "exporter",
    {
        "coco": export_coco,
        "yolo": export_yolo,
        "voc": export_voc,
        "conll2003": export_conll2003,
        "csv": export_csv,
        "label_studio": export_label_studio,
        "spacy": export_spacy,
        "nemo": export_nemo,
        "kitti3d": export_kitti3d,
        "openlabel": export_openlabel,
        "hf_parquet": export_hf_parquet,
    },
)
IMPORTERS: dict[str, Importer] = _Registry(
    "importer",
    {
        "coco": import_coco,
        "yolo": import_yolo,
        "voc": import_voc,
        "conll2003": import_conll2003,
        "label_studio": import_label_studio,
        "kitti3d": import_kitti3d,
        "nemo": import_nemo,
        "openlabel": import_openlabel,
        "hf_parquet": import_hf_parquet,
    },
)


def takes_option(fmt: str, option: str) -> bool:
    """Whether exporter ``fmt`` accepts the keyword option ``option`` (e.g. ``link``).

    Example:
        >>> takes_option("coco", "link"), takes_option("csv", "link")
        (True, False)
    """
    import inspect

    return option in inspect.signature(EXPORTERS[fmt]).parameters
