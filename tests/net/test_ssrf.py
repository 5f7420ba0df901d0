"""SSRF guard: refused targets at save and at connect time, redirects, rebinding, caps, safe errors."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from labelloop.net.calls import EndpointError, JsonEndpoint, RetryPolicy
from labelloop.net.ssrf import OutboundPolicy, OutboundRefused, guarded_client
from tests.backends.servers import SECRET, LSHandler, RedirectHandler, serve

LOOPBACK = OutboundPolicy.from_allow(["127.0.0.1"])


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("169.254.169.254", "link-local"),
        ("10.0.0.5", "private"),
        ("192.168.1.1", "private"),
        ("172.16.0.1", "private"),
        ("100.64.0.1", "non-global"),
        ("127.0.0.1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "private"),  # 240/4: Python counts it as private (reserved)
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:7f00:1::", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("ff02::1", "multicast"),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_address_table(address: str, kind: str | None) -> None:
    why = OutboundPolicy().refusal(address)
    assert (why is None) == (kind is None)
    if kind:
        assert why == f"{address} is a {kind} address"


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:8080/",
        "http://[::1]:8080/",
        "http://2130706433/",  # decimal 127.0.0.1
        "http://0x7f000001/",  # hex 127.0.0.1
        "http://127.1/",
        "http://10.0.0.5/",
        "http://localhost/",  # a name that resolves to loopback
        "http://[::ffff:127.0.0.1]/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
        "http:///nohost",
    ],
)
def test_refused_at_save(url: str) -> None:
    with pytest.raises(OutboundRefused):
        OutboundPolicy().check_url(url)


@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/", "http://2130706433/", "http://[::1]:1/", "http://localhost:1/", "http://10.0.0.5/"],
)
def test_refused_at_connect(url: str) -> None:
    with guarded_client(OutboundPolicy(), timeout=2) as client, pytest.raises(OutboundRefused):
        client.get(url)


def test_allow_list_lets_loopback_through_and_nothing_else() -> None:
    with serve(LSHandler) as srv:
        with guarded_client(LOOPBACK, timeout=5) as client:
            assert client.get(srv.url + "/health").json()["status"] == "UP"
        with guarded_client(OutboundPolicy(), timeout=5) as client, pytest.raises(OutboundRefused):
            client.get(srv.url + "/health")
        # allowing 127.0.0.1 does not allow the rest of 127/8 or ::1
        with guarded_client(LOOPBACK, timeout=5) as client, pytest.raises(OutboundRefused):
            client.get(srv.url.replace("127.0.0.1", "127.0.0.2") + "/health")


@pytest.mark.parametrize(
    "target", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.5/", "http://[::1]:1/", "http://127.0.0.2:1/"]
)
def test_redirect_to_private_refused(target: str) -> None:
    with serve(RedirectHandler, target=target) as srv, guarded_client(LOOPBACK, timeout=5) as client:
        with pytest.raises(OutboundRefused):
            client.get(srv.url + "/start")
        assert len(srv.calls) == 1


def test_redirect_to_other_scheme_refused() -> None:
    with serve(RedirectHandler, target="file:///etc/passwd") as srv, guarded_client(LOOPBACK, timeout=5) as client:
        with pytest.raises(Exception) as info:
            client.get(srv.url + "/start")
        assert "file" in str(info.value).lower() or "scheme" in str(info.value).lower()


def test_dns_rebinding_blocked_at_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    """The name resolves public when the URL is saved, loopback when connecting: refused."""
    real = socket.getaddrinfo
    answers = iter(["93.184.216.34", "127.0.0.1", "127.0.0.1"])

    def fake(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.example":
            ip = next(answers)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    OutboundPolicy().check_url("http://rebind.example/")  # saved: public
    with guarded_client(OutboundPolicy(), timeout=2) as client, pytest.raises(OutboundRefused, match="loopback"):
        client.get("http://rebind.example/")


def test_mixed_answers_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """One private address among public ones is enough to refuse."""

    def fake(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in ("93.184.216.34", "10.0.0.1")]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    with pytest.raises(OutboundRefused, match="private"):
        OutboundPolicy().resolve("mixed.example", 80)


def test_endpoint_errors_never_echo_the_body() -> None:
    with serve(LSHandler, mode="crash") as srv:
        ep = JsonEndpoint(srv.url, LOOPBACK, RetryPolicy(retries=1, backoff_s=0))
        with pytest.raises(EndpointError) as info:
            ep.call("POST", "/predict", {"tasks": []})
        ep.close()
    assert "HTTP 500" in str(info.value) and SECRET not in str(info.value)
    assert len(srv.calls) == 2  # one retry


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("garbage", "not JSON"), ("huge", "over 4096 bytes"), ("hang", "timed out")],
)
def test_endpoint_caps(mode: str, expected: str) -> None:
    with serve(LSHandler, mode=mode) as srv:
        ep = JsonEndpoint(srv.url, LOOPBACK, RetryPolicy(timeout_s=0.5, retries=0, max_response_bytes=4096))
        with pytest.raises(EndpointError, match=expected) as info:
            ep.call("POST", "/predict", {"tasks": [{"id": 1, "data": {"text": "x"}}]})
        ep.close()
    assert SECRET not in str(info.value)
