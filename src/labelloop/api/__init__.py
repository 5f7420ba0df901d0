"""L4 HTTP API and the pages of the web viewer."""

from __future__ import annotations

from labelloop.api.app import create_app

__all__ = ["create_app"]
