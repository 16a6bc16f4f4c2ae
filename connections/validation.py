"""Validation shared by the setup page, the wizard, the command and the services: sales order options, the Web API
version and outbound URLs. Each function raises :class:`django.core.exceptions.ValidationError` naming the fix."""
from __future__ import annotations

from django.core.exceptions import ValidationError

from connections.clients.errors import OutboundURLRejected
from connections.clients.outbound import check_outbound_url


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
