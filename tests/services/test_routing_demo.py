from __future__ import annotations

import doctest
import json
from pathlib import Path

import labelloop.services.routing_demo as routing_demo_mod
from labelloop.services.routing_demo import routing_demo
from labelloop.services.simulate import SimConfig


def test_docstring_example_runs() -> None:
    assert doctest.testmod(routing_demo_mod).failed == 0


def test_routing_demo_reports_tiers_and_writes_the_certificate(tmp_path: Path) -> None:
    lines: list[tuple[str, str]] = []
    cert = routing_demo(lambda name, detail: lines.append((name, detail)), tmp_path)
    assert cert is not None and cert.holds and cert.threshold is not None
    assert sum(cert.tiers.values()) == 1797 - SimConfig().budget and cert.tiers["auto"] > 800
    text = "\n".join(d for _, d in lines)
    assert f"auto-accept {cert.tiers['auto']}" in text and "per class: 0:" in text
    saved = json.loads((tmp_path / "routing-certificate.json").read_text(encoding="utf-8"))
    assert saved["holds"] is True and saved["audited"] == cert.audited
