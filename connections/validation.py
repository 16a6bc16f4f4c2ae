"""Validation shared by the setup page, the wizard, the command and the services: sales order options, the Web API
version, outbound URLs and the sign-in Business Central accepts. Each function raises
:class:`django.core.exceptions.ValidationError` naming the fix."""
from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

from connections.clients.errors import OutboundURLRejected
from connections.clients.outbound import check_outbound_url
from connections.models import ConnectionSetup


def check_outbound_url_field(url: str) -> None:
    """Refuse an outbound URL the clients would refuse (http(s) only, no credentials, no private address unless
    allowed) with the clients' own message. Raises ValidationError."""

    try:
        check_outbound_url(url)
    except OutboundURLRejected as error:
        raise ValidationError(error.message or str(error)) from None


def validate_sales_order_options(*, legacy: bool, bidirectional: bool, auto_create: bool) -> None:
    """Refuse legacy and bi-directional sales order integration together, and automatic sales order creation without
    legacy sales order integration (BC enforces both only in page 5330 CRM Connection Setup and page 1817 CRM
    Connection Setup Wizard; the portal refuses them everywhere). Raises ValidationError naming the fix."""
    errors = []
    if legacy and bidirectional:
        errors.append(
            ValidationError(
                "Legacy sales order integration and bi-directional sales order synchronization exclude each other: "
                "legacy creates BC orders from orders submitted in Sales (one-way), bi-directional synchronizes orders "
                "and lines both ways. Turn one of them off.",
                "sales_order_exclusive",
            )
        )
    if auto_create and not legacy:
        errors.append(
            ValidationError(
                "Automatically create sales orders works with legacy sales order integration only; turn that on too, "
                "or turn automatic creation off.",
                "auto_create_requires_legacy",
            )
        )
    if errors:
        raise ValidationError(errors)


def clean_web_api_version(value: str) -> str:
    """``9.2`` or ``v9.2`` → ``9.2`` (the Web API path segment ``v9.2``, Microsoft Learn: "Compose HTTP requests and
    handle errors"; BC's "SDK version", table 5330 CRM Connection Setup, field 76 Proxy Version).
    Raises ValidationError for anything else."""
    value = (value or "").strip().lstrip("vV")
    major, _, minor = value.partition(".")
    if not (major.isdigit() and minor.isdigit()):
        raise ValidationError("Use a Web API version such as 9.2.")
    return value


#: The domain of Business Central online (SaaS); its API host is ``api.businesscentral.dynamics.com`` (Microsoft
#: Learn: "Business Central API (v2.0)", "Endpoints for the APIs").
BC_ONLINE_DOMAIN = "businesscentral.dynamics.com"
BC_BASIC_ONLINE_MESSAGE = (
    "Business Central online accepts only Microsoft Entra ID (OAuth) sign-in: web service access keys (Basic "
    "authentication) are deprecated and not supported there since October 2022, only on-premises. Choose OAuth "
    "client credentials for {host}, or enter the API URL of an on-premises Business Central server."
)


def _host(url: str) -> str:
    url = (url or "").strip()
    try:
        return (urlsplit(url if "://" in url else "https://" + url).hostname or "").rstrip(".").lower()
    except ValueError:  # a malformed URL: the URL checks name it
        return ""


def is_business_central_online(api_url: str) -> bool:
    """Whether ``api_url`` is Business Central online: its host is ``businesscentral.dynamics.com`` or under it
    (``api.businesscentral.dynamics.com``). Any other host (an on-premises server, the emulators' loopback) is not."""
    host = _host(api_url)
    return host == BC_ONLINE_DOMAIN or host.endswith("." + BC_ONLINE_DOMAIN)


def validate_bc_authentication(*, api_url: str, authentication_type: str) -> None:
    """Refuse Basic authentication (user name and web service access key) with a Business Central online API URL.

    Microsoft Learn "Web services authentication": starting October 2022 the use of access keys (Basic Auth) for
    web service authentication is deprecated and not supported in Business Central online; OAuth (Microsoft Entra
    ID) is the way in. Basic stays valid for any other URL (on-premises, the emulators). Raises ValidationError
    (code ``bc_basic_online``)."""
    if authentication_type == ConnectionSetup.BCAuthenticationType.BASIC and is_business_central_online(api_url):
        raise ValidationError(BC_BASIC_ONLINE_MESSAGE.format(host=_host(api_url)), "bc_basic_online")
