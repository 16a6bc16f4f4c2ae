"""Minimal threaded HTTPS server core shared by the three emulators.

The emulators answer on ONE loopback host:port over TLS (msal accepts only ``https`` authorities: Microsoft Learn
"Application configuration options", section "Authority").  The stdlib :class:`http.server.ThreadingHTTPServer` is
used with HTTP/1.1 keep-alive so that ``requests.Session`` clients reuse connections; each connection is served by
its own thread and the TLS handshake runs in that thread, not in the accept loop.

Shapes:

* :class:`Request` - method, raw path, decoded path segments, query parameters (``dict`` of
  ``str`` -> ``str``, last value wins, decoded by :func:`parse_query`: ``+`` is a space), case-insensitive headers,
  body bytes.
* :class:`Response` - status, header list, body bytes.  ``Response.drop`` asks the server to
  close the TCP connection without answering (the "dropped connection" fault).
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import traceback
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

JSON_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"


class Headers:
    """Case-insensitive header mapping (names are compared lower-case)."""

    def __init__(self, items: list[tuple[str, str]] | None = None) -> None:
        self._d: dict[str, str] = {}
        for k, v in items or []:
            self._d[k.lower()] = v

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._d.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._d

    def __setitem__(self, name: str, value: str) -> None:
        self._d[name.lower()] = value

    def items(self) -> list[tuple[str, str]]:
        return list(self._d.items())


@dataclass
class Request:
    """One HTTP request as seen by the emulators (also used for ``$batch`` inner requests)."""

    method: str
    path: str
    query: dict[str, str]
    headers: Headers
    body: bytes = b""
    raw_query: str = ""
    origin: str = ""

    @property
    def segments(self) -> list[str]:
        return [urllib.parse.unquote(s) for s in self.path.strip("/").split("/") if s != ""]

    def json(self) -> Any:
        """Parse the body as JSON; raises ``ValueError`` on malformed JSON."""
        if not self.body:
            return None
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Response:
    """An HTTP response; ``drop=True`` closes the connection instead of answering."""

    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


def json_response(status: int, payload: Any, headers: list[tuple[str, str]] | None = None,
                  content_type: str = JSON_TYPE) -> Response:
    """Build a JSON response (compact separators, UTF-8)."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hdrs = [("Content-Type", content_type)]
    hdrs.extend(headers or [])
    return Response(status, body, hdrs)


def parse_query(raw: str) -> dict[str, str]:
    """Decode a query string into a dict (last value wins) as ``application/x-www-form-urlencoded``: ``+`` is a space
    and ``%2B`` a literal plus (WHATWG URL Standard, "application/x-www-form-urlencoded parsing"; RFC 3986 section
    2.1 for the percent-encoding). Dataverse and Business Central both read ``$filter=city+eq+'London'`` as
    ``city eq 'London'``, so a client that form-encodes its query string (``requests``' ``params=``, .NET's
    ``HttpUtility.UrlEncode``) is answered as the services answer it."""
    out: dict[str, str] = {}
    if not raw:
        return out
    for part in raw.split("&"):
        if not part:
            continue
        k, _, v = part.partition("=")
        out[urllib.parse.unquote_plus(k)] = urllib.parse.unquote_plus(v)
    return out


Handler = Callable[[Request], Response]


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""

    def setup(self) -> None:
        self.request.settimeout(120)
        # Nagle's algorithm + the client's delayed ACK cost ~40 ms per response otherwise
        try:
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        if isinstance(self.request, ssl.SSLSocket):
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError):
                self.close_connection = True
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, raw_query = self.path.partition("?")
        if path.startswith("https://") or path.startswith("http://"):
            path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
        server: EmulatorHTTPServer = self.server  # type: ignore[assignment]
        req = Request(self.command, path, parse_query(raw_query), Headers(list(self.headers.items())),
                      body, raw_query, server.origin)
        try:
            resp = server.app(req)
        except Exception as exc:  # pragma: no cover - last-resort guard
            traceback.print_exc()
            resp = json_response(500, {"error": {"code": "0x80040216", "message": f"Unexpected error: {exc}"}})
        if resp.drop:
            self.close_connection = True
            try:
                self.request.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        try:
            known = resp.status in HTTPStatus._value2member_map_
            self.send_response(resp.status, HTTPStatus(resp.status).phrase if known else "")
        except ValueError:
            self.send_response(resp.status)
        has_len = False
        for k, v in resp.headers:
            if k.lower() == "content-length":
                has_len = True
            self.send_header(k, v)
        if not has_len:
            self.send_header("Content-Length", str(len(resp.body)))
        # status line, headers and body leave in ONE send (no small-write/ACK round trip)
        self._headers_buffer.append(b"\r\n")
        if resp.body and self.command != "HEAD":
            self._headers_buffer.append(resp.body)
        self.flush_headers()

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _handle


class EmulatorHTTPServer(ThreadingHTTPServer):
    """Threaded HTTPS server calling ``app(request) -> response`` for every request."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, host: str, port: int, app: Handler, ssl_context: ssl.SSLContext) -> None:
        super().__init__((host, port), _RequestHandler)
        self.app = app
        self.socket = ssl_context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
        self.origin = ""

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def serve_in_thread(self) -> threading.Thread:
        t = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        t.start()
        return t
