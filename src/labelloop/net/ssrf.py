"""SSRF guard: refuse private, loopback, link-local, multicast and reserved targets at connect time.

A user-configured URL (model server, LLM endpoint, webhook) must not reach the server's own
network: cloud metadata (``169.254.169.254``), loopback services, the LAN. Checking the URL when
it is saved is not enough (DNS can answer differently later, *DNS rebinding*, and a public URL
can redirect to a private one), so the check runs where the socket is opened:

* :class:`GuardedBackend` is an ``httpcore`` network backend that resolves the host itself,
  refuses the connection when **any** resolved address is not allowed, and connects to the
  vetted address (never resolving twice). TLS still verifies the original host name.
* :func:`guarded_client` builds an ``httpx.Client`` on it: proxies from the environment are
  ignored (a proxy would hide the target), every redirect hop goes through the same connect
  check and may only use ``http``/``https``; ``httpx`` drops ``Authorization`` on cross-origin
  redirects.
* :func:`read_capped` reads a streamed response with a byte cap and a wall-clock deadline (a
  server that trickles bytes forever defeats a read timeout).

Refused: every address that is not globally routable (:attr:`ipaddress.IPv4Address.is_global`
false: private, loopback, link-local, shared, reserved, documentation, unspecified), multicast,
and IPv4-mapped / 6to4 / Teredo IPv6 forms of those. An admin allow-list (``Settings.
outbound_allow``: IPs, CIDR networks or exact host names) lets chosen targets through, e.g. a
model server on the LAN. Numeric tricks (``2130706433``, ``0x7f000001``, ``127.1``) are resolved
by the system resolver like any name and then refused like ``127.0.0.1``.

Example:
    >>> policy = OutboundPolicy.from_allow(["10.0.0.0/8"])
    >>> policy.refusal("10.1.2.3") is None, policy.refusal("127.0.0.1")
    (True, '127.0.0.1 is a loopback address')
    >>> OutboundPolicy().refusal("::ffff:169.254.169.254")
    '::ffff:169.254.169.254 is a link-local address'
"""

from __future__ import annotations

import ipaddress
import socket
import time
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpcore
import httpx

from labelloop.errors import PermissionDenied

__all__ = [
    "DEFAULT_MAX_BYTES",
    "GuardedBackend",
    "GuardedTransport",
    "OutboundPolicy",
    "OutboundRefused",
    "ResponseTooLarge",
    "allow_entries",
    "guarded_client",
    "read_capped",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_MAX_BYTES = 8 * 1024**2
_SCHEMES = frozenset({"http", "https"})


class OutboundRefused(PermissionDenied):
    """An outbound connection to a refused address or scheme."""


class ResponseTooLarge(Exception):
    """A response body went over its byte cap, or did not finish before its deadline."""


def _kind(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public unicast address (None when it is)."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is not None:
            return _kind(inner)
    for attr, what in (
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_unspecified", "unspecified"),
        ("is_private", "private"),
        ("is_reserved", "reserved"),
    ):
        if getattr(ip, attr):
            return what
    if not ip.is_global:
        return "non-global"
    return None


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """Which targets outbound calls may reach beyond the public internet.

    Attributes:
        networks: Allowed IP networks (an IP is a /32 or /128).
        hosts: Allowed host names (exact, lower case); their resolved addresses are allowed.
    """

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_allow(cls, allow: Iterable[str]) -> OutboundPolicy:
        """Build a policy from allow-list entries (IPs, CIDRs, host names).

        Raises:
            ValueError: an empty entry.

        Example:
            >>> OutboundPolicy.from_allow(["127.0.0.1", "models.lan"]).hosts
            frozenset({'models.lan'})
        """
        nets: list[IPNetwork] = []
        hosts: set[str] = set()
        for raw in allow:
            entry = raw.strip().strip("[]").lower()
            if not entry:
                raise ValueError("empty outbound allow-list entry")
            try:
                nets.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry)
        return cls(tuple(nets), frozenset(hosts))

    def refusal(self, address: str, host: str | None = None) -> str | None:
        """Why connecting to ``address`` (resolved from ``host``) is refused; None when allowed."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if host is not None and host.lower().rstrip(".") in self.hosts:
            return None
        if any(ip.version == n.version and ip in n for n in self.networks):
            return None
        kind = _kind(ip)
        return None if kind is None else f"{address} is a {kind} address"

    def resolve(self, host: str, port: int) -> list[str]:
        """Resolve ``host`` and return its addresses, all of them allowed.

        Raises:
            OutboundRefused: the name does not resolve, or one of its addresses is refused.

        Example:
            >>> OutboundPolicy.from_allow(["127.0.0.0/8"]).resolve("127.0.0.1", 80)
            ['127.0.0.1']
        """
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise OutboundRefused(f"outbound call refused: cannot resolve host {host!r}") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:
            why = self.refusal(address, host)
            if why is not None:
                raise OutboundRefused(f"outbound call to {host!r} refused: {why} (not in the allow-list)")
        if not addresses:
            raise OutboundRefused(f"outbound call refused: host {host!r} has no address")
        return addresses

    def check_url(self, url: str) -> None:
        """Refuse a URL with another scheme than http(s), no host, or a refused address.

        Use it when a URL is saved; the connect-time check still runs on every request.

        Raises:
            OutboundRefused: with the reason.

        Example:
            >>> OutboundPolicy().check_url("file:///etc/passwd")
            Traceback (most recent call last):
            ...
            labelloop.net.ssrf.OutboundRefused: outbound call refused: scheme 'file' (only http, https)
        """
        parts = urlsplit(url)
        if parts.scheme.lower() not in _SCHEMES:
            raise OutboundRefused(f"outbound call refused: scheme {parts.scheme!r} (only http, https)")
        try:
            host, port = parts.hostname, parts.port
        except ValueError:
            raise OutboundRefused("outbound call refused: malformed URL") from None
        if not host:
            raise OutboundRefused("outbound call refused: the URL has no host")
        self.resolve(host, port or (443 if parts.scheme.lower() == "https" else 80))


class GuardedBackend(httpcore.NetworkBackend):
    """An ``httpcore`` network backend that vets every address before connecting to it."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Resolve ``host`` once, refuse if any address is not allowed, connect to a vetted one."""
        last: Exception | None = None
        for address in self.policy.resolve(host, port):
            try:
                return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        assert last is not None
        raise last

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Unix sockets are local by definition: refused."""
        raise OutboundRefused("outbound call refused: unix sockets are not allowed")

    def sleep(self, seconds: float) -> None:
        """Delegate to the default backend."""
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """``httpx`` transport whose connections go through :class:`GuardedBackend`."""

    def __init__(self, policy: OutboundPolicy, *, max_connections: int = 10) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(policy),
        )


def _check_scheme(request: httpx.Request) -> None:
    if request.url.scheme not in _SCHEMES:
        raise OutboundRefused(f"outbound call refused: scheme {request.url.scheme!r} (only http, https)")


def guarded_client(
    policy: OutboundPolicy,
    *,
    timeout: httpx.Timeout | float = 30.0,
    max_redirects: int = 5,
    headers: dict[str, str] | None = None,
) -> httpx.Client:
    """An ``httpx.Client`` whose every connection (redirects included) passes ``policy``.

    Example:
        >>> with guarded_client(OutboundPolicy()) as c:
        ...     c.get("http://127.0.0.1:9/")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        labelloop.net.ssrf.OutboundRefused: outbound call to '127.0.0.1' refused: 127.0.0.1 is a loopback ...
    """
    return httpx.Client(
        transport=GuardedTransport(policy),
        timeout=timeout,
        follow_redirects=True,
        max_redirects=max_redirects,
        trust_env=False,
        headers=headers,
        event_hooks={"request": [_check_scheme]},
    )


def read_capped(response: httpx.Response, max_bytes: int = DEFAULT_MAX_BYTES, deadline_s: float = 60.0) -> bytes:
    """Read a streamed response body, at most ``max_bytes`` and before ``deadline_s`` seconds.

    Raises:
        ResponseTooLarge: the body (or its declared length) is over the cap, or too slow.

    Example:
        >>> r = httpx.Response(200, content=b"x" * 10)
        >>> read_capped(r, 4)
        Traceback (most recent call last):
        ...
        labelloop.net.ssrf.ResponseTooLarge: response body over 4 bytes
    """
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLarge(f"response body over {max_bytes} bytes")
    end = time.monotonic() + deadline_s
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if total > max_bytes:
            raise ResponseTooLarge(f"response body over {max_bytes} bytes")
        if time.monotonic() > end:
            raise ResponseTooLarge(f"response body not complete after {deadline_s:g} s")
        chunks.append(chunk)
    return b"".join(chunks)


def allow_entries(values: Sequence[str] | str | None) -> list[str]:
    """Normalise an allow-list option (a list, or a comma-separated string) to entries.

    Example:
        >>> allow_entries("127.0.0.1, models.lan")
        ['127.0.0.1', 'models.lan']
    """
    if values is None:
        return []
    items = values.split(",") if isinstance(values, str) else list(values)
    return [v.strip() for v in items if v.strip()]
