"""One sample set per test session: writing it takes a few seconds."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from labelloop.services.samples import SampleSet, write_samples


@dataclass(frozen=True)
class Written:
    samples: SampleSet
    seconds: float


@pytest.fixture(scope="session")
def written(tmp_path_factory: pytest.TempPathFactory) -> Written:
    dest = tmp_path_factory.mktemp("samples")
    start = time.perf_counter()
    samples = write_samples(dest, seed=0)
    return Written(samples, time.perf_counter() - start)


@pytest.fixture(scope="session")
def samples(written: Written) -> SampleSet:
    return written.samples


@pytest.fixture(scope="session")
def lines(samples: SampleSet) -> dict[str, list[dict[str, Any]]]:
    """Each project's manifest, parsed: project name -> list of line objects."""
    return {p.name: [orjson.loads(raw) for raw in p.source.read_bytes().splitlines()] for p in samples}
