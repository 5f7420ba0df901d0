"""The UI ships inside the package as plain ES modules: no inline script, no HTML sinks, every
import resolves, three.js keeps its licence. (No browser needed.)"""

from __future__ import annotations

import re
from pathlib import Path

from tests.ui.conftest import STATIC

IMPORT = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["']([^"']+)["']""")


def _own_js() -> list[Path]:
    return sorted(p for p in (STATIC / "js").rglob("*.js"))


def test_index_has_no_inline_script_or_handlers() -> None:
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts and all('src="/static/' in attrs and not body.strip() for attrs, body in scripts)
    assert not re.search(r"\son[a-z]+\s*=", html)


def test_every_import_resolves() -> None:
    files = [*_own_js(), STATIC / "vendor" / "OrbitControls.js"]
    for f in files:
        for spec in IMPORT.findall(f.read_text(encoding="utf-8")):
            assert spec.startswith((".", "/static/")), f"{f.name}: bare import {spec!r} needs a build step"
            target = (STATIC / spec.removeprefix("/static/")) if spec.startswith("/") else (f.parent / spec)
            assert target.resolve().is_file(), f"{f.name}: {spec!r} does not exist"


def test_no_html_sinks_in_own_code() -> None:
    sinks = re.compile(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(")
    for f in _own_js():
        code = "\n".join(
            line for line in f.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("//")
        )
        assert not sinks.search(code), f"{f.name} writes HTML from strings"


def test_three_is_vendored_with_its_licence() -> None:
    vendor = STATIC / "vendor"
    assert "MIT License" in (vendor / "LICENSE.three").read_text(encoding="utf-8")
    assert (vendor / "three.module.min.js").stat().st_size < 1_000_000
    assert "from './three.module.min.js'" in (vendor / "OrbitControls.js").read_text(encoding="utf-8")
