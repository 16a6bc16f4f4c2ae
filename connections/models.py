"""The connection setup: one Dataverse environment + one Business Central company (BC: table 5330 CRM Connection
Setup, page 5330 "Dynamics 365 Sales Integration Setup")."""
from __future__ import annotations

import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from base.fields import EncryptedTextField
from connections import fields as connection_fields


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

    # Dataverse side (BC: table 5330 CRM Connection Setup, connection fields and field 138 Server Connection String)
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

    # Sales settings (BC: table 5330 CRM Connection Setup)
    legacy_sales_order_integration = models.BooleanField(default=False)
    auto_create_sales_orders = models.BooleanField(default=False)
    auto_process_sales_quotes = models.BooleanField(default=False)
    bidirectional_sales_order_integration = models.BooleanField(default=False)
    item_availability_enabled = models.BooleanField(default=False)
    unit_group_mapping_enabled = models.BooleanField(default=True)
    user_mapping_required = models.BooleanField(default=False)

    # Outcome of the last Test Connection and of the last assisted setup finish (no secrets in either).
    last_tested_at = models.DateTimeField(null=True, blank=True)
    last_test_report = models.JSONField(default=dict, blank=True)
    last_finish_report = models.JSONField(default=dict, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    #: Fields whose values are secrets: encrypted at rest, masked in the change log, never rendered (from the
    #: registry of connection fields, :mod:`connections.fields`).
    SECRET_FIELDS = connection_fields.SECRET_FIELDS

    class Meta:
        ordering = ["name"]
        permissions = [("administer_connectionsetup", "Can change the connection setup and run its actions")]

    def __str__(self) -> str:
        return self.name

    @property
    def web_api_url(self) -> str:
        """The Dataverse Web API root, e.g. ``https://org.crm.dynamics.com/api/data/v9.2/`` (Microsoft Learn:
        "Compose HTTP requests and handle errors")."""
        return f"{self.dataverse_url.rstrip('/')}/api/data/v{self.web_api_version}/"

    def has_secret(self, field_name: str) -> bool:
        """Whether a secret field holds a value (for "stored — leave blank to keep" hints; never the value)."""
        return bool(getattr(self, field_name))


class ConnectionSetupChange(models.Model):
    """One recorded change of a connection setup: who, when, which field, old and new value (secrets masked).

    Written by :mod:`connections.setup` for every field change and every action (test, enable, disable,
    solution import, default configuration), so the setup page can show its history.
    """

    MASK = "••••••"

    connection = models.ForeignKey(ConnectionSetup, on_delete=models.CASCADE, related_name="changes")
    changed_at = models.DateTimeField(auto_now_add=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True, help_text="Kept when the user is deleted")
    field = models.CharField(max_length=100, blank=True, help_text="Empty for actions")
    action = models.CharField(max_length=100, blank=True)
    old_value = models.TextField(blank=True)
    new_value = models.TextField(blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["connection", "-changed_at"])]

    def __str__(self) -> str:
        return f"{self.changed_at:%Y-%m-%d %H:%M:%S} {self.username} {self.field or self.action}"


class ConnectionActionQuerySet(models.QuerySet["ConnectionAction"]):
    """Queries of connection actions."""

    def active(self) -> ConnectionActionQuerySet:
        """Actions still to run or running (Queued, Running)."""
        return self.filter(status__in=ConnectionAction.ACTIVE_STATUSES)


class ConnectionAction(models.Model):
    """One remote action of a connection setup run by an RQ worker, never inside a web request (views stay thin):
    the assisted setup's Finish, Enable, or Redeploy Integration Solution.

    The row is written before the job is enqueued (the row is the truth) and holds the checklist (``report``, the
    :class:`connections.diagnostics.CheckReport` dict: ``{"ok", "checked_at", "steps": [{"name", "ok", "message",
    "fix", "layer", "details"}]}``), updated after each step while the worker runs it, so the status page shows the
    progress. At most one action per connection is Queued or Running (partial unique constraint).

    ``admin_username`` / ``admin_password`` (Finish and Redeploy only) carry the Dataverse administrator's
    credentials from the request to the worker, the password encrypted at rest; the task blanks both as soon as it
    has read them, before any remote call (BC: page 1817 CRM Connection Setup Wizard, FinalizeSetup, asks for the
    administrator's credentials only to import the solution). RQ only carries the action's id.
    """

    class Kind(models.TextChoices):
        FINISH = "Finish", "Assisted setup finish"
        ENABLE = "Enable", "Enable"
        REDEPLOY = "Redeploy", "Redeploy Integration Solution"

    class Status(models.TextChoices):
        QUEUED = "Queued", "Queued"
        RUNNING = "Running", "Running"
        SUCCEEDED = "Succeeded", "Succeeded"
        FAILED = "Failed", "Failed"

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    connection = models.ForeignKey(ConnectionSetup, on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    options = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder,
                               help_text="Finish only: the wizard's non-secret options (services.FINISH_OPTIONS)")
    report = models.JSONField(default=dict, blank=True)
    message = models.CharField(max_length=500, blank=True, help_text="The outcome in one sentence")
    admin_username = models.CharField(max_length=250, blank=True, help_text="Blanked by the task once read")
    admin_password = EncryptedTextField(help_text="Blanked by the task once read")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rq_job_id = models.CharField("RQ job ID", max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ConnectionActionQuerySet.as_manager()

    #: Set by :func:`connections.actions.queue.connection_action_enqueue`: False when it returned an action that was
    #: already queued or running instead of starting a new one. Not a database field.
    created: bool = False

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["connection", "-created_at"])]
        constraints = [
            models.UniqueConstraint(fields=["connection"], condition=models.Q(status__in=["Queued", "Running"]),
                                    name="connections_one_active_action_per_connection"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.connection_id}: {self.get_status_display()}"

    @property
    def is_active(self) -> bool:
        """Queued or Running."""
        return self.status in self.ACTIVE_STATUSES
