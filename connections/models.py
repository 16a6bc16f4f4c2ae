"""The connection setup: one Dataverse environment + one Business Central company (BC: "Dynamics 365 Sales
Integration Setup", table 5330; reference §1)."""
from __future__ import annotations

import uuid

from django.db import models

from portal.fields import EncryptedTextField


class ConnectionSetup(models.Model):
    """Credentials and options of one Dataverse environment paired with one BC company.

    Secrets (client secret, certificate private key, passwords, access keys) are EncryptedTextFields: encrypted
    at rest, never rendered back.
    """

    class AuthenticationType(models.TextChoices):
        CLIENT_SECRET = "ClientSecret", "Client secret"
        CERTIFICATE = "Certificate", "Certificate"
        OAUTH = "OAuth", "OAuth (user name and password)"

    class OwnershipModel(models.TextChoices):
        PERSON = "Person", "Person"
        TEAM = "Team", "Team"

    class BCAuthenticationType(models.TextChoices):
        OAUTH = "OAuth", "OAuth client credentials"
        BASIC = "Basic", "User name and web service access key"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True, default="Dynamics 365 Sales")

    # Dataverse side (reference 1.1, 1.4)
    dataverse_url = models.URLField("Dynamics 365 Sales URL", max_length=250, blank=True)
    authentication_type = models.CharField(
        max_length=20, choices=AuthenticationType.choices, default=AuthenticationType.CLIENT_SECRET
    )
    tenant_id = models.CharField("tenant ID", max_length=100, blank=True)
    authority_host = models.URLField(max_length=250, default="https://login.microsoftonline.com")
    client_id = models.CharField("client ID", max_length=100, blank=True)
    client_secret = EncryptedTextField()
    certificate = EncryptedTextField(help_text="PEM private key and certificate")
    certificate_thumbprint = models.CharField(max_length=100, blank=True)
    username = models.CharField("user name", max_length=250, blank=True)
    password = EncryptedTextField()
    connection_string = models.TextField(blank=True, help_text="Stored with placeholders, never with secrets")
    web_api_version = models.CharField("Web API version", max_length=10, default="9.2")
    ownership_model = models.CharField(max_length=10, choices=OwnershipModel.choices, default=OwnershipModel.PERSON)
    is_enabled = models.BooleanField("enabled", default=False)
    disable_reason = models.CharField(max_length=250, blank=True)

    # Read from the server
    server_version = models.CharField(max_length=30, blank=True)
    base_currency_id = models.UUIDField(null=True, blank=True)
    base_currency_code = models.CharField(max_length=10, blank=True)
    base_currency_precision = models.PositiveSmallIntegerField(null=True, blank=True)
    is_solution_installed = models.BooleanField(default=False)
    solution_version = models.CharField(max_length=30, blank=True)
    integration_user_id = models.UUIDField(null=True, blank=True)

    # Business Central side
    bc_api_url = models.URLField("Business Central API URL", max_length=250, blank=True)
    bc_tenant = models.CharField("BC tenant", max_length=100, blank=True)
    bc_environment = models.CharField("BC environment", max_length=100, blank=True)
    bc_company_id = models.UUIDField("BC company ID", null=True, blank=True)
    bc_company_name = models.CharField("BC company", max_length=100, blank=True)
    bc_authentication_type = models.CharField(
        max_length=10, choices=BCAuthenticationType.choices, default=BCAuthenticationType.OAUTH
    )
    bc_client_id = models.CharField("BC client ID", max_length=100, blank=True)
    bc_client_secret = EncryptedTextField()
    bc_username = models.CharField("BC user name", max_length=100, blank=True)
    bc_access_key = EncryptedTextField()
    bc_web_client_url = models.URLField("Business Central web client URL", max_length=250, blank=True)

    # Sales settings (reference 1.1 to 1.3)
    legacy_sales_order_integration = models.BooleanField(default=False)
    auto_create_sales_orders = models.BooleanField(default=False)
    auto_process_sales_quotes = models.BooleanField(default=False)
    bidirectional_sales_order_integration = models.BooleanField(default=False)
    item_availability_enabled = models.BooleanField(default=False)
    unit_group_mapping_enabled = models.BooleanField(default=True)
    user_mapping_required = models.BooleanField(default=False)

    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
