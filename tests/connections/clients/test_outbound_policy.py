"""The outbound policy end to end: ports in the allow-list, IPv6 forms of internal addresses, no redirect followed,
msal's metadata-named endpoints checked, the connection pinned to the checked address, foreign bodies dropped."""
from __future__ import annotations

import json
import socket
import ssl
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

from connections.clients import BusinessCentralClient, TokenProvider
from connections.clients.errors import ClientError, OutboundURLRejected
from connections.clients.outbound import CheckedTarget, check_outbound_url
from connections.clients.transport import TimeoutSession


class _Listener:
    """A TCP listener standing for an internal service (e.g. Redis): it counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self.thread.join(1)
        self.sock.close()


@pytest.fixture
def internal_service() -> Iterator[_Listener]:
    listener = _Listener()
    yield listener
    listener.close()


def _serve(handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext | None = None) -> tuple[ThreadingHTTPServer, int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


@pytest.fixture
def ca(tmp_path: Path, settings: Any) -> trustme.CA:
    authority = trustme.CA()
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    settings.OUTBOUND_CA_BUNDLE = str(bundle)
    return authority


def _tls(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


def test_a_bare_host_allows_only_the_default_port(settings: Any) -> None:
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    check_outbound_url("https://127.0.0.1/")
    with pytest.raises(OutboundURLRejected) as caught:
        check_outbound_url("https://127.0.0.1:6379/")
    assert "loopback address" in caught.value.message
    assert '"127.0.0.1:6379"' in caught.value.fix
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1:8443", "[::1]:9443"]
    check_outbound_url("https://127.0.0.1:8443/api")
    check_outbound_url("https://[::1]:9443/")
    for url in ("https://127.0.0.1/", "https://127.0.0.1:6379/", "https://[::1]/"):
        with pytest.raises(OutboundURLRejected):
            check_outbound_url(url)


@pytest.mark.parametrize(("url", "kind"), [
    ("https://[2002:7f00:1::]/", "loopback (inside an IPv6 form)"),  # 6to4 of 127.0.0.1
    ("https://[2002:a00:1::]/", "private (inside an IPv6 form)"),  # 6to4 of 10.0.0.1
    ("https://[64:ff9b::7f00:1]/", "loopback (inside an IPv6 form)"),  # NAT64 of 127.0.0.1
    ("https://[64:ff9b::a9fe:a9fe]/", "link-local (inside an IPv6 form)"),  # NAT64 of 169.254.169.254
    ("https://[::ffff:127.0.0.1]/", "loopback"),  # IPv4-mapped
    ("https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "loopback (inside an IPv6 form)"),  # Teredo, client 127.0.0.1
])
def test_ipv6_forms_of_internal_addresses_are_refused(settings: Any, url: str, kind: str) -> None:
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1", "::1"]
    with pytest.raises(OutboundURLRejected) as caught:
        check_outbound_url(url)
    assert f"the {kind} address" in caught.value.message


def test_http_only_for_an_allow_listed_host_and_port(settings: Any) -> None:
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1:8080"]
    check_outbound_url("http://127.0.0.1:8080/")
    with pytest.raises(OutboundURLRejected) as caught:
        check_outbound_url("http://8.8.8.8/")
    assert "only https is allowed" in caught.value.message


def test_a_redirect_to_an_internal_port_is_not_followed(settings: Any, internal_service: _Listener) -> None:
    """A BC URL (on-premises, allow-listed) answering 302 to the Redis port: refused, nothing reaches that port."""
    target = f"http://127.0.0.1:{internal_service.port}/"

    class Redirecting(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server, port = _serve(Redirecting)
    try:
        settings.OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{port}"]
        client = BusinessCentralClient(f"http://127.0.0.1:{port}/BC/api/v2.0", uuid.uuid4(),
                                       basic=("user", "key"), max_concurrency=0, max_retries=0)
        with pytest.raises(ClientError) as caught:
            client.companies()
        assert "redirect" in caught.value.message and "not followed" in caught.value.message
        assert caught.value.status == 302
        assert internal_service.accepted == 0
    finally:
        server.shutdown()


def test_msal_metadata_naming_an_internal_token_endpoint_is_refused(settings: Any, ca: trustme.CA,
                                                                     internal_service: _Listener) -> None:
    """A custom authority whose OpenID metadata names an internal token endpoint: msal's request is refused by the
    same policy before any byte reaches the internal address."""
    internal = f"https://127.0.0.1:{internal_service.port}"

    class Authority(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            host = self.headers["Host"]
            body = json.dumps({
                "issuer": f"https://{host}/tenant/v2.0",
                "authorization_endpoint": f"https://{host}/tenant/oauth2/v2.0/authorize",
                "token_endpoint": f"{internal}/token",
                "device_authorization_endpoint": f"https://{host}/tenant/oauth2/v2.0/devicecode",
            }).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server, port = _serve(Authority, _tls(ca, "127.0.0.1"))
    try:
        settings.OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{port}"]
        provider = TokenProvider(authority=f"https://127.0.0.1:{port}/tenant", client_id=str(uuid.uuid4()),
                                 client_secret="secret", timeout=5)
        with pytest.raises(OutboundURLRejected) as caught:
            provider.token("https://contoso.crm.dynamics.com/.default")
        assert f"127.0.0.1:{internal_service.port}" in caught.value.message
        assert internal_service.accepted == 0
    finally:
        server.shutdown()


def test_the_connection_goes_to_the_checked_address(settings: Any, ca: trustme.CA,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: after the check, a second lookup of the name would answer an internal address; the session
    connects to the address that was checked and verifies TLS for the name."""
    seen: dict[str, str] = {}

    class Service(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen["host"] = self.headers["Host"]
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server, port = _serve(Service, _tls(ca, "bc.rebind.test"))
    real_getaddrinfo = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "bc.rebind.test":
            lookups.append(host)
            return real_getaddrinfo("10.255.255.1", *args, **kwargs)  # the internal answer
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    session = TimeoutSession(5)
    adapter = session.get_adapter("https://bc.rebind.test/")
    # The check resolved the name to a public address that, for this test, is served on loopback.
    monkeypatch.setattr(adapter, "target", lambda url: CheckedTarget("bc.rebind.test", port, "127.0.0.1"))
    try:
        response = session.get(f"https://bc.rebind.test:{port}/ping")
        assert response.status_code == 204
        assert seen["host"] == f"bc.rebind.test:{port}"
        assert lookups == []  # no second resolution of the name
    finally:
        server.shutdown()


def test_a_foreign_error_body_is_not_shown(settings: Any) -> None:
    class Leaky(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = b"<html>internal admin console: SECRET-TOKEN-123</html>"
            self.send_response(500)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server, port = _serve(Leaky)
    try:
        settings.OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{port}"]
        client = BusinessCentralClient(f"http://127.0.0.1:{port}/BC/api/v2.0", uuid.uuid4(),
                                       basic=("user", "key"), max_concurrency=0, max_retries=0)
        with pytest.raises(ClientError) as caught:
            client.companies()
        assert caught.value.status == 500
        assert "SECRET-TOKEN-123" not in str(caught.value)
        assert "no Microsoft error body" in caught.value.message
    finally:
        server.shutdown()
