"""Forms of the connection setup page and of the assisted setup wizard.

Secrets use :class:`SecretField`: a password input that never renders a value back; blank means "keep the stored
value" (the services merge it).
"""
from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from connections import fields as connection_fields
from connections.environment import AUTHORITY_HOSTS, connection_string_parse, normalise_environment_url
from connections.models import ConnectionSetup
from connections.validation import (
    check_outbound_url_field,
    clean_web_api_version,
    validate_bc_authentication,
    validate_sales_order_options,
)

AuthType = ConnectionSetup.AuthenticationType
BCAuthType = ConnectionSetup.BCAuthenticationType


def with_registry_labels(form_class: type[forms.Form]) -> type[forms.Form]:
    """Class decorator: give every field of ``form_class`` that is a connection field the label and help of the
    registry (:mod:`connections.fields`), so the setup page, the wizard and the command say the same."""
    for name, form_field in form_class.base_fields.items():
        spec = connection_fields.BY_NAME.get(name)
        if spec is None:
            continue
        form_field.label = spec.label
        if spec.help_text:
            form_field.help_text = spec.help_text
    return form_class



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


_USERINFO = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//[^/?#]*@|^[^/?#:]*:[^/?#]*@", re.IGNORECASE)


class CredentialFreeURLsForm(forms.Form):
    """A form whose URL fields (``url_fields`` of the class and its bases) never carry credentials back to the page:
    a URL with a user name or password (``https://user:pass@host``) is refused with an error, and its bound value is
    blanked so the password is not rendered into the field again (OWASP "Password Storage"; the portal keeps
    credentials in its encrypted fields only)."""

    url_fields: tuple[str, ...] = ()

    def full_clean(self) -> None:
        super().full_clean()
        if not self.is_bound:
            return
        names = {name for cls in type(self).__mro__ for name in cls.__dict__.get("url_fields", ())}
        for name in sorted(names & set(self.fields)):
            key = self.add_prefix(name)
            raw = str(self.data.get(key) or "").strip()
            if not raw or not _USERINFO.search(raw):
                continue
            self.data = self.data.copy()
            self.data[key] = ""
            if hasattr(self, "cleaned_data"):
                self.cleaned_data.pop(name, None)
            self._errors.pop(name, None)
            self.add_error(name, ValidationError(
                "The URL contains a user name or password; credentials in URLs are not allowed. Enter the URL "
                "without them and the credentials in their own fields.", code="credentials"))


@with_registry_labels
class EnvironmentURLMixin(CredentialFreeURLsForm):
    """Dataverse environment URL with the "drop the path" agreement (BC: codeunit 5330 CRM Integration Management,
    CheckModifyCRMConnectionURL)."""

    url_fields = ("dataverse_url",)

    dataverse_url = forms.CharField(max_length=250)
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


@with_registry_labels
class SignInForm(CredentialFreeURLsForm):
    """How the portal signs in to Dataverse (Microsoft Learn: "Microsoft identity platform and the OAuth 2.0 client
    credentials flow"): client secret, certificate, or user name and password through the legacy OAuth connection
    string."""

    url_fields = ("custom_authority_host",)
    authentication_type = forms.ChoiceField(choices=AuthType.choices, initial=AuthType.CLIENT_SECRET)
    tenant_id = forms.CharField(max_length=100)
    authority_host = forms.ChoiceField(choices=AUTHORITY_HOSTS, required=False, initial=AUTHORITY_HOSTS[0][0])
    custom_authority_host = forms.URLField(
        label="Other authority host", required=False, max_length=250, assume_scheme="https",
        help_text="Only for a private authority (for example the emulators); overrides the choice above.",
    )
    client_id = forms.CharField(max_length=100)
    client_secret = SecretField()
    certificate = SecretField(multiline=True)
    certificate_thumbprint = forms.CharField(max_length=100, required=False)
    username = forms.CharField(max_length=250, required=False)
    password = SecretField()
    connection_string = forms.CharField(
        required=False, widget=_EmptyTextarea(attrs={"rows": 2, "autocomplete": "off", "spellcheck": "false"}),
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


@with_registry_labels
class BusinessCentralForm(CredentialFreeURLsForm):
    """Business Central API base URL, company and sign-in (Microsoft Learn: "Business Central API (v2.0)", "Using
    Service-to-Service (S2S) Authentication"). Basic sign-in (web service access key) is refused with an online API
    URL (Microsoft Learn: "Web services authentication"; :func:`connections.validation.validate_bc_authentication`)."""

    url_fields = ("bc_api_url", "bc_web_client_url")
    bc_api_url = forms.URLField(max_length=250, assume_scheme="https")
    bc_tenant = forms.CharField(max_length=100, required=False)
    bc_environment = forms.CharField(max_length=100, required=False)
    bc_company = forms.CharField(max_length=100, required=False)
    bc_authentication_type = forms.ChoiceField(choices=BCAuthType.choices, initial=BCAuthType.OAUTH)
    bc_client_id = forms.CharField(max_length=100, required=False)
    bc_client_secret = SecretField()
    bc_username = forms.CharField(max_length=100, required=False)
    bc_access_key = SecretField()
    bc_web_client_url = forms.URLField(max_length=250, required=False,
                                       assume_scheme="https")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("bc_api_url"):
            data["bc_api_url"] = data["bc_api_url"].rstrip("/")
            try:
                check_outbound_url_field(data["bc_api_url"])
            except ValidationError as error:
                self.add_error("bc_api_url", error)
        if data.get("bc_web_client_url"):
            # Only a link, never called by the portal; it must still be an https URL the policy would accept.
            try:
                check_outbound_url_field(data["bc_web_client_url"])
            except ValidationError as error:
                self.add_error("bc_web_client_url", error)
        if data.get("bc_authentication_type") == BCAuthType.BASIC and not data.get("bc_username"):
            self.add_error("bc_username", "Enter the BC user name for web service access key sign-in.")
        if data.get("bc_api_url") and "bc_authentication_type" in data:
            try:
                validate_bc_authentication(api_url=data["bc_api_url"],
                                           authentication_type=data["bc_authentication_type"])
            except ValidationError as error:
                self.add_error("bc_authentication_type", error)
        return data


@with_registry_labels
class SalesOptionsMixin(forms.Form):
    """The Sales settings (BC: table 5330 CRM Connection Setup, fields 66 Is S.Order Integration Enabled, 80 Auto
    Create Sales Orders, 81 Auto Process Sales Quotes, 141 Bidirectional Sales Order Int., 140 Item Availability
    Enabled, 151 Unit Group Mapping Enabled)."""

    legacy_sales_order_integration = forms.BooleanField(required=False)
    auto_create_sales_orders = forms.BooleanField(required=False)
    auto_process_sales_quotes = forms.BooleanField(required=False)
    bidirectional_sales_order_integration = forms.BooleanField(required=False)
    item_availability_enabled = forms.BooleanField(required=False)
    unit_group_mapping_enabled = forms.BooleanField(required=False, initial=True)

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


@with_registry_labels
class SalesSettingsForm(SalesOptionsMixin):
    """The settings section of the connection setup page; toggles rebuild mappings and jobs (BC: codeunit 5334 CRM
    Setup Defaults)."""

    user_mapping_required = forms.BooleanField(required=False)

    def __init__(self, *args: Any, connection: ConnectionSetup, **kwargs: Any) -> None:
        self.connection = connection
        super().__init__(*args, **kwargs)
        if connection.is_enabled:
            self.fields["unit_group_mapping_enabled"].disabled = True
            self.fields["unit_group_mapping_enabled"].help_text = "Editable only while the connection is disabled."


@with_registry_labels
class ConnectionSetupForm(EnvironmentURLMixin, SignInForm, BusinessCentralForm):
    """The connection setup page's edit form (field by field). Secrets blank = keep."""

    name = forms.CharField(max_length=100)
    web_api_version = forms.CharField(max_length=10, initial="9.2")
    ownership_model = forms.ChoiceField(choices=ConnectionSetup.OwnershipModel.choices)

    field_order = ["name", "dataverse_url", "drop_path", "authentication_type", "tenant_id", "authority_host",
                   "custom_authority_host", "client_id", "client_secret", "certificate", "certificate_thumbprint",
                   "username", "password", "connection_string", "web_api_version", "ownership_model"]

    def clean_web_api_version(self) -> str:
        return clean_web_api_version(self.cleaned_data["web_api_version"])


#: Length of the disable reason (BC: table 5330 CRM Connection Setup, field "Disable Reason", Text[250]).
DISABLE_REASON_MAX_LENGTH = 250


class DisableForm(forms.Form):
    """Disable the connection, optionally saying why (shown on the page, BC's "Disable Reason", Text[250]). A longer
    reason is a form error naming its length, never cut silently (the input carries no ``maxlength`` either, so a
    pasted text is not truncated by the browser)."""

    reason = forms.CharField(required=False, label="Reason (optional)",
                             help_text=f"Up to {DISABLE_REASON_MAX_LENGTH} characters; shown on the connection page.")

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"]
        if len(reason) > DISABLE_REASON_MAX_LENGTH:
            raise ValidationError(
                f"The reason can be at most {DISABLE_REASON_MAX_LENGTH} characters long; it has {len(reason)}. "
                "Shorten it; nothing was disabled.", code="max_length")
        return reason


class ConfirmForm(forms.Form):
    """An explicit confirmation for destructive actions (Use Default Synchronization Setup)."""

    confirm = forms.BooleanField(label="Yes, replace the mappings and job queue entries", required=True)


# ---------------------------------------------------------------------------- assisted setup wizard steps

class WizardEnvironmentForm(EnvironmentURLMixin):
    """Step 1: the environment URL (BC wizard step Start)."""


@with_registry_labels
class WizardSignInForm(SignInForm):
    """Step 2: sign-in of the integration identity (the administrator signs in with Microsoft at Finish, when the
    integration solution is imported)."""

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


@with_registry_labels
class WizardOptionsForm(SalesOptionsMixin):
    """Step 4: options (BC: page 1817 CRM Connection Setup Wizard, step Credentials, Advanced Connection Settings)."""

    import_solution = forms.BooleanField(required=False, initial=True, label="Import the integration solution")
    web_api_version = forms.CharField(max_length=10, initial="9.2")
    enable = forms.BooleanField(required=False, initial=True, label="Enable the connection")

    def clean_web_api_version(self) -> str:
        return clean_web_api_version(self.cleaned_data["web_api_version"])


@with_registry_labels
class WizardOwnershipForm(forms.Form):
    """Step 5: ownership model (BC: CDS Connection Setup Wizard, step OwnershipModel). Person: salespersons are
    coupled to Dataverse users."""

    ownership_model = forms.ChoiceField(
        choices=ConnectionSetup.OwnershipModel.choices, initial=ConnectionSetup.OwnershipModel.TEAM,
        widget=forms.RadioSelect,
        help_text="Team: records are owned by the business unit's default team. Person: records are owned by the "
        "Dataverse user coupled to the salesperson; the next step couples salespersons to users.",
    )


#: The salespersons step's error when nothing is coupled (BC: CoupleSalespersons "must couple before Next").
COUPLE_AT_LEAST_ONE = ("Couple at least one salesperson to a Dataverse user, or choose the Team ownership model.")


class WizardSalespersonsForm(forms.Form):
    """Step 6, Person model only (BC: CDS Connection Setup Wizard step CoupleSalespersons; "must couple before
    Next"): one choice of Dataverse user per BC salesperson, pre-selected where the e-mails match.

    ``salespeople`` and ``users`` are ``mappings.salespeople.SalespersonRow`` / ``UserRow``-like objects (``id``,
    ``code``/``name``, ``email``); ``matches`` maps a salesperson code to the pre-selected user id; ``load_error``
    (the lists could not be read: layer and fix) makes the form invalid with that message. ``cleaned_data`` gains
    ``salesperson_couplings``: ``[{"code", "salesperson_id", "systemuserid", "name", "user"}]`` (strings). A user
    can be chosen for one salesperson only (a coupling is one-to-one, BC: table 5331 CRM Integration Record)."""

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


class WizardPersonWarningForm(forms.Form):
    """Person model only, when salespersons stay uncoupled: the page lists them and how many of their customers,
    contacts and opportunities will fail to synchronize (:mod:`connections.actions.salesperson_impact`); going on
    needs this explicit acknowledgement (BC's wizard only says "must couple before Next"; the portal says what
    fails)."""

    acknowledge = forms.BooleanField(
        required=True, label="Continue with these salespersons uncoupled; their records fail until they are coupled",
        help_text="Or go Back and couple them; Couple Salespersons on the connection page can couple them later.")


class WizardReviewForm(forms.Form):
    """Last step: review and finish."""

    confirm = forms.BooleanField(required=True, initial=True, label="Save, test and apply this setup")
