"""Correction tasks on SQLite and PostgreSQL: a real QC run opens them, reviewers take, fix and
dismiss them; locks, stale versions, bad values, held items and QC re-runs are checked against
what the store holds afterwards."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from labelloop.core import LabelSchema, NewAnnotation, NewSuggestion
from labelloop.core.accounts import User
from labelloop.core.findings import Detector, Finding, Severity
from labelloop.errors import Conflict, InputRejected, InvalidAnnotation, NotFound, PermissionDenied
from labelloop.services import corrections
from labelloop.services.accounts import create_user
from labelloop.services.audit import verify
from labelloop.services.desensitise import configure
from labelloop.services.ingest import import_source
from labelloop.services.projects import create_project
from labelloop.services.qc import run_qc
from labelloop.services.tasks import StaleVersion
from labelloop.storage import Store, now
from labelloop.storage.quality_repo import QualityRepo
from labelloop.storage.tables_quality import correction_tasks
from tests.helpers import IMAGE_SCHEMA, png_bytes, write

OUT = [{"id": "b1", "control": "objects", "label": "cat", "xyxy": [10, 5, 60, 40]}]  # the image is 40x30
CLIPPED = [{"id": "b1", "control": "objects", "label": "cat", "xyxy": [10, 5, 40, 30]}]


class World:
    def __init__(self, store: Store, pid: int, items: list[int], people: dict[str, User]) -> None:
        self.store, self.pid, self.items, self.people = store, pid, items, people

    def versions(self, item: int) -> list[Any]:
        with self.store.read() as tx:
            return tx.labels.for_items([item])[1]

    def task_row(self, tid: int) -> Any:
        with self.store.read() as tx:
            return tx.conn.execute(correction_tasks.select().where(correction_tasks.c.id == tid)).one()


@pytest.fixture
def world(store: Store, tmp_path: Path) -> World:
    pid = create_project(store, "img", LabelSchema.model_validate(IMAGE_SCHEMA), "user:test").id
    for i in range(3):
        write(tmp_path / "img" / f"p{i}.png", png_bytes(40, 30, (20 * i, 90, 90)))
    import_source(store, pid, tmp_path / "img", actor="user:test")
    with store.read() as tx:
        items = [it.id for it in tx.items.page(pid, limit=10)]
    with store.transaction() as tx:  # imported labels are not validated: QC is what catches them
        tx.labels.add_annotations(pid, [NewAnnotation(items[0], OUT, "ann"), NewAnnotation(items[1], OUT, "ann")])
    people = {n: create_user(store, n, "a long test password") for n in ("rex", "rita", "ann")}
    run_qc(store, pid)
    return World(store, pid, items, people)


def test_list_take_show_fix_and_rerun(world: World) -> None:
    w, rex, rita = world, world.people["rex"], world.people["rita"]
    listed = corrections.list_tasks(w.store, w.pid)
    assert [t["finding"]["rule_id"] for t in listed["tasks"]] == ["box_bounds", "box_bounds"]
    assert listed["rules"] == [{"rule": "box_bounds", "severity": "error", "open": 2}] and listed["next"] is None
    first = listed["tasks"][0]

    got = corrections.next_task(w.store, w.pid, rex, "reviewer")
    assert got is not None and got["task"]["id"] == first["id"] and got["task"]["lock"]["user"] == "rex"
    assert got["item"]["id"] == w.items[0] and got["item"]["media"]["image"]["meta"]["width"] == 40
    (old,) = w.versions(w.items[0])
    assert got["version"]["id"] == got["base_version"] == old.id
    assert got["prefill"] == {"source": "annotation", "value": OUT}
    assert got["region"] == OUT[0]  # the region the finding is about, to highlight
    assert got["task"]["finding"]["fix"] == {"action": "set", "field": "xyxy", "value": [10, 5, 40, 30]}
    # asking again resumes the held task; the other reviewer gets the other one
    assert corrections.next_task(w.store, w.pid, rex, "reviewer")["task"]["id"] == first["id"]  # type: ignore[index]
    other = corrections.next_task(w.store, w.pid, rita, "reviewer")
    assert other is not None and other["task"]["id"] == listed["tasks"][1]["id"]
    # nobody may resolve a task another person holds
    with pytest.raises(Conflict, match="being worked on by rex"):
        corrections.resolve(w.store, w.pid, first["id"], rita, "reviewer", resolution="dismissed", reason="meh")

    done = corrections.resolve(
        w.store, w.pid, first["id"], rex, "reviewer", resolution="fixed", value=CLIPPED, base_version=old.id
    )
    assert done["task"]["status"] == "resolved" and done["task"]["resolution"] == "fixed"
    assert done["task"]["resolved_by"] == "user:rex" and done["task"]["lock"] is None
    versions = w.versions(w.items[0])
    assert [(v.id, v.parent_id, v.annotator, v.value) for v in versions] == [
        (old.id, None, "ann", OUT),
        (done["annotation"]["id"], old.id, "rex", CLIPPED),
    ]
    with w.store.read() as tx:
        events = [e for e in tx.provenance.events(w.pid) if e.kind in ("annotation", "correction")][-2:]
    assert [(e.kind, e.actor) for e in events] == [("annotation", "user:rex"), ("correction", "user:rex")]
    assert events[1].subject == {"task_id": first["id"], "finding_id": first["finding"]["id"], "item_id": w.items[0]}
    assert events[1].payload["annotation_id"] == done["annotation"]["id"] and events[1].seq == done["event"]["seq"]
    assert verify(w.store, w.pid).ok
    # resolving twice is a conflict; the list no longer has it
    with pytest.raises(Conflict, match="already resolved"):
        corrections.resolve(w.store, w.pid, first["id"], rex, "reviewer", resolution="dismissed", reason="x")
    assert [t["id"] for t in corrections.list_tasks(w.store, w.pid)["tasks"]] == [other["task"]["id"]]

    # a full re-run neither reopens the fixed finding nor finds anything in the fix
    r = run_qc(w.store, w.pid, full=True)
    assert r.findings_new == 0 and r.findings_open == 1


def test_stale_base_and_invalid_value_write_nothing(world: World) -> None:
    w, rex = world, world.people["rex"]
    task = corrections.next_task(w.store, w.pid, rex, "reviewer")
    assert task is not None
    tid, base = task["task"]["id"], task["base_version"]
    # someone corrects the label meanwhile (a review correction: a new version on top)
    with w.store.transaction() as tx:
        (newer,) = tx.labels.add_annotations(w.pid, [NewAnnotation(w.items[0], CLIPPED, "rita", parent_id=base)])
    with pytest.raises(StaleVersion) as stale:
        corrections.resolve(w.store, w.pid, tid, rex, "reviewer", resolution="fixed", value=CLIPPED, base_version=base)
    assert stale.value.payload["current"]["id"] == newer and stale.value.payload["current"]["value"] == CLIPPED
    # a value that still leaves the image is refused with the schema's reason
    with pytest.raises(InvalidAnnotation, match="outside"):
        corrections.resolve(w.store, w.pid, tid, rex, "reviewer", resolution="fixed", value=OUT, base_version=newer)
    with pytest.raises(InvalidAnnotation, match="value"):
        corrections.resolve(w.store, w.pid, tid, rex, "reviewer", resolution="fixed", value=None, base_version=newer)
    assert len(w.versions(w.items[0])) == 2
    row = w.task_row(tid)
    assert row.status == "open" and row.resolution is None and row.locked_by == rex.id  # still theirs
    # the show now starts from the newer version
    again = corrections.show(w.store, w.pid, tid, rex, "reviewer")
    assert again["base_version"] == newer and again["prefill"]["value"] == CLIPPED


def test_dismiss_needs_a_reason_and_sticks(world: World) -> None:
    w, rex = world, world.people["rex"]
    tid = corrections.list_tasks(w.store, w.pid)["tasks"][1]["id"]
    with pytest.raises(InputRejected, match="reason"):
        corrections.resolve(w.store, w.pid, tid, rex, "reviewer", resolution="dismissed", reason="  ")
    with pytest.raises(InvalidAnnotation, match="only a 'fixed'"):
        corrections.resolve(w.store, w.pid, tid, rex, "reviewer", resolution="dismissed", reason="ok", value=[])
    with pytest.raises(InputRejected, match="resolution"):
        corrections.resolve(w.store, w.pid, tid, rex, "reviewer", resolution="gone", reason="ok")
    done = corrections.resolve(
        w.store, w.pid, tid, rex, "reviewer", resolution="dismissed", reason="the camera crops <b>it</b>"
    )
    assert done["annotation"] is None and done["task"]["note"] == "the camera crops <b>it</b>"
    assert len(w.versions(w.items[1])) == 1  # nothing written to the labels
    with w.store.read() as tx:
        last = list(tx.provenance.events(w.pid))[-1]
    assert (last.kind, last.actor, last.payload["resolution"]) == ("correction", "user:rex", "dismissed")
    r = run_qc(w.store, w.pid, full=True)  # the box still leaves the image: the dismissal stands
    assert r.findings_new == 0
    assert [t["item_id"] for t in corrections.list_tasks(w.store, w.pid)["tasks"]] == [w.items[0]]


def test_expired_lock_skip_filters_and_roles(world: World) -> None:
    w, rex, rita = world, world.people["rex"], world.people["rita"]
    a = corrections.next_task(w.store, w.pid, rex, "reviewer")
    assert a is not None
    with w.store.transaction() as tx:  # rex went away: the lock ran out
        tx.conn.execute(
            update(correction_tasks)
            .where(correction_tasks.c.id == a["task"]["id"])
            .values(lock_expires_at=now() - timedelta(seconds=1))
        )
    b = corrections.next_task(w.store, w.pid, rita, "reviewer")
    assert b is not None and b["task"]["id"] == a["task"]["id"]
    # rita skips it: the next one; skipping that goes round to the first again (hers, as she is the only one)
    c = corrections.next_task(w.store, w.pid, rita, "reviewer", after=b["task"]["id"])
    assert c is not None and c["task"]["id"] != b["task"]["id"]
    assert w.task_row(b["task"]["id"]).locked_by is None  # one task at a time: the skipped one is free
    d = corrections.next_task(w.store, w.pid, rita, "reviewer", after=c["task"]["id"])
    assert d is not None and d["task"]["id"] == b["task"]["id"]
    # claiming a named task that someone else holds is refused
    with pytest.raises(Conflict, match="rita"):
        corrections.claim(w.store, w.pid, d["task"]["id"], rex, "manager")
    assert corrections.claim(w.store, w.pid, c["task"]["id"], rex, "manager")["task"]["lock"]["user"] == "rex"
    # filters
    assert corrections.next_task(w.store, w.pid, rex, "reviewer", rule="box_min_size") is None
    assert corrections.list_tasks(w.store, w.pid, severity="warning")["tasks"] == []
    with pytest.raises(InputRejected, match="severity"):
        corrections.list_tasks(w.store, w.pid, severity="fatal")
    # pages
    one = corrections.list_tasks(w.store, w.pid, limit=1)
    two = corrections.list_tasks(w.store, w.pid, after=one["next"], limit=1)
    assert one["next"] is not None and two["tasks"][0]["id"] > one["tasks"][0]["id"]
    # roles and unknown tasks
    for call in (
        lambda: corrections.next_task(w.store, w.pid, rex, "annotator"),
        lambda: corrections.show(w.store, w.pid, a["task"]["id"], rex, "viewer"),
        lambda: corrections.resolve(w.store, w.pid, a["task"]["id"], rex, "viewer", resolution="dismissed", reason="x"),
    ):
        with pytest.raises(PermissionDenied):
            call()
    with pytest.raises(NotFound):
        corrections.show(w.store, w.pid, 10**6, rex, "reviewer")
    with pytest.raises(NotFound):
        corrections.resolve(w.store, w.pid, 10**6, rex, "reviewer", resolution="dismissed", reason="x")


def test_held_items_hide_their_tasks(world: World) -> None:
    w, rex = world, world.people["rex"]
    tid = corrections.list_tasks(w.store, w.pid)["tasks"][0]["id"]
    configure(w.store, w.pid, {"pii": {"mode": "tag", "chinese_ner": False}}, actor="user:boss")
    listed = corrections.list_tasks(w.store, w.pid)
    assert listed["tasks"] == [] and listed["rules"] == []
    assert corrections.next_task(w.store, w.pid, rex, "reviewer") is None
    with pytest.raises(NotFound):
        corrections.show(w.store, w.pid, tid, rex, "reviewer")
    with pytest.raises(NotFound):
        corrections.claim(w.store, w.pid, tid, rex, "reviewer")
    with pytest.raises(NotFound):
        corrections.resolve(w.store, w.pid, tid, rex, "reviewer", resolution="fixed", value=CLIPPED, base_version=1)
    assert w.task_row(tid).status == "open"


def test_a_machine_label_is_fixed_into_a_first_annotation(world: World) -> None:
    w, rex = world, world.people["rex"]
    with w.store.transaction() as tx:
        (sid,) = tx.labels.add_suggestions(w.pid, [NewSuggestion(w.items[2], OUT, "image.onnx", "y1", 0.8)])
    run_qc(w.store, w.pid)
    (task,) = corrections.list_tasks(w.store, w.pid, after=0)["tasks"][2:]
    assert task["finding"]["label_source"] == "model" and task["finding"]["record_id"] == sid
    shown = corrections.show(w.store, w.pid, task["id"], rex, "reviewer")
    assert shown["version"] is None and shown["base_version"] is None
    assert shown["prefill"] == {"source": "suggestion", "value": OUT} and shown["region"] == OUT[0]
    done = corrections.resolve(
        w.store, w.pid, task["id"], rex, "reviewer", resolution="fixed", value=CLIPPED, base_version=None
    )
    (v,) = w.versions(w.items[2])
    assert (v.id, v.parent_id, v.annotator) == (done["annotation"]["id"], None, "rex")
    # the suggestion still leaves the image, but that finding was fixed: not reopened
    run_qc(w.store, w.pid, full=True)
    again = [t["finding"] for t in corrections.list_tasks(w.store, w.pid)["tasks"] if t["item_id"] == w.items[2]]
    assert [f["rule_id"] for f in again] == ["model.box_deviation"]  # rex's box against the model's: new


def test_one_fix_settles_the_other_findings_of_the_version_it_replaces(world: World) -> None:
    w, rex = world, world.people["rex"]
    two = [OUT[0], {**OUT[0], "id": "b2", "xyxy": [-5, 0, 20, 20]}]
    with w.store.transaction() as tx:
        tx.labels.add_annotations(w.pid, [NewAnnotation(w.items[2], two, "ann")])
    run_qc(w.store, w.pid)
    mine = [t for t in corrections.list_tasks(w.store, w.pid)["tasks"] if t["item_id"] == w.items[2]]
    assert sorted(t["finding"]["region_id"] for t in mine) == ["b1", "b2"]
    shown = corrections.show(w.store, w.pid, mine[0]["id"], rex, "reviewer")
    both = [CLIPPED[0], {**two[1], "xyxy": [0, 0, 20, 20]}]  # the reviewer fixes both boxes at once
    corrections.resolve(
        w.store, w.pid, mine[0]["id"], rex, "reviewer", resolution="fixed", value=both,
        base_version=shown["base_version"],
    )  # fmt: skip
    r = run_qc(w.store, w.pid)  # incremental: the item changed; the replaced version is no current label
    assert r.findings_new == 0 and r.findings_resolved == 1
    row = w.task_row(mine[1]["id"])
    assert (row.status, row.resolution, row.resolved_by) == ("resolved", "gone", "system:qc")


def test_current_version_follows_the_chain() -> None:
    from datetime import UTC, datetime

    from labelloop.core import Annotation, AnnotationStatus

    def a(i: int, parent: int | None, who: str = "x", status: AnnotationStatus = AnnotationStatus.SUBMITTED) -> Any:
        return Annotation(i, 1, 1, [], who, status, None, parent, None, datetime(2026, 1, 1, 0, 0, i, tzinfo=UTC), who)

    chain = [
        a(1, None, "ann"),
        a(2, None, "bob"),
        a(3, 1, "rex"),
        a(4, 3, "rita"),
        a(5, 4, "d", AnnotationStatus.DRAFT),
    ]
    assert corrections.current_version(chain, "human", 1).id == 4  # type: ignore[union-attr]
    assert corrections.current_version(chain, "human", 2).id == 2  # type: ignore[union-attr]
    assert corrections.current_version(chain, "model", 1).id == 4  # type: ignore[union-attr]  # the item's current
    assert corrections.current_version(chain, "human", 99).id == 4  # type: ignore[union-attr]


def test_own_annotations_closed_to_their_reviewer_item_findings_open(world: World) -> None:
    w, ann = world, world.people["ann"]  # ann wrote both labels QC flagged; here she also reviews
    own = [t["id"] for t in corrections.list_tasks(w.store, w.pid)["tasks"]]
    with w.store.transaction() as tx:  # an item-level finding (a caption against its image): no single author
        repo = QualityRepo(tx.conn)
        run = repo.start_run(w.pid, "full", None, {}, "user:test")
        finding = Finding(
            w.items[2], "model.text_image_mismatch", Severity.WARNING, "caption off", detector=Detector.MODEL
        )
        repo.add_findings(w.pid, run, [finding])
    (item_level,) = [t for t in corrections.list_tasks(w.store, w.pid)["tasks"] if t["id"] not in own]
    assert item_level["finding"]["annotator"] is None and item_level["finding"]["record_id"] is None

    got = corrections.next_task(w.store, w.pid, ann, "reviewer")
    assert got is not None and got["task"]["id"] == item_level["id"]
    again = corrections.next_task(w.store, w.pid, ann, "reviewer", after=item_level["id"])
    assert again is not None and again["task"]["id"] == item_level["id"]  # round again: never her own
    for tid in own:
        with pytest.raises(PermissionDenied, match="your own annotation"):
            corrections.claim(w.store, w.pid, tid, ann, "reviewer")
        with pytest.raises(PermissionDenied, match="your own annotation"):
            corrections.resolve(w.store, w.pid, tid, ann, "reviewer", resolution="dismissed", reason="mine is fine")
        assert w.task_row(tid).status == "open"
    done = corrections.resolve(w.store, w.pid, item_level["id"], ann, "reviewer", resolution="dismissed", reason="ok")
    assert done["task"]["resolved_by"] == "user:ann"
    assert corrections.next_task(w.store, w.pid, ann, "reviewer") is None
    # as a manager she may: the table keeps the right for managers
    assert corrections.claim(w.store, w.pid, own[0], ann, "manager")["task"]["lock"]["user"] == "ann"
    other = corrections.next_task(w.store, w.pid, w.people["rex"], "reviewer")  # another reviewer gets hers
    assert other is not None and other["task"]["id"] == own[1]
