"""Releases through the REST API: create, list, show, diff, lineage and signed zip exports,
who may do which, and bad requests that leave nothing behind (real app, real store)."""

from __future__ import annotations

import contextlib
import io
import json
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from pycocotools.coco import COCO

from labelloop.core import NewAnnotation, NewSuggestion
from labelloop.core.accounts import Role
from labelloop.errors import NotFound
from labelloop.services import release_web
from labelloop.services.accounts import RateLimited, add_member
from labelloop.services.release_export import verify_release_export
from tests.api.conftest import PASSWORD, World

POS = [{"id": "r1", "control": "sentiment", "labels": ["pos"]}]
NEG = [{"id": "r1", "control": "sentiment", "labels": ["neg"]}]


def _url(w: World, rest: str = "", pid: int | None = None) -> str:
    return f"/api/projects/{pid or w.pa}/releases{rest}"


def _label(w: World, who: str, value: Any) -> int:
    """``who`` takes their next task in project a and submits ``value``; returns the item id."""
    c = w.client(who)
    task = c.post(f"/api/projects/{w.pa}/next").json()["task"]
    iid = int(task["item"]["id"])
    r = c.post(
        f"/api/projects/{w.pa}/items/{iid}/annotations",
        json={"value": value, "base_version": task["base_version"]},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 201, r.text
    return iid


def _events(w: World, pid: int, kind: str) -> list[Any]:
    with w.store.read() as tx:
        return [e for e in tx.provenance.events(pid) if e.kind == kind]


def _leftovers(w: World, pid: int) -> list[str]:
    folder = w.store.data_dir / "exports" / f"p{pid}"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def _image_release(w: World) -> None:
    """Project b: the manager of a manages b too; its image carries a cat box; release ``b1``."""
    add_member(w.store, w.pb, "manager", Role.MANAGER)
    box = [{"id": "b1", "control": "objects", "label": "cat", "xyxy": [2, 3, 20, 18]}]
    with w.store.transaction() as tx:
        tx.labels.add_annotations(w.pb, [NewAnnotation(w.items_b[0], box, "annotator")])
    r = w.client("manager").post(_url(w, pid=w.pb), json={"name": "b1"})
    assert r.status_code == 201, r.text


def test_create_list_and_show(world: World) -> None:
    w = world
    _label(w, "annotator", POS)
    m = w.client("manager")
    r = m.post(_url(w), json={"name": "v1", "quality": {"kappa": 0.81, "gold_accuracy": 0.95}})
    assert r.status_code == 201, r.text
    v1 = r.json()
    assert v1["name"] == "v1" and v1["counts"] == {"items": 6, "labelled": 1, "regions": 1}
    assert v1["created_by"] == "user:manager" and v1["parent"] is None and v1["quality"]["kappa"] == 0.81
    assert v1["signature"]["valid"] is True and v1["signature"]["algorithm"] == "ed25519"
    assert v1["classes"] == {"pos": 1}
    with w.store.read() as tx:
        stored = tx.releases.get(w.pa, "v1")
    assert v1["merkle_root"] == stored.merkle_root and len(v1["merkle_root"]) == 64
    assert v1["signature"]["key_id"] == stored.key_id
    (event,) = _events(w, w.pa, "release")
    assert event.actor == "user:manager" and event.subject["release"] == "v1"

    _label(w, "annotator", NEG)
    v2 = m.post(_url(w), json={"name": "v2"}).json()  # parent: the newest release
    assert v2["parent"] == "v1" and v2["parent_merkle_root"] == v1["merkle_root"]
    root = m.post(_url(w), json={"name": "fresh-start", "no_parent": True}).json()
    assert root["parent"] is None

    listed = w.client("viewer").get(_url(w))  # viewers read release metadata
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert [x["name"] for x in body["releases"]] == ["v1", "v2", "fresh-start"]
    assert [x["parent"] for x in body["releases"]] == [None, "v1", None]
    assert body["formats"][0] == "native" and "coco" in body["formats"]
    shown = w.client("reviewer").get(_url(w, "/v2")).json()
    assert shown["counts"]["labelled"] == 2 and shown["classes"] == {"neg": 1, "pos": 1}
    assert shown["signature"]["valid"] is True


def test_as_of_freezes_the_past(world: World) -> None:
    w = world
    before = datetime.now(UTC) - timedelta(seconds=1)
    _label(w, "annotator", POS)
    m = w.client("manager")
    r = m.post(_url(w), json={"name": "before", "as_of": before.isoformat()})
    assert r.status_code == 201, r.text
    assert r.json()["counts"]["labelled"] == 0 and r.json()["as_of"] == before.isoformat()


def test_diff_per_item_and_class(world: World) -> None:
    w = world
    m = w.client("manager")
    first = _label(w, "annotator", POS)
    _label(w, "annotator", POS)
    assert m.post(_url(w), json={"name": "v1"}).status_code == 201
    # relabel the first item (pos -> neg) and label a third
    with w.store.read() as tx:
        _s, anns, _r = tx.labels.for_items([first])
    with w.store.transaction() as tx:
        tx.labels.add_annotations(w.pa, [NewAnnotation(first, NEG, "reviewer", parent_id=anns[-1].id)])
    third = _label(w, "annotator", NEG)
    assert m.post(_url(w), json={"name": "v2"}).status_code == 201

    r = w.client("viewer").get(_url(w, "/v1/diff/v2"))
    assert r.status_code == 200, r.text
    d = r.json()
    assert (d["a"], d["b"]) == ("v1", "v2")
    assert d["items"] == {"added": 1, "removed": 0, "changed": 1, "unchanged": 4}
    assert d["classes"] == {
        "neg": {"added": 1, "removed": 0, "changed": 1},
        "pos": {"added": 0, "removed": 0, "changed": 1},
    }
    by_item = {row["item_id"]: row for row in d["rows"]}
    assert by_item[first]["change"] == "changed" and by_item[third]["change"] == "added"
    assert by_item[third]["a_annotation_id"] is None and by_item[third]["b_annotation_id"] is not None
    assert d["truncated"] is False
    back = m.get(_url(w, "/v2/diff/v1")).json()
    assert back["items"]["removed"] == 1
    capped = m.get(_url(w, "/v1/diff/v2"), params={"rows": 1}).json()
    assert len(capped["rows"]) == 1 and capped["truncated"] is True and capped["items"] == d["items"]
    assert m.get(_url(w, "/v1/diff/v2"), params={"rows": 5000}).status_code == 422
    missing = m.get(_url(w, "/v1/diff/nope"))
    assert missing.status_code == 404 and "nope" in missing.json()["error"]["message"]


def test_lineage_streams_and_pages(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    w = world
    monkeypatch.setattr(release_web, "LINEAGE_PAGE", 4)  # the whole stream is read in two pages
    labelled = _label(w, "annotator", POS)
    other = next(i for i in w.items_a if i != labelled)
    with w.store.transaction() as tx:
        (sid,) = tx.labels.add_suggestions(w.pa, [NewSuggestion(other, NEG, "text.classify", "m-2", 0.7)])
    accepted = w.client("reviewer").post(f"/api/projects/{w.pa}/suggestions/{sid}/accept")
    assert accepted.status_code == 201, accepted.text
    assert w.client("manager").post(_url(w), json={"name": "v1"}).status_code == 201

    r = w.client("reviewer").get(_url(w, "/v1/lineage"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in r.text.splitlines()]
    assert [x["item_id"] for x in rows] == sorted(w.items_a)
    by_item = {x["item_id"]: x for x in rows}
    assert by_item[labelled]["label"]["origin"] == "human" and by_item[labelled]["label"]["annotator"] == "annotator"
    sugg = by_item[other]["label"]
    assert sugg["origin"] == "suggestion-accepted" and sugg["suggestion"]["backend"] == "text.classify"
    assert sugg["suggestion"]["model_version"] == "m-2" and sugg["created_by"] == "user:reviewer"
    assert sum(x["label"] is None for x in rows) == 4

    m = w.client("manager")
    page1 = m.get(_url(w, "/v1/lineage"), params={"limit": 4})
    assert len(page1.text.splitlines()) == 4 and page1.headers["x-next-after"] == str(sorted(w.items_a)[3])
    page2 = m.get(_url(w, "/v1/lineage"), params={"limit": 4, "after": page1.headers["x-next-after"]})
    assert [json.loads(x)["item_id"] for x in page2.text.splitlines()] == sorted(w.items_a)[4:]
    assert "x-next-after" not in page2.headers
    assert w.client("viewer").get(_url(w, "/v1/lineage")).status_code == 403  # names who labelled what
    assert m.get(_url(w, "/nope/lineage")).status_code == 404


def test_export_streams_a_signed_zip(world: World, tmp_path: Path) -> None:
    w = world
    _image_release(w)
    r = w.client("manager").get(_url(w, "/b1/export", pid=w.pb), params={"format": "coco"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"] == 'attachment; filename="b-b1-coco.zip"'
    (tmp_path / "b1.zip").write_bytes(r.content)
    zipped = verify_release_export(w.store, tmp_path / "b1.zip")  # the download verifies as it is
    assert zipped.ok and zipped.trusted and zipped.labels == 1, zipped.problems
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        names = set(zf.namelist())
        assert {"release.json", "labels.jsonl", "labels.sha256", "lineage.jsonl", "data/annotations.json"} <= names
        assert any(n.startswith("data/images/") and n.endswith(".png") for n in names)
        manifest = json.loads(zf.read("release.json"))
        zf.extractall(tmp_path / "unzipped")
    assert manifest["manifest"]["release"] == "b1" and manifest["manifest"]["export"]["format"] == "coco"
    assert manifest["signature"]
    report = verify_release_export(w.store, tmp_path / "unzipped")  # the signature, every hash, the Merkle root
    assert report.ok and report.trusted and report.labels == 1, report.problems
    gt = COCO(str(tmp_path / "unzipped" / "data" / "annotations.json"))
    (ann,) = gt.loadAnns(gt.getAnnIds())
    assert ann["bbox"] == [2, 3, 18, 15] and gt.loadCats(ann["category_id"])[0]["name"] == "cat"
    (event,) = _events(w, w.pb, "export")
    assert event.actor == "user:manager"
    assert event.subject == {"release": "b1", "release_id": event.subject["release_id"], "format": "coco",
                             "path": "download:b-b1-coco.zip"}  # fmt: skip
    assert _leftovers(w, w.pb) == []  # the temporary export folder is gone


def test_native_export_of_a_text_project(world: World) -> None:
    w = world
    _label(w, "annotator", POS)
    assert w.client("manager").post(_url(w), json={"name": "v1.0+rc"}).status_code == 201
    r = w.client("admin").get(_url(w, "/v1.0+rc/export"))  # the default format is native
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"] == 'attachment; filename="a-v1.0+rc-native.zip"'
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        labels = [json.loads(x) for x in zf.read("labels.jsonl").splitlines()]
        assert len(labels) == 6 and sum(x["label"] is not None for x in labels) == 1
        assert any(n.startswith("data/") for n in zf.namelist())
    assert [e.actor for e in _events(w, w.pa, "export") if "release" in e.subject] == ["user:admin"]
    assert _leftovers(w, w.pa) == []


def test_unknown_format_names_the_known_ones_and_leaves_nothing(world: World) -> None:
    w = world
    m = w.client("manager")
    assert m.post(_url(w), json={"name": "v1"}).status_code == 201
    r = m.get(_url(w, "/v1/export"), params={"format": "parquet"})
    assert r.status_code == 422
    msg = r.json()["error"]["message"]
    assert msg.startswith("format: expected one of native, coco,") and "yolo" in msg and "'parquet'" in msg
    assert m.get(_url(w, "/nope/export"), params={"format": "csv"}).status_code == 404
    assert _events(w, w.pa, "export") == [] and _leftovers(w, w.pa) == []


@pytest.mark.parametrize("who", ["annotator", "viewer", "reviewer"])
def test_only_managers_create_and_export(world: World, who: str) -> None:
    w = world
    assert w.client("manager").post(_url(w), json={"name": "v1"}).status_code == 201
    r = w.client(who).post(_url(w), json={"name": "mine"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "LL-DENIED"
    assert w.client(who).get(_url(w, "/v1/export"), params={"format": "csv"}).status_code == 403
    assert w.client(who).get(_url(w)).status_code == (403 if who == "annotator" else 200)
    with w.store.read() as tx:
        assert [x.name for x in tx.releases.all(w.pa)] == ["v1"]


def test_other_projects_releases_are_invisible(world: World) -> None:
    w = world
    _image_release(w)
    with w.store.read() as tx:
        b1 = tx.releases.get(w.pb, "b1")
    m = w.client("manager")  # a manager of both projects
    for path in ("/b1", f"/{b1.id}", "/b1/lineage", "/b1/export", "/b1/diff/b1"):
        r = m.get(_url(w, path))  # asked for in project a
        assert r.status_code == 404, (path, r.text)
    # a non-member of project b sees none of it, whatever the release
    assert w.client("annotator").get(_url(w, "/b1", pid=w.pb)).status_code == 404
    assert w.client("outsider").get(_url(w, pid=w.pb)).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"name": "bad name!"}, 422, "release name: expected letters, digits"),
        ({"name": "../etc"}, 422, "release name"),
        ({"name": ""}, 422, "body.name"),
        ({"name": "x" * 201}, 422, "body.name"),
        ({"name": "v9", "as_of": "2999-01-01T00:00:00+00:00"}, 422, "as_of: expected a time not after now"),
        ({"name": "v9", "as_of": "2025-01-01T00:00:00"}, 422, "as_of: expected a time with a time zone"),
        ({"name": "v9", "parent": "v1", "no_parent": True}, 422, "parent or no_parent"),
        ({"name": "v9", "parent": "nope"}, 404, "release 'nope' not found"),
        ({"name": "v9", "quality": [1, 2]}, 422, "body.quality"),
        ({"name": "v9", "colour": "red"}, 422, "body.colour"),
        ({"name": "v1"}, 409, "v1"),
    ],
)
def test_bad_requests_write_nothing(world: World, body: dict[str, Any], status: int, needle: str) -> None:
    w = world
    m = w.client("manager")
    assert m.post(_url(w), json={"name": "v1"}).status_code == 201
    r = m.post(_url(w), json=body)
    assert r.status_code == status, r.text
    assert needle in r.json()["error"]["message"], r.json()
    with w.store.read() as tx:
        assert [x.name for x in tx.releases.all(w.pa)] == ["v1"]
    assert len(_events(w, w.pa, "release")) == 1


def test_browser_session_needs_the_csrf_token(world: World) -> None:
    w = world
    c = w.client()
    login = c.post("/api/auth/login", json={"username": "manager", "password": PASSWORD})
    assert login.status_code == 200
    refused = c.post(_url(w), json={"name": "v1"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]["message"]
    ok = c.post(_url(w), json={"name": "v1"}, headers={"X-CSRF-Token": login.json()["csrf_token"]})
    assert ok.status_code == 201, ok.text
    assert c.get(_url(w, "/v1/export"), params={"format": "csv"}).status_code == 200  # a plain link works


@pytest.mark.parametrize("spec", ["2.3", "2.4"])
def test_a_download_cut_off_by_the_client_still_removes_its_folder(world: World, spec: str) -> None:
    w = world
    _image_release(w)
    path = _url(w, "/b1/export", pid=w.pb)
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": spec}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"format=coco", "root_path": "",
        "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {w.tokens['manager']}".encode())],
        "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
    }  # fmt: skip
    started: list[int] = []

    async def receive() -> dict[str, Any]:
        if started:  # the client is gone once the first bytes went out
            return {"type": "http.disconnect"}
        await anyio.sleep(0.05)
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.append(message["status"])
        elif message["type"] == "http.response.body" and message.get("body"):
            raise OSError("connection reset by peer")

    async def call() -> None:
        with contextlib.suppress(Exception):  # how the cut surfaces depends on the ASGI spec version
            await w.app(scope, receive, send)  # type: ignore[operator]

    anyio.run(call)
    assert started == [200]
    assert _leftovers(w, w.pb) == []


def test_parallel_downloads_are_bounded_per_caller_and_refused_with_429(world: World) -> None:
    """Each release download is an export made on request: a caller gets two at once, not twenty."""
    from labelloop.services import release_web

    w = world
    _image_release(w)
    m = w.client("manager")
    held = [
        release_web.prepare_download(w.store, w.pb, "b1", "csv", "user:manager", slots=release_web.SLOTS)
        for _ in range(release_web.SLOTS.per_actor)
    ]  # two downloads of the manager still streaming
    try:
        r = m.get(_url(w, "/b1/export", pid=w.pb), params={"format": "csv"})
        assert r.status_code == 429 and r.headers["retry-after"] == "5", r.text
        assert "already downloading" in r.json()["error"]["message"]
        assert w.client("admin").get(_url(w, "/b1/export", pid=w.pb), params={"format": "csv"}).status_code == 200
        assert len(_events(w, w.pb, "export")) == 3  # the refused one made no export
    finally:
        for d in held:
            b"".join(d.chunks())  # streamed to the end: the folder goes and the slot is given back
    assert m.get(_url(w, "/b1/export", pid=w.pb), params={"format": "csv"}).status_code == 200
    assert _leftovers(w, w.pb) == [] and release_web.SLOTS._held.total() == 0


def test_a_failed_download_gives_its_slot_back(world: World) -> None:
    from labelloop.services import release_web

    w = world
    slots = release_web.DownloadSlots(per_actor=1, total=1)
    with pytest.raises(NotFound):
        release_web.prepare_download(w.store, w.pa, "nope", "csv", "user:manager", slots=slots)
    slots.take("user:manager")  # free again: the failure gave it back
    assert _leftovers(w, w.pa) == []


def test_cleaning_a_download_up_twice_gives_back_one_slot(world: World) -> None:
    from labelloop.services import release_web

    w = world
    _image_release(w)
    slots = release_web.DownloadSlots(per_actor=2, total=4)
    first, second = (release_web.prepare_download(w.store, w.pb, "b1", "csv", "user:m", slots=slots) for _ in range(2))
    b"".join(first.chunks())  # the stream's end cleans up ...
    first.cleanup()  # ... and so does the response's end
    slots.take("user:m")  # one slot was free
    with pytest.raises(RateLimited):  # the second download still holds the other
        slots.take("user:m")
    second.cleanup()
    assert _leftovers(w, w.pb) == []
