from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint

import pytest

from labelloop.errors import InvalidSchema, PluginError
from labelloop.plugins import GROUP, PluginManager


def test_builtins_come_from_the_entry_point_group() -> None:
    pm = PluginManager()
    assert "builtin" in pm.plugins or pm.backend_names()  # loads on first use
    assert "builtin" in pm.plugins and not pm.broken


def test_miss_lists_available_and_broken() -> None:
    eps = [
        EntryPoint("builtin", "labelloop.plugins.builtin", GROUP),
        EntryPoint("ghost", "no_such_module_xyz", GROUP),
    ]
    pm = PluginManager(entry_points=eps)
    with pytest.raises(PluginError) as exc:
        pm.create_backend("text.rulez")
    msg = str(exc.value)
    assert "no backend 'text.rulez'; available: " in msg
    assert all(name in msg for name in ("image.classify", "pointcloud.cuboids", "text.rules", "audio.segments"))
    assert "broken plugin 'ghost'" in msg and "ModuleNotFoundError" in msg


def test_third_party_backend_and_duplicates() -> None:
    pm = PluginManager(entry_points=[EntryPoint("builtin", "labelloop.plugins.builtin", GROUP)])

    def dup(register):  # type: ignore[no-untyped-def]
        register("text.rules", lambda config: None)

    pm.register_module("dup", register_backends=dup)
    assert "register_backends failed" in pm.broken["dup"] and "already registered" in pm.broken["dup"]

    def wrong(register):  # type: ignore[no-untyped-def]
        register("my.thing", lambda config: object())

    pm.register_module("wrong", register_backends=wrong)
    with pytest.raises(PluginError, match="not a Backend"):
        pm.create_backend("my.thing")


def test_config_errors_pass_through() -> None:
    with pytest.raises(InvalidSchema, match=r"text\.rules config"):
        PluginManager().create_backend("text.rules", {"rules": []})


def test_nothing_loads_at_import_time() -> None:
    code = (
        "import sys, labelloop.plugins, labelloop.backends, labelloop.services.preannotate;"
        "bad = [m for m in ('sklearn', 'skimage', 'scipy', 'labelloop.backends.text_rules',"
        " 'labelloop.backends.pointcloud_cuboids', 'labelloop.plugins.builtin') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
