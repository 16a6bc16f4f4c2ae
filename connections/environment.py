"""Environment URLs and the legacy connection string of the connection setup (BC: table 5330 CRM Connection Setup,
fields 2 Server Address and 138 Server Connection String).

Pure functions, no remote calls: the forms, the wizard and ``setup_connection`` share them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

#: Placeholders kept in the stored connection string instead of secrets (BC: table 5330 CRM Connection Setup, field
#: 138 Server Connection String).
PASSWORD_PLACEHOLDER = "{PASSWORD}"
CLIENT_SECRET_PLACEHOLDER = "{CLIENTSECRET}"
CERTIFICATE_PLACEHOLDER = "{CERTIFICATE}"

#: Sovereign and public clouds: authority hosts an administrator may pick (msal's well-known authority hosts,
#: ``msal/authority.py``).
AUTHORITY_HOSTS = [
    ("https://login.microsoftonline.com", "Public cloud (login.microsoftonline.com)"),
    ("https://login.microsoftonline.us", "US Government (login.microsoftonline.us)"),
    ("https://login.chinacloudapi.cn", "China, operated by 21Vianet (login.chinacloudapi.cn)"),
]


@dataclass(frozen=True)
class NormalisedURL:
    """Outcome of :func:`normalise_environment_url`: the URL to store and whether a path was dropped."""

    url: str
    dropped_path: str


def normalise_environment_url(raw: str, *, allow_drop_path: bool = False) -> NormalisedURL:
    """Normalise a Dataverse environment URL as BC's ``CheckModifyCRMConnectionURL`` does (BC: codeunit 5330 CRM
    Integration Management).

    Trims, adds ``https://`` when no scheme was typed, requires https and a host, keeps scheme + host (+ port), and
    drops a path, query or fragment only when ``allow_drop_path`` is true (the administrator's agreement); otherwise
    raises ``ValidationError`` with code ``"path"`` naming the URL that would be used. Improvement on BC: http is
    refused outright (Dataverse only serves https; msal refuses http authorities, ``msal/authority.py``).
    Raises ``ValidationError`` (codes ``"invalid"``, ``"scheme"``, ``"credentials"``, ``"path"``).
    """
    text = (raw or "").strip()
    if not text:
        raise ValidationError("Enter the environment URL, for example https://contoso.crm4.dynamics.com.", "invalid")
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValidationError(
            f"“{raw}” is not a URL; use the form https://contoso.crm4.dynamics.com.", "invalid"
        ) from None
    if parts.scheme.lower() != "https":
        raise ValidationError(
            f"The environment URL must use https (got “{parts.scheme}”); use https://{parts.netloc or 'host'}.",
            "scheme",
        )
    if not parts.hostname:
        raise ValidationError(f"“{raw}” has no host name; use the form https://contoso.crm4.dynamics.com.", "invalid")
    if parts.username or parts.password:
        raise ValidationError(
            "Remove the user name and password from the URL; enter credentials in the sign-in fields.", "credentials"
        )
    host = parts.hostname.lower()
    netloc = f"{host}:{port}" if port and port != 443 else host
    if ":" in host:  # IPv6 literal
        netloc = f"[{host}]:{port}" if port and port != 443 else f"[{host}]"
    url = f"https://{netloc}"
    extra = text[len(parts.scheme) + 3 + len(parts.netloc):]
    dropped = "" if extra in ("", "/") else extra
    if dropped and not allow_drop_path:
        raise ValidationError(
            f"The environment URL is scheme and host only: {url} (without “{dropped}”). "
            "Confirm that the path may be dropped, or correct the URL.",
            "path",
        )
    return NormalisedURL(url=url, dropped_path=dropped)


@dataclass(frozen=True)
class ConnectionStringParts:
    """Fields of a parsed connection string. Secrets found in the string are returned separately (``password``,
    ``client_secret``) so the caller can encrypt them; the placeholders themselves come back as empty strings."""

    authentication_type: str
    url: str
    username: str = ""
    password: str = ""
    client_id: str = ""
    client_secret: str = ""
    redirect_uri: str = ""
    certificate_thumbprint: str = ""
    web_api_version: str = ""


def connection_string_build(
    *,
    authentication_type: str,
    url: str,
    client_id: str = "",
    username: str = "",
    redirect_uri: str = "",
    certificate_thumbprint: str = "",
    web_api_version: str = "9.2",
) -> str:
    """Build the stored connection string for an authentication type, with placeholders for secrets (BC: table 5330
    CRM Connection Setup, field 138 Server Connection String).

    ``OAuth`` gives the legacy form ``AuthType=OAuth;Username=<u>;Password={PASSWORD};Url=<url>;AppId=<client id>;
    RedirectUri=app://<client id>;TokenCacheStorePath=;LoginPrompt=Auto``; ``ClientSecret`` and ``Certificate`` the
    modern forms with ``{CLIENTSECRET}`` / ``{CERTIFICATE}``. ``ProxyVersion`` carries the Web API version (BC's
    "SDK version"). Raises ValueError for an unknown authentication type.
    """
    if authentication_type == "OAuth":
        redirect = redirect_uri or f"app://{client_id.upper()}"
        return (
            f"AuthType=OAuth;Username={username};Password={PASSWORD_PLACEHOLDER};Url={url};AppId={client_id};"
            f"RedirectUri={redirect};TokenCacheStorePath=;LoginPrompt=Auto;ProxyVersion={web_api_version}"
        )
    if authentication_type == "ClientSecret":
        return (
            f"AuthType=ClientSecret;Url={url};ClientId={client_id};ClientSecret={CLIENT_SECRET_PLACEHOLDER};"
            f"ProxyVersion={web_api_version}"
        )
    if authentication_type == "Certificate":
        return (
            f"AuthType=Certificate;Url={url};ClientId={client_id};Thumbprint={certificate_thumbprint};"
            f"Certificate={CERTIFICATE_PLACEHOLDER};ProxyVersion={web_api_version}"
        )
    raise ValueError(f"Unknown authentication type {authentication_type!r}")


_PAIR = re.compile(r"\s*([A-Za-z]+)\s*=\s*([^;]*)")


def connection_string_parse(text: str) -> ConnectionStringParts:
    """Parse a connection string (``Key=Value;...``, keys case-insensitive) into its parts (BC: table 5330 CRM
    Connection Setup, field 138 Server Connection String).

    A real secret found in ``Password=`` or ``ClientSecret=`` is returned in ``password`` / ``client_secret`` (the
    caller encrypts it and stores the string rebuilt with placeholders); placeholders come back empty.
    Raises ``ValidationError`` naming what is missing: ``AuthType`` (OAuth, ClientSecret or Certificate) and ``Url``.
    """
    values: dict[str, str] = {}
    for chunk in (text or "").split(";"):
        if not chunk.strip():
            continue
        match = _PAIR.fullmatch(chunk)
        if not match:
            raise ValidationError(f"“{chunk.strip()}” is not a Key=Value pair; separate pairs with “;”.")
        values[match.group(1).lower()] = match.group(2).strip()
    auth = {"oauth": "OAuth", "clientsecret": "ClientSecret", "certificate": "Certificate"}.get(
        values.get("authtype", "").lower()
    )
    if auth is None:
        raise ValidationError(
            "The connection string needs AuthType=OAuth, AuthType=ClientSecret or AuthType=Certificate."
        )
    if not values.get("url"):
        raise ValidationError("The connection string needs Url=https://<environment>.crm.dynamics.com.")

    def secret(key: str, placeholder: str) -> str:
        value = values.get(key, "")
        return "" if value in (placeholder, "") else value

    return ConnectionStringParts(
        authentication_type=auth,
        url=values["url"],
        username=values.get("username", ""),
        password=secret("password", PASSWORD_PLACEHOLDER),
        client_id=values.get("appid") or values.get("clientid", ""),
        client_secret=secret("clientsecret", CLIENT_SECRET_PLACEHOLDER),
        redirect_uri=values.get("redirecturi", ""),
        certificate_thumbprint=values.get("thumbprint", ""),
        web_api_version=values.get("proxyversion", ""),
    )
