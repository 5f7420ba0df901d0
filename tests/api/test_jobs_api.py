"""Projects, imports, exports and jobs through the REST API: per role, bad inputs, hostile uploads."""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pycocotools.coco import COCO

from labelloop.api import create_app
from labelloop.config import Settings
from labelloop.core.accounts import Role
from labelloop.services.accounts import add_member
from tests.api.conftest import World
from tests.helpers import png_bytes

OCTET = {"Content-Type": "application/octet-stream"}
BOXES = """media:
  - {name: image, kind: image}
controls:
  - {name: objects, kind: boxes, target: image, labels: [cat, dog]}
"""


def _wait(c: TestClient, pid: int, job: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while job["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
        r = c.get(f"/api/projects/{pid}/jobs/{job['id']}")
        assert r.status_code == 200, r.text
        job = r.json()["job"]
    return job


def _import(c: TestClient, pid: int, name: str, data: bytes, fmt: str = "auto") -> Any:
    return c.post(f"/api/projects/{pid}/imports", params={"filename": name, "format": fmt}, content=data, headers=OCTET)


def _zip(members: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _items(w: World, pid: int) -> int:
    with w.store.read() as tx:
        return int(tx.projects.counts(pid)["items"])


def _leftovers(w: World) -> list[str]:
    out = []
    for sub in ("uploads", "tmp"):
        folder = w.store.data_dir / sub
        if folder.is_dir():
            out += [str(p) for p in folder.iterdir()]
    return out


# projects ---------------------------------------------------------------------------------
def test_admins_create_projects_with_the_cli_checks(world: World) -> None:
    admin = world.client("admin")
    r = admin.post("/api/projects", json={"name": " pets ", "label_config": BOXES})
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["name"] == "pets" and made["schema"]["controls"][0]["labels"] == ["cat", "dog"]
    assert admin.get(f"/api/projects/{made['id']}").status_code == 200
    as_object = {"media": [{"name": "text", "kind": "text"}]}
    assert admin.post("/api/projects", json={"name": "obj", "schema": as_object}).status_code == 201
    json_text = json.dumps({"media": [{"name": "t", "kind": "text"}]})
    assert admin.post("/api/projects", json={"name": "json", "label_config": json_text}).status_code == 201
    dup = admin.post("/api/projects", json={"name": "pets", "label_config": BOXES})
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "LL-CONFLICT"


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"name": "x", "label_config": "media: [{name: image, kind: photo}]"}, 422, "media.0.kind"),
        (
            {"name": "x", "label_config": "controls: [{name: c, kind: boxes, target: nope}]"},
            422,
            "invalid label schema",
        ),
        ({"name": "x", "label_config": "media: [unclosed"}, 422, "expected YAML or JSON"),
        ({"name": "x", "label_config": "a: &a [1]\nb: *a\n"}, 422, "aliases are not allowed"),
        ({"name": "x", "label_config": "!!python/object/apply:os.system ['true']"}, 422, "expected YAML or JSON"),
        ({"name": "x", "label_config": "[1, 2]"}, 422, "expected a mapping"),
        ({"name": "x"}, 422, "got nothing"),
        ({"name": "123", "label_config": BOXES}, 422, "not only digits"),
        ({"name": "bad\u0007name", "label_config": BOXES}, 422, "printable"),
        ({"name": "", "label_config": BOXES}, 422, "name"),
        ({"name": "x", "label_config": BOXES, "owner": "me"}, 422, "owner"),
    ],
)
def test_bad_project_configs_say_what_is_wrong(world: World, body: dict[str, Any], status: int, needle: str) -> None:
    r = world.client("admin").post("/api/projects", json=body)
    assert r.status_code == status, r.text
    assert needle in r.text, r.text
    with world.store.read() as tx:
        assert {p.name for p in tx.projects.list()} == {"a", "b"}


def test_invalid_schema_lists_each_problem(world: World) -> None:
    bad = "media: [{name: image, kind: photo}]\ncontrols: [{name: c, kind: dial, target: image}]"
    err = world.client("admin").post("/api/projects", json={"name": "x", "label_config": bad}).json()
    assert err["error"]["code"] == "LL-SCHEMA" and len(err["errors"]) >= 2
    assert all(isinstance(line, str) and ":" in line for line in err["errors"])


def test_only_instance_admins_create_projects(world: World) -> None:
    for who in ("manager", "viewer", "outsider"):
        r = world.client(who).post("/api/projects", json={"name": f"by {who}", "label_config": BOXES})
        assert r.status_code == 403 and r.json()["error"]["code"] == "LL-DENIED", (who, r.text)
    assert world.client().post("/api/projects", json={"name": "anon", "label_config": BOXES}).status_code == 401


def test_project_creation_from_a_browser_session_needs_the_csrf_token(world: World) -> None:
    c = world.client()
    assert c.post("/api/auth/login", json={"username": "admin", "password": "a long test password"}).status_code == 200
    body = {"name": "via cookie", "label_config": BOXES}
    assert c.post("/api/projects", json=body).status_code == 403
    csrf = c.get("/api/me").json()["csrf_token"]
    evil = c.post("/api/projects", json=body, headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"})
    assert evil.status_code == 403
    assert c.post("/api/projects", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201
    # uploads and exports are unsafe requests too: no token, no import
    url = f"/api/projects/{world.pa}/imports?filename=x.jsonl"
    assert c.post(url, content=b'{"text": "x"}', headers=OCTET).status_code == 403
    assert c.post(f"/api/projects/{world.pa}/exports", json={"format": "csv"}).status_code == 403
    ok = c.post(url, content=b'{"text": "x"}', headers={**OCTET, "X-CSRF-Token": csrf})
    assert ok.status_code == 202 and _wait(c, world.pa, ok.json()["job"])["status"] == "done"


# imports ----------------------------------------------------------------------------------
def test_import_as_a_job_with_per_item_errors(world: World) -> None:
    w = world
    mgr = w.client("manager")
    before = _items(w, w.pa)
    lines = [json.dumps({"text": "fresh text one"}), "{broken", json.dumps({"text": "fresh text two"})]
    r = _import(mgr, w.pa, "more.jsonl", ("\n".join(lines) + "\n").encode())
    assert r.status_code == 202, r.text
    job = r.json()["job"]
    assert job["kind"] == "import" and job["params"]["filename"] == "more.jsonl" and job["actor"] == "user:manager"
    job = _wait(mgr, w.pa, job)
    assert job["status"] == "done", job
    assert job["result"]["items"] == 2 and job["result"]["refused"] == 1
    assert job["result"]["errors"][0]["line"] == 2 and job["result"]["errors"][0]["source"] == "more.jsonl"
    assert job["progress"]["done"] == job["progress"]["total"] > 0
    assert _items(w, w.pa) == before + 2
    assert _leftovers(w) == []
    listed = mgr.get(f"/api/projects/{w.pa}/jobs").json()
    assert listed["jobs"][0]["id"] == job["id"] and listed["next"] is None


def test_import_formats_and_bad_uploads(world: World) -> None:
    w = world
    mgr = w.client("manager")
    formats = mgr.get("/api/formats").json()
    assert {"auto", "native", "coco", "yolo", "voc", "label_studio", "conll2003"} <= {
        f["name"] for f in formats["import"]
    }
    assert world.client("viewer").get("/api/formats").status_code == 200  # user level: no data in it
    bad = _import(mgr, w.pa, "x.jsonl", b"{}", fmt="pickle")
    assert bad.status_code == 422 and "auto, native" in bad.json()["error"]["message"]
    assert _import(mgr, w.pa, "x.jsonl", b"").status_code == 422  # an empty body
    form = mgr.post(f"/api/projects/{w.pa}/imports?filename=x.jsonl", files={"file": ("x.jsonl", b'{"text": "a"}')})
    assert form.status_code == 422 and "request body" in form.json()["error"]["message"]
    assert mgr.post(f"/api/projects/{w.pa}/imports", content=b"x", headers=OCTET).status_code == 422  # no filename
    # a malformed file: the job fails with the reason, nothing imported
    add_member(w.store, w.pb, "manager", Role.MANAGER)
    before = _items(w, w.pb)
    job = _wait(mgr, w.pb, _import(mgr, w.pb, "broken.zip", b"PK\x03\x04 not really a zip").json()["job"])
    assert job["status"] == "failed" and job["error"].startswith("broken.zip: expected a readable zip archive"), job
    assert str(w.store.data_dir) not in job["error"]
    assert _items(w, w.pb) == before and _leftovers(w) == []


def test_zip_slip_is_refused_and_nothing_is_written(world: World, tmp_path: Path) -> None:
    w = world
    mgr = w.client("manager")
    add_member(w.store, w.pb, "manager", Role.MANAGER)
    evil = _zip({"ok.png": png_bytes(color=(3, 3, 3)), "../../../escaped.png": png_bytes(color=(4, 4, 4))})
    blobs_before = sorted(p.name for p in (w.store.data_dir / "blobs").rglob("*") if p.is_file())
    job = _wait(mgr, w.pb, _import(mgr, w.pb, "evil.zip", evil).json()["job"])
    assert job["status"] == "failed" and "members stay inside it" in job["error"], job
    assert _items(w, w.pb) == 1
    assert sorted(p.name for p in (w.store.data_dir / "blobs").rglob("*") if p.is_file()) == blobs_before
    assert not list(w.store.data_dir.parent.rglob("escaped.png")) and _leftovers(w) == []


def test_upload_size_limit(world: World) -> None:
    app = create_app(Settings(data_dir=world.store.data_dir, max_upload_bytes=2000), store=world.store)
    with TestClient(app, raise_server_exceptions=False) as c:
        c.headers["Authorization"] = f"Bearer {world.tokens['manager']}"
        big = _import(c, world.pa, "big.jsonl", b"x" * 5000)
        assert big.status_code == 413 and big.json()["error"]["code"] == "LL-TOOLARGE"

        def chunks():  # type: ignore[no-untyped-def]  # no Content-Length: counted as it streams
            for _ in range(10):
                yield b'{"text": "' + b"y" * 500 + b'"}\n'

        streamed = c.post(
            f"/api/projects/{world.pa}/imports", params={"filename": "s.jsonl"}, content=chunks(), headers=OCTET
        )
        assert streamed.status_code == 413
        small = _import(c, world.pa, "small.jsonl", b'{"text": "small enough"}\n')
        assert small.status_code == 202
        assert _wait(c, world.pa, small.json()["job"])["status"] == "done"
        # every other route keeps the 8 MiB limit, the upload route takes more by default
        assert c.put(f"/api/projects/{world.pa}/settings", content=b"x" * 9_000_000).status_code == 413
    assert _leftovers(world) == []


# exports ----------------------------------------------------------------------------------
def test_export_job_with_options_and_download(world: World, tmp_path: Path) -> None:
    w = world
    mgr = w.client("manager")
    add_member(w.store, w.pb, "manager", Role.MANAGER)  # the manager of a manages b too: an image project
    imgs = _zip({f"{i}.png": png_bytes(40, 30, (i, 20, 20)) for i in range(5)})
    assert _wait(mgr, w.pb, _import(mgr, w.pb, "imgs.zip", imgs).json()["job"])["status"] == "done"
    r = mgr.post(f"/api/projects/{w.pb}/exports", json={"format": "coco", "options": {}})
    assert r.status_code == 202, r.text
    job = _wait(mgr, w.pb, r.json()["job"])
    assert job["status"] == "done" and job["result"]["items"] == 6 and job["progress"]["total"], job
    dl = mgr.get(job["download"])
    assert dl.status_code == 200 and dl.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(dl.content)) as zf:
        (tmp_path / "c.json").write_bytes(zf.read(next(n for n in zf.namelist() if n.endswith(".json"))))
    assert len(COCO(str(tmp_path / "c.json")).getImgIds()) == 6

    def yolo(task: str) -> dict[str, Any]:
        r = mgr.post(f"/api/projects/{w.pb}/exports", json={"format": "yolo", "options": {"task": task}})
        return _wait(mgr, w.pb, r.json()["job"])

    seg = yolo("segment")  # the option reaches the exporter, which says why it cannot
    assert seg["status"] == "failed" and seg["error"] == "YOLO segment needs a polygons control", seg
    det = yolo("detect")
    assert det["status"] == "done" and det["params"]["options"] == {"task": "detect"}, det
    with zipfile.ZipFile(io.BytesIO(mgr.get(det["download"]).content)) as zf:
        assert "data.yaml" in zf.namelist()


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (
            {"format": "yolo", "options": {"tsak": "detect"}},
            "expected options of yolo: control, task, with_media, got 'tsak'",
        ),
        ({"format": "yolo", "options": {"task": "pose"}}, "expected one of detect, segment"),
        ({"format": "coco", "options": {"link": False}}, "got 'link'"),
        ({"format": "pickle"}, "expected one of native, coco"),
        ({"format": "coco", "extra": 1}, "extra"),
    ],
)
def test_bad_export_requests(world: World, body: dict[str, Any], needle: str) -> None:
    r = world.client("manager").post(f"/api/projects/{world.pa}/exports", json=body)
    assert r.status_code == 422 and needle in r.text, r.text
    assert world.client("manager").get(f"/api/projects/{world.pa}/jobs").json()["jobs"] == []


def test_a_failing_export_says_why(world: World) -> None:
    mgr = world.client("manager")  # a text project has nothing COCO can carry
    job = _wait(mgr, world.pa, mgr.post(f"/api/projects/{world.pa}/exports", json={"format": "coco"}).json()["job"])
    assert job["status"] == "failed" and "COCO" in job["error"] and "download" not in job, job


# jobs: who may see and cancel them --------------------------------------------------------
def test_jobs_per_role(world: World) -> None:
    w = world
    mgr = w.client("manager")
    job = _wait(mgr, w.pa, mgr.post(f"/api/projects/{w.pa}/exports", json={"format": "csv"}).json()["job"])
    url = f"/api/projects/{w.pa}/jobs/{job['id']}"
    for role in ("viewer", "annotator", "reviewer"):
        c = w.client(role)
        assert c.get(url).status_code == 403, role
        assert c.get(f"/api/projects/{w.pa}/jobs").status_code == 403, role
        assert c.post(f"{url}/cancel").status_code == 403, role
        assert c.post(f"/api/projects/{w.pa}/exports", json={"format": "csv"}).status_code == 403, role
        assert _import(c, w.pa, "x.jsonl", b'{"text": "x"}').status_code == 403, role
        assert c.get(job["download"]).status_code == 403, role
    assert w.client("outsider").get(url).status_code == 404
    assert w.client("b_annotator").get(url).status_code == 404
    assert w.client("admin").get(url).status_code == 200
    # another project's id in the path: not found, not someone else's job
    assert w.client("admin").get(f"/api/projects/{w.pb}/jobs/{job['id']}").status_code == 404
    assert mgr.post(f"{url}/cancel").status_code == 409  # it has ended
    assert mgr.get(f"/api/projects/{w.pa}/jobs/99999").status_code == 404
    assert mgr.get(f"/api/projects/{w.pa}/jobs/{2**40}").status_code == 422


def test_cancel_a_running_export(world: World) -> None:
    w = world
    mgr = w.client("manager")
    runner = w.app.state.jobs  # type: ignore[attr-defined]
    gate = threading.Event()
    job = runner.submit(w.pa, "export", "user:manager", lambda p, c: (gate.wait(10), c.raise_if_set())[1])
    try:
        r = mgr.post(f"/api/projects/{w.pa}/jobs/{job.id}/cancel")
        assert r.status_code == 200 and r.json()["job"]["cancel_requested"] is True
    finally:
        gate.set()
    ended = _wait(mgr, w.pa, r.json()["job"])
    assert ended["status"] == "cancelled"


def test_progress_moves_during_a_big_export(world: World, tmp_path: Path) -> None:
    w = world
    n = 20_000
    (tmp_path / "big.jsonl").write_text("".join(json.dumps({"text": f"big item {i}"}) + "\n" for i in range(n)))
    from labelloop.services.ingest import import_source

    import_source(w.store, w.pa, tmp_path / "big.jsonl", actor="user:test")
    mgr = w.client("manager")
    job = mgr.post(f"/api/projects/{w.pa}/exports", json={"format": "csv"}).json()["job"]
    seen: list[tuple[str, int, int | None]] = []
    deadline = time.monotonic() + 120
    while job["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        job = mgr.get(f"/api/projects/{w.pa}/jobs/{job['id']}").json()["job"]
        seen.append((job["status"], job["progress"]["done"], job["progress"]["total"]))
    assert job["status"] == "done" and job["result"]["items"] == n + 6, job
    moving = {done for status, done, total in seen if status == "running" and total and 0 < done < total}
    assert len(moving) >= 2, seen[:50]  # the export was seen part-way, more than once
