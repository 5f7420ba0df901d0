"""A live project for routing and learning tests: scikit-learn's handwritten 0s and 1s as PNG images.

``image.classify`` trains on a few labels and suggests the rest; people are simulated by storing
annotations the way the queue stores them (a person's label is an annotation row by a user).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.datasets import load_digits

from labelloop.core import NewAnnotation
from labelloop.services.preannotate import preannotate
from labelloop.storage import Store
from labelloop.storage.routing_repo import ItemRoute, RoutingRepo
from tests.backends.factories import add_items, image_ref, make_project

SCHEMA: dict[str, Any] = {
    "media": [{"name": "image", "kind": "image"}],
    "controls": [{"name": "digit", "kind": "classification", "target": "image", "labels": ["0", "1"]}],
}


def region(label: str) -> list[dict[str, Any]]:
    return [{"id": "digit", "control": "digit", "labels": [label]}]


@dataclass
class Digits:
    pid: int
    truth: dict[int, str]
    trained: list[int]

    @property
    def unlabelled(self) -> list[int]:
        return sorted(set(self.truth) - set(self.trained))


def digits_project(store: Store, *, per_class: int = 10, name: str = "digits") -> Digits:
    """Items for every 0 and 1 of the digits set; ``per_class`` of each labelled; image.classify run."""
    d = load_digits(n_class=2)
    make_project(store, name, SCHEMA)
    refs = [image_ref(store, (np.kron(img, np.ones((4, 4))) * 15).astype(np.uint8)) for img in d.images]
    items = add_items(store, name, "image", refs)
    truth = {it.id: str(d.target[int(str(it.key)[1:])]) for it in items}
    trained = [i for c in ("0", "1") for i in sorted(i for i, t in truth.items() if t == c)[:per_class]]
    pid = items[0].project_id
    label(store, pid, trained, truth, who="teacher")
    preannotate(store, name, "image.classify")
    return Digits(pid, truth, trained)


def label(store: Store, pid: int, item_ids: list[int], truth: dict[int, str], *, who: str = "alice",
          wrong: bool = False) -> None:  # fmt: skip
    """People label these items (the true digit, or the other one)."""
    flip = {"0": "1", "1": "0"}
    new = [NewAnnotation(i, region(flip[truth[i]] if wrong else truth[i]), who) for i in item_ids]
    with store.transaction() as tx:
        tx.labels.add_annotations(pid, new)


def routes(store: Store, pid: int) -> dict[int, ItemRoute]:
    with store.read() as tx:
        return RoutingRepo(tx.conn).routes(pid, 0, 2**31 - 1)


def in_tier(store: Store, pid: int, tier: str) -> list[int]:
    return sorted(i for i, r in routes(store, pid).items() if r.tier == tier)
