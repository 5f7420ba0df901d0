"""``labelloop calibrate``: fits on a real store and prints ECE; refusals are one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labelloop.cli.main import main
from labelloop.storage import Store
from tests.services.test_calibrate import _project


def test_calibrate_prints_ece_and_refuses_too_few(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    rng = np.random.default_rng(0)
    p = rng.uniform(0.4, 1.0, 60)
    store = Store.open(None, data)
    try:
        _project(store, 60, p**0.3, rng.random(60) < p)
    finally:
        store.close()
    code = main(["--data-dir", str(data), "calibrate", "p", "--backend", "m", "--method", "temperature"])
    out, _ = capsys.readouterr()
    assert code == 0 and "temperature on 60 reviewed items" in out and "ECE" in out and "5-fold" in out
    assert (data / "calibration").is_dir()
    code = main(["--data-dir", str(data), "calibrate", "p", "--backend", "m", "--min-pairs", "100"])
    _, err = capsys.readouterr()
    assert code == 2 and "error[LL-INPUT]" in err and "at least 100 reviewed items" in err
