"""The policy every outbound request of the portal passes (the BC and Dataverse clients and msal's requests alike).

A connection setup holds URLs typed by an administrator; without this policy the portal could be used to reach
services on its own network (server-side request forgery, OWASP "Server Side Request Forgery Prevention Cheat Sheet").
Rules:

* the scheme is ``https``; ``http`` only for an allow-listed host and port (the loopback emulators of the demo);
* the URL carries no user name or password (``https://user:pass@host``) — credentials belong in the connection
  setup's encrypted fields;
* the host resolves only to public addresses: no private (RFC 1918, RFC 4193), loopback, link-local, multicast,
  reserved or unspecified address, nor one of those wrapped in an IPv6 form (IPv4-mapped ``::ffff:a.b.c.d``,
  6to4 ``2002::/16`` — RFC 3056, NAT64 ``64:ff9b::/96`` — RFC 6052, Teredo ``2001::/32`` — RFC 4380) — unless the
  host *and port* are listed in the setting ``OUTBOUND_ALLOWED_HOSTS``: ``"host:port"`` allows that port,
  a bare ``"host"`` only the scheme's default port (443 for https, 80 for http);
* the connection is made to the address that was checked (:func:`checked_address`; the HTTP adapter of
  :mod:`connections.clients.transport` pins it), so DNS cannot answer differently between check and connect;
* redirects are not followed (the transport sends ``allow_redirects=False``).

A host that does not resolve passes the address rule: the request then fails with a ``"dns"`` layer error that tells
the administrator to check the host name.
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from connections.clients.errors import OutboundURLRejected

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS = {"https": 443, "http": 80}
#: NAT64 well-known prefix (RFC 6052): the last 32 bits are an IPv4 address.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class CheckedTarget:
    """Where a checked URL may be sent: ``host`` (lower case, no brackets), ``port`` and, when the host resolved,
    the ``address`` to connect to (``None`` for an allow-listed host, which is resolved normally, or a host that
    does not resolve)."""

    host: str
    port: int
    address: str | None


def _allowed() -> set[tuple[str, int | None]]:
    """``OUTBOUND_ALLOWED_HOSTS`` as (host, port) pairs; port ``None`` = the scheme's default port."""
    pairs: set[tuple[str, int | None]] = set()
    for entry in getattr(settings, "OUTBOUND_ALLOWED_HOSTS", []) or []:
        entry = entry.strip().lower()
        if not entry:
            continue
        host, port = entry, None
        if entry.startswith("["):  # [v6]:port
            host, _, rest = entry[1:].partition("]")
            port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
        elif entry.count(":") == 1:
            name, _, text = entry.partition(":")
            if text.isdigit():
                host, port = name, int(text)
        pairs.add((host.strip("[]"), port))
    return pairs


def is_allowed(host: str, port: int, scheme: str) -> bool:
    """Whether ``host:port`` is allow-listed in ``OUTBOUND_ALLOWED_HOSTS`` (a bare host: the default port only)."""
    pairs = _allowed()
    return (host, port) in pairs or ((host, None) in pairs and port == DEFAULT_PORTS.get(scheme))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, 6to4, NAT64, Teredo server and client)."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.teredo is not None:
        found.extend(address.teredo)
    return found


def forbidden_kind(address: IPAddress) -> str | None:
    """Name the kind of non-public address ("loopback", "private", "6to4 form of loopback", ...), or ``None``."""
    if isinstance(address, ipaddress.IPv6Address):
        for inner in _embedded_ipv4(address):
            kind = forbidden_kind(inner)
            if kind:
                return kind if address.ipv4_mapped is not None else f"{kind} (inside an IPv6 form)"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    if address.is_private:
        return "private"
    if address.is_reserved or not address.is_global:
        return "reserved"
    return None


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []
    addresses: list[IPAddress] = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone id
        addresses.append(ipaddress.ip_address(text))
    return addresses


def checked_address(url: str) -> CheckedTarget:
    """Apply the policy of the module doc to ``url`` and return where to connect.

    Resolves the host once (``socket.getaddrinfo``); every address must be public, and the first is returned for
    the connection. Raises :class:`OutboundURLRejected`: its message names the rule broken (never the URL's
    credentials) and its ``fix`` says what to change.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise OutboundURLRejected(f"The URL {url!r} is not valid: {exc}.", url=url,
                                  fix="Enter a URL such as https://contoso.crm.dynamics.com.") from None
    scheme = parts.scheme.lower()
    if parts.username is not None or parts.password is not None:
        # Never echo the URL itself: it contains the credentials.
        raise OutboundURLRejected(
            "The URL contains a user name or password; credentials in URLs are not allowed.",
            fix="Remove the user name and password from the URL and enter them in the connection setup's "
            "credential fields.")
    if scheme not in DEFAULT_PORTS:
        raise OutboundURLRejected(
            f"The URL {url!r} uses the scheme {scheme or '(none)'!r}; only https is allowed.", url=url,
            fix="Enter a URL that starts with https://.")
    host = (parts.hostname or "").lower()
    if not host:
        raise OutboundURLRejected(f"The URL {url!r} has no host name.", url=url,
                                  fix="Enter a URL such as https://contoso.crm.dynamics.com.")
    port = port or DEFAULT_PORTS[scheme]
    if is_allowed(host, port, scheme):
        return CheckedTarget(host, port, None)
    if scheme != "https":
        raise OutboundURLRejected(
            f"The URL {url!r} uses http; only https is allowed (http only for a host and port listed in "
            "OUTBOUND_ALLOWED_HOSTS).", url=url, fix="Enter a URL that starts with https://.")
    addresses = _resolve(host, port)
    for address in addresses:
        kind = forbidden_kind(address)
        if kind:
            raise OutboundURLRejected(
                f"The host {host} of {url!r} resolves to the {kind} address {address}; outbound calls to "
                f"non-public addresses are not allowed.", url=url,
                fix=f"Use the service's public URL, or, if {host}:{port} is a trusted internal service, add "
                f"\"{host}:{port}\" to the OUTBOUND_ALLOWED_HOSTS setting.")
    return CheckedTarget(host, port, str(addresses[0]) if addresses else None)


def check_outbound_url(url: str) -> None:
    """Raise :class:`OutboundURLRejected` unless ``url`` may be called from this server (see
    :func:`checked_address`, which also tells where to connect)."""
    checked_address(url)


def same_origin(url: str, base_url: str) -> bool:
    """True when ``url`` has the scheme, host and port of ``base_url`` (used for server-sent ``@odata.nextLink``
    and ``@odata.deltaLink`` values, so that a response can never steer the client to another host)."""
    def origin(text: str) -> tuple[str, str, int | None]:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme)

    return origin(url) == origin(base_url)
