"""The check every outbound URL passes before the portal sends it a request.

A connection setup holds URLs typed by an administrator; without this check the portal could be used to reach
services on its own network (server-side request forgery). Rules:

* the scheme is ``http`` or ``https``;
* the URL carries no user name or password (``https://user:pass@host``) — credentials belong in the connection
  setup's encrypted fields;
* the host resolves only to public addresses: no private (RFC 1918, RFC 4193), loopback, link-local, multicast,
  reserved or unspecified address — unless the host name (or IP literal) is listed in the setting
  ``OUTBOUND_ALLOWED_HOSTS`` (the emulators in the demo and the tests).

A host that does not resolve passes this check: the request then fails with a ``"dns"`` layer error that tells
the administrator to check the host name.
"""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from connections.clients.errors import OutboundURLRejected

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _allowed_hosts() -> set[str]:
    return {host.strip().lower().strip("[]") for host in getattr(settings, "OUTBOUND_ALLOWED_HOSTS", []) or []
            if host.strip()}


def _forbidden_kind(address: IPAddress) -> str | None:
    """Name the kind of non-public address, or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
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


def check_outbound_url(url: str) -> None:
    """Raise :class:`OutboundURLRejected` unless ``url`` may be called from this server (rules in the module doc).

    The exception's message names the rule broken and its ``fix`` says what to change. Host names are resolved
    (``socket.getaddrinfo``) and every address they resolve to must be public.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise OutboundURLRejected(f"The URL {url!r} is not valid: {exc}.", url=url,
                                  fix="Enter a URL such as https://contoso.crm.dynamics.com.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise OutboundURLRejected(
            f"The URL {url!r} uses the scheme {scheme or '(none)'!r}; only http and https are allowed.", url=url,
            fix="Enter a URL that starts with https://.")
    if parts.username is not None or parts.password is not None:
        # Never echo the URL itself: it contains the credentials.
        raise OutboundURLRejected(
            "The URL contains a user name or password; credentials in URLs are not allowed.",
            fix="Remove the user name and password from the URL and enter them in the connection setup's "
            "credential fields.")
    host = (parts.hostname or "").lower()
    if not host:
        raise OutboundURLRejected(f"The URL {url!r} has no host name.", url=url,
                                  fix="Enter a URL such as https://contoso.crm.dynamics.com.")
    if host in _allowed_hosts():
        return
    for address in _resolve(host, port or (443 if scheme == "https" else 80)):
        kind = _forbidden_kind(address)
        if kind:
            raise OutboundURLRejected(
                f"The host {host} of {url!r} resolves to the {kind} address {address}; outbound calls to "
                f"{kind} addresses are not allowed.", url=url,
                fix=f"Use the service's public URL, or, if {host} is a trusted internal service, add it to the "
                "OUTBOUND_ALLOWED_HOSTS setting.")


def same_origin(url: str, base_url: str) -> bool:
    """True when ``url`` has the scheme, host and port of ``base_url`` (used for server-sent ``@odata.nextLink``
    and ``@odata.deltaLink`` values, so that a response can never steer the client to another host)."""
    def origin(text: str) -> tuple[str, str, int | None]:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        return scheme, (parts.hostname or "").lower(), parts.port or {"https": 443, "http": 80}.get(scheme)

    return origin(url) == origin(base_url)
