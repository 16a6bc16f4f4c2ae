"""Forms of the connection setup page and of the assisted setup wizard.

Secrets use :class:`SecretField`: a password input that never renders a value back; blank means "keep the stored
value" (the services merge it).
"""
from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from connections.environment import AUTHORITY_HOSTS, connection_string_parse, normalise_environment_url
from connections.models import ConnectionSetup

AuthType = ConnectionSetup.AuthenticationType
BCAuthType = ConnectionSetup.BCAuthenticationType


class SecretField(forms.CharField):
    """A masked secret input: never rendered back (``render_value=False``), blank keeps the stored value."""

    def __init__(self, *args: Any, multiline: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("strip", False)
        kwargs.setdefault("help_text", "Leave blank to keep the stored value.")
        widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
        if multiline:
            # A certificate is multi-line PEM; a textarea that is always rendered empty.
            widget = _EmptyTextarea(attrs={"rows": 4, "autocomplete": "off", "spellcheck": "false"})
        super().__init__(*args, widget=widget, **kwargs)


class _EmptyTextarea(forms.Textarea):
    """A textarea that never renders its value (for PEM secrets)."""

    def format_value(self, value: Any) -> str:
        return ""


def check_outbound_url_field(url: str) -> None:
    """Refuse an outbound URL the clients would refuse (http(s) only, no credentials, no private address unless
    allowed) with the clients' own message. Raises ValidationError."""
    from connections.clients.errors import OutboundURLRejected
    from connections.clients.outbound import check_outbound_url

    try:
        check_outbound_url(url)
    except OutboundURLRejected as error:
        raise ValidationError(error.message or str(error)) from None


def validate_sales_order_options(*, legacy: bool, bidirectional: bool, auto_create: bool) -> None:
    """Refuse legacy and bi-directional sales order integration together, and automatic sales order creation without
    legacy sales order integration (reference 1.2 and 1.3: BC enforces both in its page and wizard only; the portal
    refuses them everywhere). Raises ValidationError naming the fix."""
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
    """``9.2`` or ``v9.2`` → ``9.2`` (the Web API path segment ``v9.2``, protocols.md B1; BC's "SDK version").
    Raises ValidationError for anything else."""
    value = (value or "").strip().lstrip("vV")
    major, _, minor = value.partition(".")
    if not (major.isdigit() and minor.isdigit()):
        raise ValidationError("Use a Web API version such as 9.2.")
    return value


class EnvironmentURLMixin(forms.Form):
    """Dataverse environment URL with the "drop the path" agreement (reference 1.4)."""

    dataverse_url = forms.CharField(
        label="Dynamics 365 Sales environment URL", max_length=250,
        help_text="For example https://contoso.crm4.dynamics.com",
    )
    drop_path = forms.BooleanField(
        label="Use scheme and host only (drop the path I typed)", required=False,
        help_text="Tick this when the URL you pasted includes a path such as /main.aspx.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if "dataverse_url" in data:
            try:
                data["dataverse_url"] = normalise_environment_url(
                    data["dataverse_url"], allow_drop_path=data.get("drop_path", False)
                ).url
                check_outbound_url_field(data["dataverse_url"])
            except ValidationError as error:
                if getattr(error, "code", None) == "credentials":
                    # Never render a password typed into the URL back into the page.
                    self.data = self.data.copy()
                    self.data[self.add_prefix("dataverse_url")] = ""
                self.add_error("dataverse_url", error)
        return data


class SignInForm(forms.Form):
    """How the portal signs in to Dataverse (protocols.md A): client secret, certificate, or user name and password
    through the legacy OAuth connection string."""

    authentication_type = forms.ChoiceField(choices=AuthType.choices, initial=AuthType.CLIENT_SECRET)
    tenant_id = forms.CharField(label="Tenant ID", max_length=100, help_text="Directory (tenant) ID or domain")
    authority_host = forms.ChoiceField(choices=AUTHORITY_HOSTS, required=False, initial=AUTHORITY_HOSTS[0][0])
    custom_authority_host = forms.URLField(
        label="Other authority host", required=False, max_length=250, assume_scheme="https",
        help_text="Only for a private authority (for example the emulators); overrides the choice above.",
    )
    client_id = forms.CharField(label="Client ID", max_length=100, help_text="Application (client) ID")
    client_secret = SecretField(label="Client secret")
    certificate = SecretField(label="Certificate private key (PEM)", multiline=True)
    certificate_thumbprint = forms.CharField(max_length=100, required=False)
    username = forms.CharField(label="User name", max_length=250, required=False,
                               help_text="OAuth only: the integration user's e-mail.")
    password = SecretField(label="Password")
    connection_string = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="OAuth only, optional: AuthType=OAuth;Username=…;Password=…;Url=…;AppId=…;RedirectUri=app://…; "
        "a password typed here is moved to the encrypted password and replaced by {PASSWORD}.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data["authority_host"] = (data.get("custom_authority_host") or data.get("authority_host") or
                                  AUTHORITY_HOSTS[0][0]).rstrip("/")
        if data.get("custom_authority_host"):
            try:
                check_outbound_url_field(data["authority_host"])
            except ValidationError as error:
                self.add_error("custom_authority_host", error)
        if data.get("connection_string"):
            try:
                parts = connection_string_parse(data["connection_string"])
            except ValidationError as error:
                self.add_error("connection_string", error)
            else:
                if parts.authentication_type != AuthType.OAUTH:
                    self.add_error("connection_string", "Only the legacy OAuth connection string is accepted here.")
                data["authentication_type"] = parts.authentication_type
                data["username"] = parts.username or data.get("username", "")
                data["password"] = parts.password or data.get("password", "")
                data["client_id"] = parts.client_id or data.get("client_id", "")
                data["redirect_uri"] = parts.redirect_uri
            # The raw string may hold a password: never keep it in cleaned data (it reaches the session storage).
            data["connection_string"] = ""
        return data


class BusinessCentralForm(forms.Form):
    """Business Central API base URL, company and sign-in (protocols.md D1, D2)."""

    bc_api_url = forms.URLField(
        label="Business Central API URL", max_length=250, assume_scheme="https",
        help_text="For example https://api.businesscentral.dynamics.com/v2.0/<tenant>/<environment>/api/v2.0",
    )
    bc_tenant = forms.CharField(label="BC tenant", max_length=100, required=False)
    bc_environment = forms.CharField(label="BC environment", max_length=100, required=False)
    bc_company = forms.CharField(
        label="BC company", max_length=100, required=False,
        help_text="Company ID or name; blank picks the only company (Test Connection lists them).",
    )
    bc_authentication_type = forms.ChoiceField(choices=BCAuthType.choices, initial=BCAuthType.OAUTH)
    bc_client_id = forms.CharField(label="BC client ID", max_length=100, required=False,
                                   help_text="Blank uses the Dataverse client ID.")
    bc_client_secret = SecretField(label="BC client secret", help_text="Blank keeps the stored value or uses the "
                                   "Dataverse client secret.")
    bc_username = forms.CharField(label="BC user name", max_length=100, required=False)
    bc_access_key = SecretField(label="BC web service access key")
    bc_web_client_url = forms.URLField(label="Business Central web client URL", max_length=250, required=False,
                                       assume_scheme="https")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("bc_api_url"):
            data["bc_api_url"] = data["bc_api_url"].rstrip("/")
            try:
                check_outbound_url_field(data["bc_api_url"])
            except ValidationError as error:
                self.add_error("bc_api_url", error)
        if data.get("bc_authentication_type") == BCAuthType.BASIC and not data.get("bc_username"):
            self.add_error("bc_username", "Enter the BC user name for web service access key sign-in.")
        return data


class SalesOptionsMixin(forms.Form):
    """The Sales settings of reference 1.1 to 1.3."""

    legacy_sales_order_integration = forms.BooleanField(required=False, label="Legacy sales order integration")
    auto_create_sales_orders = forms.BooleanField(required=False, label="Automatically create sales orders")
    auto_process_sales_quotes = forms.BooleanField(required=False, label="Automatically process sales quotes")
    bidirectional_sales_order_integration = forms.BooleanField(
        required=False, label="Bi-directional sales order synchronization"
    )
    item_availability_enabled = forms.BooleanField(required=False,
                                                   label="Automatically synchronize item availability")
    unit_group_mapping_enabled = forms.BooleanField(required=False, initial=True, label="Unit group mapping")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        try:
            validate_sales_order_options(
                legacy=data.get("legacy_sales_order_integration", False),
                bidirectional=data.get("bidirectional_sales_order_integration", False),
                auto_create=data.get("auto_create_sales_orders", False),
            )
        except ValidationError as error:
            for item in error.error_list:
                self.add_error(
                    "bidirectional_sales_order_integration" if item.code == "sales_order_exclusive"
                    else "auto_create_sales_orders", item
                )
        return data


class SalesSettingsForm(SalesOptionsMixin):
    """The settings section of the connection setup page; toggles rebuild mappings and jobs (reference 4.B)."""

    user_mapping_required = forms.BooleanField(
        required=False, label="User mapping required",
        help_text="Reads and writes on behalf of a portal user run as the Dataverse user with the same e-mail.",
    )

    def __init__(self, *args: Any, connection: ConnectionSetup, **kwargs: Any) -> None:
        self.connection = connection
        super().__init__(*args, **kwargs)
        if connection.is_enabled:
            self.fields["unit_group_mapping_enabled"].disabled = True
            self.fields["unit_group_mapping_enabled"].help_text = "Editable only while the connection is disabled."


class ConnectionSetupForm(EnvironmentURLMixin, SignInForm, BusinessCentralForm):
    """The connection setup page's edit form (field by field). Secrets blank = keep."""

    name = forms.CharField(max_length=100)
    web_api_version = forms.CharField(label="Web API version", max_length=10, initial="9.2")
    ownership_model = forms.ChoiceField(choices=ConnectionSetup.OwnershipModel.choices)

    field_order = ["name", "dataverse_url", "drop_path", "authentication_type", "tenant_id", "authority_host",
                   "custom_authority_host", "client_id", "client_secret", "certificate", "certificate_thumbprint",
                   "username", "password", "connection_string", "web_api_version", "ownership_model"]

    def clean_web_api_version(self) -> str:
        return clean_web_api_version(self.cleaned_data["web_api_version"])


class RedeploySolutionForm(forms.Form):
    """Administrator credentials for importing the integration solution; used once, never stored."""

    admin_username = forms.CharField(label="Dataverse administrator user name", max_length=250)
    admin_password = forms.CharField(label="Administrator password", strip=False,
                                     widget=forms.PasswordInput(render_value=False))


class DisableForm(forms.Form):
    """Disable the connection, optionally saying why (shown on the page, BC's "Disable Reason")."""

    reason = forms.CharField(max_length=250, required=False)


class ConfirmForm(forms.Form):
    """An explicit confirmation for destructive actions (Use Default Synchronization Setup)."""

    confirm = forms.BooleanField(label="Yes, replace the mappings and job queue entries", required=True)


# ---------------------------------------------------------------------------- assisted setup wizard steps

class WizardEnvironmentForm(EnvironmentURLMixin):
    """Step 1: the environment URL (BC wizard step Start)."""


class WizardSignInForm(SignInForm):
    """Step 2: sign-in, plus administrator credentials for the solution import (used once, never stored)."""

    admin_username = forms.CharField(label="Administrator user name", max_length=250, required=False,
                                     help_text="Used once to import the integration solution; never stored.")
    admin_password = SecretField(label="Administrator password", help_text="Used once; never stored.")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("authentication_type")
        if kind == AuthType.OAUTH and not data.get("username"):
            self.add_error("username", "Enter the integration user's e-mail for user name and password sign-in.")
        if kind == AuthType.CERTIFICATE and not data.get("certificate_thumbprint"):
            self.add_error("certificate_thumbprint", "Enter the certificate's thumbprint.")
        return data


class WizardBusinessCentralForm(BusinessCentralForm):
    """Step 3: Business Central company and sign-in."""


class WizardOptionsForm(SalesOptionsMixin):
    """Step 4: options (reference 2, step Credentials' advanced settings)."""

    import_solution = forms.BooleanField(required=False, initial=True, label="Import the integration solution")
    web_api_version = forms.CharField(label="Web API version", max_length=10, initial="9.2")
    enable = forms.BooleanField(required=False, initial=True, label="Enable the connection")

    def clean_web_api_version(self) -> str:
        return clean_web_api_version(self.cleaned_data["web_api_version"])


class WizardOwnershipForm(forms.Form):
    """Step 5: ownership model (reference 2.1, 10). Person: salespersons are coupled to Dataverse users."""

    ownership_model = forms.ChoiceField(
        choices=ConnectionSetup.OwnershipModel.choices, initial=ConnectionSetup.OwnershipModel.TEAM,
        widget=forms.RadioSelect,
        help_text="Team: records are owned by the business unit's default team. Person: records are owned by the "
        "Dataverse user coupled to the salesperson; the next step couples salespersons to users.",
    )


#: The salespersons step's error when nothing is coupled (BC: CoupleSalespersons "must couple before Next").
COUPLE_AT_LEAST_ONE = ("Couple at least one salesperson to a Dataverse user, or choose the Team ownership model.")


class WizardSalespersonsForm(forms.Form):
    """Step 6, Person model only (BC: CDS Connection Setup Wizard step CoupleSalespersons, reference 2.1; "must couple
    before Next"): one choice of Dataverse user per BC salesperson, pre-selected where the e-mails match.

    ``salespeople`` and ``users`` are ``mappings.salespeople.SalespersonRow`` / ``UserRow``-like objects (``id``,
    ``code``/``name``, ``email``); ``matches`` maps a salesperson code to the pre-selected user id; ``load_error``
    (the lists could not be read: layer and fix) makes the form invalid with that message. ``cleaned_data`` gains
    ``salesperson_couplings``: ``[{"code", "salesperson_id", "systemuserid", "name", "user"}]`` (strings). A user
    can be chosen for one salesperson only (a coupling is one-to-one, reference 6.7)."""

    def __init__(self, *args: Any, salespeople: Any = (), users: Any = (), matches: dict[str, Any] | None = None,
                 load_error: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.salespeople = list(salespeople)
        self.users = list(users)
        self.load_error = load_error
        matches = matches or {}
        choices = [("", "— not coupled —")] + [
            (str(user.id), f"{user.name} <{user.email}>" if user.email else user.name) for user in self.users]
        for person in self.salespeople:
            self.fields[self.field_name(person)] = forms.ChoiceField(
                label=f"{person.code} · {person.name}" + (f" ({person.email})" if person.email else ""),
                choices=choices, required=False, initial=str(matches.get(person.code) or ""),
            )

    @staticmethod
    def field_name(person: Any) -> str:
        """The form field of one salesperson, by its BC SystemId (stable whatever the list's order)."""
        return f"salesperson_{person.id.hex}"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.load_error:
            raise ValidationError(self.load_error, code="lists_unavailable")
        names = {str(user.id): user.name for user in self.users}
        couplings: list[dict[str, str]] = []
        chosen: dict[str, str] = {}
        for person in self.salespeople:
            name = self.field_name(person)
            user_id = data.get(name) or ""
            if not user_id:
                continue
            if user_id in chosen:
                self.add_error(name, f"{names.get(user_id, user_id)} is already chosen for salesperson "
                               f"{chosen[user_id]}: a user can be coupled to one salesperson only.")
                continue
            chosen[user_id] = person.code
            couplings.append({"code": person.code, "salesperson_id": str(person.id), "systemuserid": user_id,
                              "name": person.name, "user": names.get(user_id, "")})
        if not couplings and not self.errors:
            if not self.salespeople:
                raise ValidationError("Business Central has no salespersons to couple. " + COUPLE_AT_LEAST_ONE,
                                      code="couple_at_least_one")
            raise ValidationError(COUPLE_AT_LEAST_ONE, code="couple_at_least_one")
        data["salesperson_couplings"] = couplings
        return data


class WizardReviewForm(forms.Form):
    """Last step: review and finish."""

    confirm = forms.BooleanField(required=True, initial=True, label="Save, test and apply this setup")
