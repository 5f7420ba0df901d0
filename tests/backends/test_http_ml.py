"""``http`` backend: the Label Studio ML protocol against a real server on loopback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from labelloop.errors import BackendUnavailable
from labelloop.plugins import PluginManager
from labelloop.services.preannotate import preannotate
from labelloop.storage import Store
from tests.backends.factories import IMAGE_SCHEMA, TEXT_SCHEMA, add_items, blob_image, image_ref, make_project, text_ref
from tests.backends.servers import SECRET, LSHandler, serve

ALLOW = {"outbound_allow": ["127.0.0.1"]}


def _run(store: Store, url: str, **config: Any) -> Any:
    cfg = {"url": url, "retries": 0, "timeout_s": 2.0} | config
    return preannotate(store, "p", "http", plugins=PluginManager(), config=cfg, batch_size=4, options=ALLOW)


def _texts(store: Store, texts: list[str]) -> dict[str, int]:
    make_project(store, "p", TEXT_SCHEMA)
    return {it.data["text"].text or "": it.id for it in add_items(store, "p", "text", [text_ref(t) for t in texts])}


def test_predictions_become_suggestions(sqlite_store: Store) -> None:
    ids = _texts(sqlite_store, ["good trip to Paris", "bad food", "good"])
    with serve(LSHandler) as srv:
        r = _run(sqlite_store, srv.url)
    assert (r.suggestions, r.failed) == (3, 0)
    assert [c[:2] for c in srv.calls[:3]] == [("GET", "/health"), ("POST", "/setup"), ("POST", "/predict")]
    setup, predict = srv.calls[1][2], srv.calls[2][2]
    assert "<Choices" in setup["schema"] and predict["label_config"] == setup["schema"]
    assert [t["data"]["text"] for t in predict["tasks"]] == ["good trip to Paris", "bad food", "good"]
    with sqlite_store.read() as tx:
        sugg, _, _ = tx.labels.for_items(list(ids.values()))
    by_item = {s.item_id: s for s in sugg}
    paris = by_item[ids["good trip to Paris"]]
    assert paris.value == [
        {"id": "c1", "control": "sentiment", "labels": ["pos"]},
        {"id": "s1", "control": "entities", "label": "LOC", "start": 13, "end": 18, "text": "Paris"},
    ]
    assert paris.score == 0.75 and (paris.backend, paris.model_version) == ("http", "remote")
    assert by_item[ids["bad food"]].value[0]["labels"] == ["neg"]


def test_loopback_needs_the_allow_list(sqlite_store: Store) -> None:
    _texts(sqlite_store, ["good"])
    with serve(LSHandler) as srv:
        with pytest.raises(BackendUnavailable, match="loopback address"):
            preannotate(sqlite_store, "p", "http", config={"url": srv.url}, options={})
        assert srv.calls == []  # refused before any byte was sent


def test_metadata_endpoint_refused(sqlite_store: Store) -> None:
    _texts(sqlite_store, ["good"])
    with pytest.raises(BackendUnavailable, match="link-local"):
        preannotate(sqlite_store, "p", "http", config={"url": "http://169.254.169.254/"}, options=ALLOW)


def test_unknown_labels_fail_only_their_items(sqlite_store: Store) -> None:
    _texts(sqlite_store, ["good", "bad"])
    with serve(LSHandler, mode="unknown_label") as srv:
        r = _run(sqlite_store, srv.url)
    assert (r.suggestions, r.failed) == (0, 2)
    assert all("invalid output" in e.reason and "should be 'pos' or 'neg'" in e.reason for e in r.errors)


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("crash", "the endpoint answered HTTP 500"),
        ("garbage", "not JSON"),
        ("short", "returned 1 predictions for 2 tasks"),
        ("hang", "timed out"),
        ("huge", "over 1024 bytes"),
    ],
)
def test_server_faults_give_per_item_errors_without_the_body(sqlite_store: Store, mode: str, reason: str) -> None:
    _texts(sqlite_store, ["good", "bad"])
    with serve(LSHandler, mode=mode) as srv:
        r = _run(sqlite_store, srv.url, timeout_s=0.5, max_response_bytes=1024)
    if mode == "short":  # one-task batches (the per-item retry) are answered with zero predictions
        reason = "returned 0 predictions for 1 tasks"
    assert r.failed == 2 and r.suggestions == 0 and r.retried_batches == 1
    assert all(reason in e.reason for e in r.errors), r.errors
    assert all(SECRET not in e.reason for e in r.errors)


def test_one_crashing_item_does_not_sink_the_batch(sqlite_store: Store) -> None:
    ids = _texts(sqlite_store, ["good", "crashme", "bad", "good one"])
    with serve(LSHandler, mode="item_crash") as srv:
        r = _run(sqlite_store, srv.url)
    assert (r.suggestions, r.failed, r.retried_batches) == (3, 1, 1)
    assert r.errors[0].source == f"item {ids['crashme']}" and SECRET not in r.errors[0].reason


def test_images_are_sent_as_data_uris(sqlite_store: Store) -> None:
    make_project(sqlite_store, "p", IMAGE_SCHEMA)
    add_items(sqlite_store, "p", "image", [image_ref(sqlite_store, blob_image(200, 0))])
    with serve(LSHandler) as srv:
        r = _run(sqlite_store, srv.url, media=["image"])
    task = srv.calls[2][2]["tasks"][0]
    assert task["data"]["image"].startswith("data:image/png;base64,")
    # the keyword server answers 'sentiment', which the image schema lacks: a per-item error
    assert r.failed == 1 and "from_name 'sentiment' is not a control" in r.errors[0].reason


def test_factory_validates_without_connecting() -> None:
    backend = PluginManager().create_backend("http", {"url": "https://models.example.com", "media": ["text", "image"]})
    assert backend.name == "http" and backend.model_version == "remote"
    assert {m.value for m in backend.capabilities.media} == {"text", "image"}
    with pytest.raises(Exception, match="timeout_s"):
        PluginManager().create_backend("http", {"url": "https://x.example", "timeout_s": -1})


def test_cli_uses_the_admin_allow_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from labelloop.cli.main import main

    data = tmp_path / "data"
    store = Store.open(None, data)
    try:
        _texts(store, ["good", "bad"])
    finally:
        store.close()
    with serve(LSHandler) as srv:
        cfg = tmp_path / "http.json"
        cfg.write_text(json.dumps({"url": srv.url}), encoding="utf-8")
        args = ["--data-dir", str(data), "preannotate", "p", "--backend", "http", "--config", str(cfg)]
        assert main(args) == 6
        assert "loopback address" in capsys.readouterr().err
        monkeypatch.setenv("LABELLOOP_OUTBOUND_ALLOW", '["127.0.0.1"]')
        assert main(args) == 0
        assert "http@remote: 2 suggestions, 0 failed" in capsys.readouterr().out
        assert main([*args, "--engine", "spark"]) == 2
        assert "--engine: expected 'local' or 'ray'" in capsys.readouterr().err
