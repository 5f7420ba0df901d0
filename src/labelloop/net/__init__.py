"""L1 outbound networking: an SSRF-safe HTTP client for model endpoints, webhooks and URL imports.

Everything that calls a user-configured URL goes through :func:`guarded_client`; see
:mod:`labelloop.net.ssrf`. ``httpx`` is imported by that module only (the ``remote`` extra).
"""

from __future__ import annotations

__all__: list[str] = []
