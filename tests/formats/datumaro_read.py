"""Run under an interpreter that has datumaro: read a dataset, print what it holds as JSON.

    python datumaro_read.py PATH FORMAT

Prints ``{"items": N, "labels": [...], "boxes": [[item, label, x, y, w, h], ...],
"sizes": {item: [h, w]}}``. Kept free of labelloop imports: datumaro lives in its own
environment (its pins conflict with labelloop's).
"""

from __future__ import annotations

import json
import sys

from datumaro.components.annotation import AnnotationType
from datumaro.components.dataset import Dataset


def main() -> None:
    path, fmt = sys.argv[1], sys.argv[2]
    ds = Dataset.import_from(path, fmt)
    cats = ds.categories()[AnnotationType.label]
    labels = [c.name for c in cats.items]
    boxes = []
    sizes = {}
    for item in ds:
        media = item.media
        size = getattr(media, "size", None)
        if size is not None:
            sizes[item.id] = list(size)
        for ann in item.annotations:
            if ann.type == AnnotationType.bbox:
                boxes.append([item.id, labels[ann.label], *[float(v) for v in ann.get_bbox()]])
    print(json.dumps({"items": len(ds), "labels": labels, "boxes": boxes, "sizes": sizes}))


if __name__ == "__main__":
    main()
