"""Import of folders, zip archives and JSONL/CSV manifests."""

from __future__ import annotations

from labelloop.services.ingest.archive import ZipLimits
from labelloop.services.ingest.service import ImportLimits, ProgressFn, import_source

__all__ = ["ImportLimits", "ProgressFn", "ZipLimits", "import_source"]
