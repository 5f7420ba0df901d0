"""Factories of built-in backends that need a second L2 package (wired here, in L3).

The ``http`` backend converts Label Studio predictions with the Label Studio reader of
:mod:`labelloop.formats`; backends and formats are independent siblings, so the plugin layer
hands the converter in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labelloop.core.plugins import Backend

__all__ = ["create_http"]


def create_http(config: Mapping[str, Any]) -> Backend:
    """Build the ``http`` (Label Studio ML protocol) backend with the Label Studio conversions.

    Example:
        >>> create_http({"url": "https://models.example.com"}).name
        'http'
    """
    from labelloop.backends.http_ml import create
    from labelloop.formats._labelstudio_read import regions_from_results
    from labelloop.formats.labelstudio import label_config

    return create(config, to_regions=regions_from_results, label_config=label_config)
