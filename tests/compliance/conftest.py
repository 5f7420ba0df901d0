from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def presidio_analyzer() -> Iterator[Any]:
    """One Presidio engine per test session (building one takes seconds)."""
    from labelloop.compliance.pii import build_presidio_analyzer

    yield build_presidio_analyzer()
