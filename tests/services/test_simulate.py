from __future__ import annotations

import doctest

import labelloop.services.routing as routing_mod
import labelloop.services.simulate as simulate_mod
from labelloop.cli.main import main
from labelloop.services.simulate import SimConfig, simulate


def test_docstring_examples_run() -> None:
    for m in (routing_mod, simulate_mod):
        assert doctest.testmod(m, optionflags=doctest.ELLIPSIS).failed == 0


def test_active_loop_on_a_digits_subset() -> None:
    cfg = SimConfig(budget=80, initial=20, batch=20, audit_size=150, audit_floor=0.5)
    r = simulate("digits", "active", config=cfg, n_items=500, seed=1)
    assert r.rounds >= 1 and 0 < r.time_fraction < 1.0
    assert r.accuracy > 0.9 and r.certificate is not None
    assert sum(r.certificate.tiers.values()) == 500 - 80


def test_cli_runs(capsys: object) -> None:
    assert main(["simulate", "--strategy", "manual"]) == 0
