"""The editors in a real browser against a fake API (see conftest.FakeApi)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.ui.conftest import FakeApi
from tests.ui.fakes import TEXT, media_for, project, task


def open_task(
    fake_app: Any, kind: str, suggestions: list[dict[str, Any]] | None = None, mode: str = "label"
) -> tuple[Any, FakeApi]:
    media, blobs = media_for(kind)
    api = FakeApi(project(kind), [task(11, media, suggestions)], blobs)
    page, api = fake_app(api, f"#/p/5/{mode}")
    page.wait_for_selector("#item-id")
    return page, api


def value(page: Any) -> list[dict[str, Any]]:
    return page.evaluate("() => window.__labelloop.doc.value()")  # type: ignore[no-any-return]


def test_offsets_count_code_points(fake_app: Any) -> None:
    page, _ = open_task(fake_app, "text")
    got = page.evaluate(
        """async (text) => {
            const { TextIndex } = await import('/static/js/editors/offsets.js');
            const ix = new TextIndex(text);
            const u16 = text.indexOf('Alice');
            return [ix.length, ix.toCodePoint(u16), ix.toUtf16(ix.toCodePoint(u16)), ix.slice(8, 9), ix.toCodePoint(9)];
        }""",
        TEXT,
    )
    # the emoji is one code point but two UTF-16 units: the DOM offset of "Alice" is one more
    assert got == [len(TEXT), TEXT.index("Alice"), TEXT.index("Alice") + 1, "😀", 8]


def select_text(page: Any, needle: str, occurrence: int = 0) -> None:
    """Select `needle` inside the span text with a DOM range, then release the mouse on it."""
    page.evaluate(
        """([needle, occurrence]) => {
            const box = document.querySelector('.spantext');
            const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
            let seen = 0; let node;
            while ((node = walker.nextNode())) {
                let at = node.data.indexOf(needle);
                while (at >= 0) {
                    if (seen++ === occurrence) {
                        const r = document.createRange();
                        r.setStart(node, at); r.setEnd(node, at + needle.length);
                        const s = window.getSelection(); s.removeAllRanges(); s.addRange(r);
                        box.dispatchEvent(new MouseEvent('mouseup', { bubbles: true }));
                        return;
                    }
                    at = node.data.indexOf(needle, at + 1);
                }
            }
            throw new Error('not found: ' + needle);
        }""",
        [needle, occurrence],
    )


def test_spans_after_emoji_have_python_offsets(fake_app: Any) -> None:
    page, _ = open_task(fake_app, "text")
    page.select_option(".control-pick", "entities")
    page.keyboard.press("1")  # PER
    select_text(page, "Alice")
    page.keyboard.press("Escape")  # deselect, so the digit sets the label of the next span
    page.keyboard.press("2")  # ORG
    select_text(page, "ACME")
    select_text(page, "北京")
    spans = [r for r in value(page) if r["control"] == "entities"]
    assert [(r["text"], r["label"], r["start"], r["end"]) for r in spans] == [
        ("Alice", "PER", TEXT.index("Alice"), TEXT.index("Alice") + 5),
        ("ACME", "ORG", TEXT.index("ACME"), TEXT.index("ACME") + 4),
        ("北京", "ORG", 2, 4),
    ]
    assert all(TEXT[r["start"] : r["end"]] == r["text"] for r in spans)
    # relabel the selected span with a digit, relate two spans with shift+click
    page.keyboard.press("3")
    assert [r["label"] for r in value(page) if r["control"] == "entities"][-1] == "LOC"
    page.click("mark[data-id] >> text=Alice")
    page.click("mark[data-id] >> text=ACME", modifiers=["Shift"])
    rels = [r for r in value(page) if r["control"] == "rels"]
    assert len(rels) == 1 and rels[0]["label"] == "works_at"
    # delete a span: its relation goes with it; Ctrl+Z brings both back
    page.click("mark[data-id] >> text=Alice")
    page.keyboard.press("Delete")
    assert not [r for r in value(page) if r["control"] == "rels"]
    page.keyboard.press("Control+z")
    assert len([r for r in value(page) if r["control"] == "rels"]) == 1
    page.screenshot(path="/tmp/ui_text.png", full_page=True)


def test_classification_digit_and_submit_with_idempotency_key(fake_app: Any) -> None:
    page, api = open_task(fake_app, "text")
    page.keyboard.press("2")  # sentiment is the first control: neg
    assert value(page) == [{"id": value(page)[0]["id"], "control": "sentiment", "labels": ["neg"]}]
    page.keyboard.press("Enter")
    page.wait_for_selector("#no-task")
    (call,) = api.calls_to("POST", "/items/11/annotations")
    assert call["body"]["value"][0]["labels"] == ["neg"]
    assert call["body"]["base_version"] is None and call["body"]["lead_time_s"] > 0
    assert len(call["headers"]["idempotency-key"]) == 36
    assert call["headers"]["x-csrf-token"] == "tok"


def test_conflict_shows_server_copy_and_reloads(fake_app: Any) -> None:
    page, api = open_task(fake_app, "text")
    api.conflict = {"id": 41, "annotator": "bob", "value": [{"id": "x", "control": "sentiment", "labels": ["pos"]}]}
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    page.wait_for_selector("#conflict .conflict")
    assert "bob" in page.inner_text("#conflict")
    page.screenshot(path="/tmp/ui_conflict.png", full_page=True)
    page.click("#load-server")
    assert value(page) == [{"id": "x", "control": "sentiment", "labels": ["pos"]}]
    page.keyboard.press("Enter")
    page.wait_for_selector("#no-task")
    first, second = api.calls_to("POST", "/items/11/annotations")
    assert second["body"]["base_version"] == 41
    assert first["headers"]["idempotency-key"] != second["headers"]["idempotency-key"]


def test_draft_autosaves(fake_app: Any) -> None:
    page, api = open_task(fake_app, "text")
    page.keyboard.press("1")
    page.wait_for_function("() => document.querySelector('#savestate').dataset.saved", timeout=6000)
    (call,) = api.calls_to("PUT", "/items/11/draft")
    assert call["body"]["value"][0]["labels"] == ["pos"]


SUGGESTION = {
    "id": 3,
    "backend": "image.onnx",
    "model_version": "yolo-1",
    "score": 0.87,
    "value": [{"id": "s1", "control": "objects", "label": "cat", "xyxy": [50, 40, 150, 120]}],
}


def test_suggestion_prefilled_and_accepted_with_a(fake_app: Any) -> None:
    page, api = open_task(fake_app, "image", [SUGGESTION])
    assert page.inner_text("#confidence") == "87%"
    assert "suggested 87%" in page.inner_text("#regions")
    page.keyboard.press("a")
    page.wait_for_selector("#no-task")
    assert api.calls_to("POST", "/suggestions/3/accept")


def test_an_experiment_arms_guidelines_show_with_the_task(fake_app: Any) -> None:
    media, blobs = media_for("text")
    with_arm = task(11, media)
    with_arm["guidelines"] = "v2: label the overall tone <b>not</b> one sentence."
    page, _ = fake_app(FakeApi(project("text"), [with_arm], blobs), "#/p/5/label")
    page.wait_for_selector("#item-id")
    assert page.inner_text("#task-guidelines summary") == "Guidelines for this task"
    assert page.inner_text("#task-guidelines p") == with_arm["guidelines"]  # text, never markup
    plain, _ = open_task(fake_app, "text")
    assert plain.query_selector("#task-guidelines") is None


def test_reject_removes_suggested_regions(fake_app: Any) -> None:
    page, _ = open_task(fake_app, "image", [SUGGESTION])
    page.keyboard.press("r")
    assert value(page) == []
    page.keyboard.press("Control+z")
    assert value(page)[0]["id"] == "s1"


def drag(page: Any, a: tuple[float, float], b: tuple[float, float], steps: int = 8) -> None:
    page.mouse.move(*a)
    page.mouse.down()
    page.mouse.move(*b, steps=steps)
    page.mouse.up()


def image_point(page: Any, x: float, y: float) -> tuple[float, float]:
    pt = page.evaluate("([x, y]) => window.__labelloop.editors[0].toClient(x, y)", [x, y])
    return pt[0], pt[1]


def test_image_boxes_polygon_keypoints_zoom_pan(fake_app: Any) -> None:
    page, _ = open_task(fake_app, "image", [SUGGESTION])
    page.wait_for_selector("canvas.imagecanvas[data-loaded]")
    # correct the suggested box: drag its bottom-right corner from (150,120) to (180,140)
    page.click("#regions li[data-id=s1]")
    drag(page, image_point(page, 150, 120), image_point(page, 180, 140))
    (box,) = value(page)
    assert [round(v) for v in box["xyxy"]] == [50, 40, 180, 140]
    # corrected: the region is the annotator's own now
    page.wait_for_function("() => !document.querySelector('#regions').textContent.includes('suggested')")
    # move it by dragging its inside
    drag(page, image_point(page, 100, 100), image_point(page, 110, 105))
    assert [round(v) for v in value(page)[0]["xyxy"]] == [60, 45, 190, 145]
    page.keyboard.press("Escape")
    # draw a new box with the second label
    page.keyboard.press("2")
    drag(page, image_point(page, 250, 50), image_point(page, 350, 150))
    new = value(page)[1]
    assert new["label"] == "dog" and [round(v) for v in new["xyxy"]] == [250, 50, 350, 150]
    # a polygon: Tab to the polygons control, three clicks, close on the first vertex
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    for x, y in [(20, 200), (120, 200), (70, 280), (20, 200)]:
        page.mouse.click(*image_point(page, x, y))
    poly = value(page)[2]
    assert poly["control"] == "areas"
    assert [[round(a), round(b)] for a, b in poly["points"]] == [[20, 200], [120, 200], [70, 280]]
    # keypoints: two clicks place head and tail
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    page.mouse.click(*image_point(page, 300, 250))
    page.mouse.click(*image_point(page, 360, 260))
    kp = value(page)[3]
    assert kp["control"] == "pose"
    assert [[round(p[0]), round(p[1]), p[2]] for p in kp["points"]] == [[300, 250, 2], [360, 260, 2]]
    # wheel zoom keeps the image point under the cursor; space+drag pans
    before = image_point(page, 200, 150)
    page.mouse.move(*before)
    page.mouse.wheel(0, -300)
    page.wait_for_timeout(50)
    after = image_point(page, 200, 150)
    assert abs(after[0] - before[0]) < 1 and abs(after[1] - before[1]) < 1
    assert page.evaluate("() => window.__labelloop.editors[0].view.scale") > 1.5
    page.keyboard.down("Space")
    drag(page, (600, 400), (500, 350))
    page.keyboard.up("Space")
    moved = image_point(page, 200, 150)
    assert abs(moved[0] - after[0] + 100) < 1 and abs(moved[1] - after[1] + 50) < 1
    assert len(value(page)) == 4  # panning drew nothing
    page.screenshot(path="/tmp/ui_image.png", full_page=True)


def test_thousand_boxes_draw_fast(fake_app: Any) -> None:
    boxes = [
        {
            "id": f"b{i}",
            "control": "objects",
            "label": "cat" if i % 2 else "dog",
            "xyxy": [(i % 40) * 10, (i // 40) * 12, (i % 40) * 10 + 8, (i // 40) * 12 + 10],
        }
        for i in range(1000)
    ]
    page, _ = open_task(fake_app, "image", [{"id": 4, "backend": "b", "score": 0.5, "value": boxes}])
    page.wait_for_selector("canvas.imagecanvas[data-loaded]")
    # 60 zoom steps, one redraw each; time spent drawing per frame
    ms = page.evaluate(
        """async () => {
            const ed = window.__labelloop.editors[0];
            const c = ed.canvas; const r = c.getBoundingClientRect();
            const times = [];
            for (let i = 0; i < 60; i++) {
                c.dispatchEvent(new WheelEvent('wheel', { deltaY: i < 30 ? -40 : 40,
                    clientX: r.left + 300, clientY: r.top + 200, bubbles: true, cancelable: true }));
                await new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)));
                times.push(ed.lastDrawMs);
            }
            times.sort((a, b) => a - b);
            return [times[30], times[57]];
        }"""
    )
    print(f"1,000 boxes: draw p50 {ms[0]:.2f} ms, p95 {ms[1]:.2f} ms per frame")
    # inside one 60 Hz frame typically; the p95 bound leaves room for a loaded 2-core CI box
    assert ms[0] < 8 and ms[1] < 33, ms
    # dragging one box among the thousand: no long task (> 50 ms) on the main thread
    page.evaluate(
        "() => { window.__long = []; new PerformanceObserver((l) => window.__long.push(...l.getEntries()"
        ".map((e) => e.duration))).observe({ type: 'longtask', buffered: false }); }"
    )
    page.click("#regions li[data-id=b500]")
    renders = page.get_attribute("#regions", "data-renders")
    x0, y0, x1, y1 = boxes[500]["xyxy"]
    drag(
        page,
        image_point(page, (x0 + x1) / 2, (y0 + y1) / 2),
        image_point(page, (x0 + x1) / 2 + 30, (y0 + y1) / 2 + 20),
        steps=40,
    )
    page.wait_for_timeout(100)
    moved = next(r for r in value(page) if r["id"] == "b500")
    assert [round(v) for v in moved["xyxy"]] == [x0 + 30, y0 + 20, x1 + 30, y1 + 20]
    # moves change no row of the region list, so it is rebuilt once, at the end (the box stops
    # being "suggested" when corrected), not on each of the 40 moves
    assert int(page.get_attribute("#regions", "data-renders")) == int(renders) + 1
    long_tasks = page.evaluate("() => window.__long")
    print(f"1,000 boxes: drag of one box, 40 moves, main-thread tasks over 50 ms: {long_tasks}")
    # (printed, not asserted: on a loaded shared box the compositor stalls regardless of the page)
    page.screenshot(path="/tmp/ui_1000.png")


def test_audio_waveform_segments_transcript(fake_app: Any) -> None:
    page, _ = open_task(fake_app, "audio")
    page.wait_for_selector("canvas.wave[data-loaded]")
    assert "2.00 s" in page.inner_text(".audio-editor")
    x = lambda t: page.evaluate("(t) => window.__labelloop.editors[0].timeToClientX(t)", t)  # noqa: E731
    box = page.locator("canvas.wave").bounding_box()
    y = box["y"] + 80
    drag(page, (x(0.5), y), (x(1.2), y))
    (seg,) = value(page)
    assert seg["label"] == "speech" and abs(seg["start_s"] - 0.5) < 0.02 and abs(seg["end_s"] - 1.2) < 0.02
    # drag the end edge to 1.5 s
    drag(page, (x(seg["end_s"]), y), (x(1.5), y))
    assert abs(value(page)[0]["end_s"] - 1.5) < 0.02
    page.click("input.transcript")
    page.keyboard.type("hello ")  # key by key: the list re-renders but the caret stays
    page.keyboard.insert_text("世界")
    page.select_option("table.segments select", "noise")
    seg = value(page)[0]
    assert seg["transcript"] == "hello 世界" and seg["label"] == "noise"
    page.click("button.play")
    page.wait_for_function("() => document.querySelector('canvas.wave').dataset.played")
    page.screenshot(path="/tmp/ui_audio.png", full_page=True)


def test_pointcloud_cuboid_create_move_resize_rotate(fake_app: Any) -> None:
    page, _ = open_task(fake_app, "pointcloud")
    page.wait_for_selector("canvas.topview[data-loaded]")
    assert page.get_attribute("canvas.topview", "data-source") == "file"  # the fake API has no /points
    page.wait_for_selector(".view3d[data-webgl]")
    top = lambda x, y: tuple(page.evaluate("([x, y]) => window.__labelloop.editors[0].topToClient(x, y)", [x, y]))  # noqa: E731
    drag(page, top(-1, -0.5), top(1, 0.5))
    (c,) = value(page)
    assert c["control"] == "objects3d" and c["yaw"] == 0 and c["frame"] == "lidar"
    assert abs(c["center"][0]) < 0.05 and abs(c["size"][0] - 2) < 0.05 and abs(c["size"][1] - 1) < 0.05
    assert c["size"][2] > 0.1  # height from the points inside the footprint
    drag(page, top(0, 0), top(0.5, 0.25))
    c = value(page)[0]
    assert abs(c["center"][0] - 0.5) < 0.05 and abs(c["center"][1] - 0.25) < 0.05
    # resize: the front-left corner (local +l/2, +w/2) dragged outwards; the opposite corner stays
    drag(page, top(1.5, 0.75), top(2.5, 1.25))
    c = value(page)[0]
    assert abs(c["size"][0] - 3) < 0.06 and abs(c["size"][1] - 1.5) < 0.06
    # rotate with the round handle to 90 degrees
    hx, hy = page.evaluate("() => { const c = window.__labelloop.doc.regions[0]; return [c.center[0], c.center[1]]; }")
    handle = page.evaluate(
        "([x, y]) => { const ed = window.__labelloop.editors[0]; const c = window.__labelloop.doc.regions[0];"
        " const r = document.querySelector('canvas.topview').getBoundingClientRect();"
        " const p = ed.topToClient(x, y); const s = (p[0] - ed.topToClient(x - 1, y)[0]);"
        " return [p[0] + c.size[0] / 2 * s + 14, p[1]]; }",
        [hx, hy],
    )
    drag(page, tuple(handle), top(hx, hy + 2))
    assert abs(value(page)[0]["yaw"] - 1.5708) < 0.05
    page.keyboard.press("q")
    assert abs(value(page)[0]["yaw"] - (1.5708 + 0.0873)) < 0.06
    # side view: raise the top face
    c = value(page)[0]
    z_top = c["center"][2] + c["size"][2] / 2
    top_face = page.evaluate("([z]) => window.__labelloop.editors[0].sideToClient(0, z)", [z_top])
    drag(page, tuple(top_face), (top_face[0], top_face[1] - 30))
    assert value(page)[0]["size"][2] > c["size"][2] + 0.1
    page.screenshot(path="/tmp/ui_pointcloud.png", full_page=True)


def test_caption_span_linked_to_box(fake_app: Any) -> None:
    page, _ = open_task(fake_app, "caption")
    page.wait_for_selector("canvas.imagecanvas[data-loaded]")
    drag(page, image_point(page, 20, 20), image_point(page, 90, 80))
    page.select_option(".control-pick", "phrases")
    select_text(page, "cat")
    page.keyboard.press("k")
    link = [r for r in value(page) if r["control"] == "grounding"]
    assert len(link) == 1
    by_id = {r["id"]: r for r in value(page)}
    assert by_id[link[0]["from_id"]]["text"] == "cat" and "xyxy" in by_id[link[0]["to_id"]]
    assert "“cat” ⟷ cat box" in page.inner_text(".links-box")
    page.screenshot(path="/tmp/ui_caption.png", full_page=True)


def test_review_keys(fake_app: Any) -> None:
    media, blobs = media_for("image")
    box = {"id": "b", "control": "objects", "label": "cat", "xyxy": [10, 10, 60, 60]}
    reviewed = {"id": 55, "annotator": "ann", "value": [box]}
    api = FakeApi(project("image"), [], blobs)
    for i in range(3):
        payload = {"item": {"id": 20 + i, "media": media}, "suggestions": []}
        api.reviews_queue.append({"item": payload, "annotation": reviewed})
    page, api = fake_app(api, "#/p/5/review")
    page.wait_for_selector("canvas.imagecanvas[data-loaded]")
    page.screenshot(path="/tmp/ui_review.png", full_page=True)
    page.keyboard.press("a")
    page.wait_for_selector("#item-id >> text=21")
    page.keyboard.press("r")
    page.wait_for_selector("#item-id >> text=22")
    page.wait_for_selector("canvas.imagecanvas[data-loaded]")
    page.click("#regions li[data-id=b]")
    drag(page, image_point(page, 60, 60), image_point(page, 80, 90))
    page.keyboard.press("Enter")  # edited: Enter corrects
    page.wait_for_selector("#no-task")
    verdicts = [c["body"]["verdict"] for c in api.calls_to("POST", "/reviews")]
    assert verdicts == ["accept", "reject", "correct"]
    corrected = api.calls_to("POST", "/items/22/reviews")[0]["body"]
    assert corrected["annotation_id"] == 55 and [round(v) for v in corrected["value"][0]["xyxy"]] == [10, 10, 80, 90]


def test_draft_saved_when_the_tab_is_hidden_and_restored(fake_app: Any) -> None:
    page, api = open_task(fake_app, "text")
    page.keyboard.press("3")
    page.evaluate(
        "() => { Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });"
        " document.dispatchEvent(new Event('visibilitychange')); }"
    )
    page.wait_for_function("() => document.querySelector('#savestate').dataset.saved")
    (call,) = api.calls_to("PUT", "/items/11/draft")
    assert call["body"]["value"][0]["labels"] == ["neu"]
    # the next visit of the task starts from the draft, not from the suggestion
    media, blobs = media_for("text")
    t = task(12, media, [{"id": 1, "backend": "b", "score": 0.5, "value": []}])
    t["item"]["draft"] = {"value": call["body"]["value"], "updated_at": "2030-01-01T00:00:00"}
    page2, _ = fake_app(FakeApi(project("text"), [t], blobs), "#/p/5/label")
    page2.wait_for_selector("#item-id")
    assert value(page2)[0]["labels"] == ["neu"]
    assert page2.is_checked("input[data-label=neu]")


PTS = [[1.5, -2.0, 0.25], [3.0, 4.0, -1.0], [0.125, 0.5, 8.0]]


def _cloud_files(tmp: Path) -> dict[str, bytes]:
    """The same three points as PCD binary, PCD binary_compressed, PLY binary and ascii, LAS."""
    import laspy
    import numpy as np
    from pypcd4 import Encoding, PointCloud

    pts = np.array(PTS, dtype=np.float32)
    out: dict[str, bytes] = {}
    rows = np.zeros(3, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("intensity", "<f4")])
    rows["x"], rows["y"], rows["z"], rows["intensity"] = pts[:, 0], pts[:, 1], pts[:, 2], 7.0
    header = (
        "VERSION 0.7\nFIELDS x y z intensity\nSIZE 4 4 4 4\nTYPE F F F F\nCOUNT 1 1 1 1\n"
        "WIDTH 3\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 3\nDATA binary\n"
    )
    out["pcd-binary"] = header.encode() + rows.tobytes()
    cloud = PointCloud.from_xyzi_points(np.c_[pts, np.full(3, 7.0, np.float32)])
    cloud.save(tmp / "c.pcd", encoding=Encoding.BINARY_COMPRESSED)
    out["pcd-compressed"] = (tmp / "c.pcd").read_bytes()
    verts = np.zeros(3, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1")])
    verts["x"], verts["y"], verts["z"] = pts[:, 0], pts[:, 1], pts[:, 2]
    ply_head = "ply\nformat binary_little_endian 1.0\nelement vertex 3\n"
    ply_head += "property float x\nproperty float y\nproperty float z\nproperty uchar red\n"
    ply_head += "element face 0\nproperty list uchar int vertex_indices\nend_header\n"
    out["ply-binary"] = ply_head.encode() + verts.tobytes()
    ascii_head = ply_head.replace("binary_little_endian", "ascii")
    out["ply-ascii"] = (ascii_head + "".join(f"{x} {y} {z} 9\n" for x, y, z in PTS)).encode()
    las = laspy.create(point_format=3, file_version="1.2")
    las.header.scales = [0.001, 0.001, 0.001]
    las.header.offsets = [0, 0, 0]
    las.x, las.y, las.z = pts[:, 0].astype(float), pts[:, 1].astype(float), pts[:, 2].astype(float)
    las.write(tmp / "c.las")
    out["las"] = (tmp / "c.las").read_bytes()
    return out


def test_point_cloud_files_parsed_in_the_browser(fake_app: Any, tmp_path: Path) -> None:
    page, _ = open_task(fake_app, "text")
    for name, data in _cloud_files(tmp_path).items():
        got = page.evaluate(
            """async (bytes) => {
                const { parsePoints } = await import('/static/js/editors/pcformats.js');
                return Array.from(parsePoints(new Uint8Array(bytes).buffer));
            }""",
            list(data),
        )
        assert len(got) == 9, name
        assert max(abs(a - b) for a, b in zip(got, [v for p in PTS for v in p], strict=True)) < 1e-3, (name, got)
    # a larger, repetitive cloud: LZF back-references, not only literal runs
    import numpy as np
    from pypcd4 import Encoding, PointCloud

    grid = np.stack(np.meshgrid(np.arange(20), np.arange(15), [0.0, 1.5]), -1).reshape(-1, 3).astype(np.float32)
    PointCloud.from_xyz_points(grid).save(tmp_path / "g.pcd", encoding=Encoding.BINARY_COMPRESSED)
    data = (tmp_path / "g.pcd").read_bytes()
    assert len(data) < grid.nbytes  # it did compress
    got = page.evaluate(
        """async (bytes) => {
            const { parsePoints } = await import('/static/js/editors/pcformats.js');
            return Array.from(parsePoints(new Uint8Array(bytes).buffer));
        }""",
        list(data),
    )
    assert got == grid.ravel().tolist()


def test_project_page_members_and_settings(fake_app: Any) -> None:
    _media, blobs = media_for("text")
    api = FakeApi(project("text"), [], blobs)
    page, api = fake_app(api, "#/p/5")
    page.wait_for_selector("#project-name")
    assert page.inner_text("#project-name") == "text project"
    assert page.is_visible("#start-label") and page.is_visible("#start-review")
    page.fill("#member-name", "<b>bob</b>")
    page.select_option("#member-role", "reviewer")
    page.click("#members button[type=submit]")
    page.wait_for_selector("#members td >> text=<b>bob</b>")  # shown as text, not markup
    assert api.calls_to("POST", "/members")[0]["body"] == {"username": "<b>bob</b>", "role": "reviewer"}
    page.fill("#setting-overlap", "3")
    page.fill("#setting-gold_rate", "0.1")
    page.click("#settings button[type=submit]")
    page.wait_for_function("() => document.querySelector('#toast').textContent === 'settings saved'")
    assert api.settings == {"overlap": 3, "gold_rate": 0.1, "lock_seconds": 600}
    page.screenshot(path="/tmp/ui_project_fake.png", full_page=True)


def test_suggestions_of_several_backends_are_merged_per_control(fake_app: Any) -> None:
    poly = {"id": "s1", "control": "areas", "label": "road", "points": [[0, 200], [100, 200], [50, 290]]}
    other_box = {"id": "x", "control": "objects", "label": "dog", "xyxy": [1, 1, 9, 9]}
    page, api = open_task(
        fake_app,
        "image",
        [
            SUGGESTION,  # objects, 0.87
            {"id": 8, "backend": "image.seg", "score": 0.6, "value": [poly]},  # areas: same region id
            {"id": 9, "backend": "weak", "score": 0.5, "value": [other_box]},  # objects again: not used
        ],
    )
    regions = value(page)
    assert [r["control"] for r in regions] == ["objects", "areas"]
    assert len({r["id"] for r in regions}) == 2  # the clashing id was renamed
    badges = page.inner_text("#regions")
    assert "suggested 87%" in badges and "suggested 60%" in badges
    assert page.locator("#suggestion .sugg-row").count() == 2
    page.keyboard.press("a")  # untouched, two sources: accepted as one submitted annotation
    page.wait_for_selector("#no-task")
    (call,) = api.calls_to("POST", "/items/11/annotations")
    assert [r["control"] for r in call["body"]["value"]] == ["objects", "areas"]
    assert not api.calls_to("POST", "/accept")


def test_relation_with_l_and_polygon_vertex_drag(fake_app: Any) -> None:
    page, _ = open_task(fake_app, "text")
    page.select_option(".control-pick", "entities")
    select_text(page, "Alice")
    select_text(page, "Paris")
    page.click("mark[data-id] >> text=Alice")
    page.keyboard.press("l")
    page.click("mark[data-id] >> text=Paris")
    (rel,) = [r for r in value(page) if r["control"] == "rels"]
    ends = {r["id"]: r["text"] for r in value(page) if r["control"] == "entities"}
    assert (ends[rel["from_id"]], ends[rel["to_id"]]) == ("Alice", "Paris")
    assert "Q/E" not in page.inner_text("dl.keys")  # no cuboids here

    page, _ = open_task(fake_app, "image")
    page.wait_for_selector("canvas.imagecanvas[data-loaded]")
    page.keyboard.press("Tab")  # polygons
    for x, y in [(20, 20), (120, 20), (70, 100)]:
        page.mouse.click(*image_point(page, x, y))
    page.mouse.dblclick(*image_point(page, 70, 100))
    (poly,) = value(page)
    assert len(poly["points"]) == 3
    drag(page, image_point(page, 120, 20), image_point(page, 150, 40))  # the selected polygon's vertex
    assert [[round(a), round(b)] for a, b in value(page)[0]["points"]] == [[20, 20], [150, 40], [70, 100]]
    page.keyboard.press("Control+z")
    assert [[round(a), round(b)] for a, b in value(page)[0]["points"]] == [[20, 20], [120, 20], [70, 100]]
