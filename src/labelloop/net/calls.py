"""JSON calls to user-configured endpoints: SSRF guard, timeouts, size cap, rate limit, retries.

:class:`JsonEndpoint` is what backends use to talk to model servers. Transient failures
(timeouts, connection errors, 408/425/429/5xx) are retried with exponential backoff and jitter,
``Retry-After`` honoured up to 30 s. Errors are :class:`EndpointError` whose message names only
the status code or the failure kind: the endpoint's response body is never put into a message
(it could reflect internal data, the semi-blind SSRF oracle), nor is the URL's query.

Example:
    >>> ep = JsonEndpoint("https://93.184.216.34/v1", OutboundPolicy())
    >>> ep.url_for("/predict")
    'https://93.184.216.34/v1/predict'
    >>> ep.close()
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from labelloop.net.ssrf import OutboundPolicy, OutboundRefused, ResponseTooLarge, guarded_client, read_capped

__all__ = ["EndpointError", "JsonEndpoint", "RateLimiter", "RetryPolicy"]

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 30.0


class EndpointError(Exception):
    """A model endpoint failed; the message is safe to show (no response body)."""


class RateLimiter:
    """At most ``per_s`` calls per second (a minimum interval; thread-safe). 0 means no limit.

    Example:
        >>> r = RateLimiter(0); r.wait(); r.wait()
    """

    def __init__(self, per_s: float) -> None:
        self.interval = 1.0 / per_s if per_s > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Sleep until the next call is allowed."""
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next)
            self._next = at + self.interval
        if at > now:
            time.sleep(at - now)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Timeouts, caps and retries of one endpoint."""

    timeout_s: float = 60.0
    connect_timeout_s: float = 5.0
    retries: int = 3
    backoff_s: float = 0.5
    requests_per_s: float = 0.0
    max_response_bytes: int = 2 * 1024**2


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return min(MAX_RETRY_AFTER_S, max(0.0, float(value)))
    except ValueError:
        return None


class JsonEndpoint:
    """A base URL called with JSON through the SSRF guard.

    Args:
        base_url: ``http(s)://host[:port][/prefix]``; checked against ``policy`` now and at
            every connect.
        policy: The outbound policy (admin allow-list).
        retry: Timeouts, caps and retries.
        headers: Extra headers (e.g. ``Authorization``), dropped on cross-origin redirects.

    Raises:
        OutboundRefused: the URL's scheme or host is refused.
    """

    def __init__(
        self,
        base_url: str,
        policy: OutboundPolicy,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        policy.check_url(self.base_url)
        timeout = httpx.Timeout(self.retry.timeout_s, connect=self.retry.connect_timeout_s)
        self._client = guarded_client(policy, timeout=timeout, headers=dict(headers or {}))
        self._limiter = RateLimiter(self.retry.requests_per_s)
        self.retries_used = 0

    def url_for(self, path: str) -> str:
        """The absolute URL of ``path`` under the base URL."""
        return self.base_url + "/" + path.lstrip("/")

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """Send ``body`` as JSON, return the decoded JSON answer.

        Raises:
            EndpointError: non-retryable status, too many failures, too large or not JSON.
            OutboundRefused: the target (or a redirect) is refused by the SSRF guard.
        """
        r = self.retry
        url = self.url_for(path)
        last = "no attempt"
        for attempt in range(r.retries + 1):
            if attempt:
                self.retries_used += 1
            self._limiter.wait()
            wait: float | None = None
            try:
                with self._client.stream(method, url, json=body) as resp:
                    if resp.status_code in RETRY_STATUSES:
                        last = f"the endpoint answered HTTP {resp.status_code}"
                        wait = _retry_after(resp.headers.get("retry-after"))
                    elif resp.status_code >= 400:
                        raise EndpointError(f"the endpoint answered HTTP {resp.status_code}")
                    else:
                        raw = read_capped(resp, r.max_response_bytes, deadline_s=r.timeout_s)
                        try:
                            return json.loads(raw)
                        except ValueError:
                            raise EndpointError("the endpoint's answer is not JSON") from None
            except httpx.TooManyRedirects:
                raise EndpointError("the endpoint redirected too often") from None
            except httpx.TimeoutException:
                last = "the endpoint timed out"
            except httpx.TransportError:
                last = "the endpoint is unreachable"
            except ResponseTooLarge as exc:
                raise EndpointError(f"the endpoint's answer was refused: {exc}") from None
            except OutboundRefused:
                raise
            if attempt < r.retries:
                time.sleep(wait if wait is not None else r.backoff_s * 2**attempt * (1 + random.random() / 4))
        raise EndpointError(f"{last} ({r.retries + 1} attempts)")

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()
