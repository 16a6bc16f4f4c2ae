"""The assisted setup wizard (reference 2, 2.1) on django-formtools.

formtools keeps every step's POST data in the session until Finish; :class:`EncryptedSessionStorage` encrypts the
secret inputs (client secret, certificate, passwords, access keys, the OAuth connection string) with
``PORTAL_ENCRYPTION_KEY`` before they reach the session row, so no raw secret is ever stored there.
"""
from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from formtools.wizard.storage.session import SessionStorage
from formtools.wizard.views import SessionWizardView

from connections import forms, services
from connections.models import ConnectionSetup
from portal import crypto

#: Wizard inputs whose values are secrets (field names without the step prefix).
WIZARD_SECRET_FIELDS = frozenset(
    {"client_secret", "certificate", "password", "admin_password", "connection_string", "bc_client_secret",
     "bc_access_key"}
)
_MARK = "enc:"


def _is_secret(key: str) -> bool:
    return key.rsplit("-", 1)[-1] in WIZARD_SECRET_FIELDS


class EncryptedSessionStorage(SessionStorage):
    """Session storage of the wizard that stores secret inputs Fernet-encrypted (``portal.crypto``).

    ``set_step_data`` encrypts the values of secret keys (see :data:`WIZARD_SECRET_FIELDS`); ``get_step_data``
    decrypts them, so forms revalidated at Finish see the plaintext while the session row holds only ciphertext.
    """

    def set_step_data(self, step: str, cleaned_data: Any) -> None:
        data = dict(cleaned_data.lists()) if hasattr(cleaned_data, "lists") else dict(cleaned_data or {})
        for key, values in data.items():
            if _is_secret(key):
                data[key] = [_MARK + crypto.encrypt(v) if v else "" for v in values]
        super().set_step_data(step, data)

    def get_step_data(self, step: str) -> Any:
        values = super().get_step_data(step)
        if values is None:
            return None
        for key in list(values.keys()):
            if _is_secret(key):
                values.setlist(key, [crypto.decrypt(v[len(_MARK):]) if v.startswith(_MARK) else v
                                     for v in values.getlist(key)])
        return values


STEPS = [
    ("environment", forms.WizardEnvironmentForm),
    ("signin", forms.WizardSignInForm),
    ("businesscentral", forms.WizardBusinessCentralForm),
    ("options", forms.WizardOptionsForm),
    ("ownership", forms.WizardOwnershipForm),
    ("review", forms.WizardReviewForm),
]
STEP_TITLES = {
    "environment": "Environment URL",
    "signin": "Sign-in",
    "businesscentral": "Business Central company and sign-in",
    "options": "Options",
    "ownership": "Ownership model",
    "review": "Review and finish",
}


class ConnectionSetupWizard(SessionWizardView):
    """Assisted setup: environment URL → sign-in → BC company → options → ownership model → review → Finish.

    Finish calls :func:`connections.services.connection_setup_finish` and renders its checklist. Only Integration
    Administrators may run it. A secret left blank when stepping back keeps the value entered before (and, for an
    existing connection, the stored one).
    """

    form_list = STEPS
    storage_name = "connections.wizard.EncryptedSessionStorage"
    template_name = "connections/connectionsetup_wizard.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not services.user_can_administer(request.user):
            raise PermissionDenied("Only members of the Integration Administrator group may run the assisted setup.")
        return super().dispatch(request, *args, **kwargs)

    def _existing(self) -> ConnectionSetup | None:
        return ConnectionSetup.objects.order_by("created_at").first()

    def get_form_initial(self, step: str) -> dict[str, Any]:
        connection = self._existing()
        if connection is None:
            return {}
        initial = {name: getattr(connection, name) for name in (
            "dataverse_url", "authentication_type", "tenant_id", "client_id", "certificate_thumbprint", "username",
            "bc_api_url", "bc_tenant", "bc_environment", "bc_authentication_type", "bc_client_id", "bc_username",
            "bc_web_client_url", "legacy_sales_order_integration", "auto_create_sales_orders",
            "auto_process_sales_quotes", "bidirectional_sales_order_integration", "item_availability_enabled",
            "unit_group_mapping_enabled", "web_api_version", "ownership_model")}
        known = dict(forms.AUTHORITY_HOSTS)
        if connection.authority_host in known:
            initial["authority_host"] = connection.authority_host
        else:
            initial["custom_authority_host"] = connection.authority_host
        initial["bc_company"] = str(connection.bc_company_id or connection.bc_company_name or "")
        return initial

    def process_step(self, form: Any) -> Any:
        """Keep a secret entered earlier when the field is left blank on a revisit (never re-rendered)."""
        data = form.data.copy()
        previous = self.storage.get_step_data(self.steps.current)
        if previous is not None:
            for key in list(data.keys()):
                if _is_secret(key) and not data.get(key) and previous.get(key):
                    data[key] = previous.get(key)
        return data

    def get_context_data(self, form: Any, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(form=form, **kwargs)
        context["step_titles"] = [(name, STEP_TITLES[name]) for name, _ in STEPS]
        context["step_title"] = STEP_TITLES[self.steps.current]
        existing = self._existing()
        context["existing"] = existing
        if self.steps.current == "review":
            context["summary"] = self._summary()
        if existing is not None:
            context["stored_secrets"] = {name for name in existing.SECRET_FIELDS if existing.has_secret(name)}
        return context

    def _summary(self) -> list[tuple[str, str]]:
        """Non-secret values entered so far, for the review step (secrets shown as "entered" / "kept")."""
        rows: list[tuple[str, str]] = []
        for step, form_class in STEPS[:-1]:
            data = self.get_cleaned_data_for_step(step) or {}
            for name, field in form_class.base_fields.items():
                if name in ("drop_path", "custom_authority_host", "connection_string"):
                    continue
                value = data.get(name)
                if name in WIZARD_SECRET_FIELDS:
                    text = "entered (encrypted)" if value else "not entered"
                elif isinstance(value, bool):
                    text = "Yes" if value else "No"
                else:
                    text = str(value or "—")
                rows.append((str(field.label or name.replace("_", " ").capitalize()), text))
        return rows

    def done(self, form_list: Any, **kwargs: Any) -> HttpResponse:
        data: dict[str, Any] = {}
        for form in form_list:
            data.update(form.cleaned_data)
        existing = self._existing()
        if existing is not None:
            data["name"] = existing.name
        try:
            report = services.connection_setup_finish(data=data, user=self.request.user)
        except ValidationError as error:
            messages.error(self.request, " ".join(error.messages))
            return render(self.request, "connections/connectionsetup_finish.html", {"report": None,
                                                                                     "errors": error.messages})
        connection = ConnectionSetup.objects.get(name=data.get("name") or "Dynamics 365 Sales")
        return render(self.request, "connections/connectionsetup_finish.html", {
            "report": report, "connection": connection, "links": _links(connection),
        })


def _links(connection: ConnectionSetup) -> dict[str, str | None]:
    """URLs of other apps' pages, when those apps provide them (None otherwise)."""
    from connections.views import optional_url

    return {
        "mappings": optional_url("mappings:index"),
        "full_sync_review": optional_url("syncjobs:fullsyncreview-detail", connection.pk),
        "skipped_records": optional_url("syncjobs:skippedrecord-list"),
        "job_queue_entries": optional_url("syncjobs:jobqueueentry-list"),
        "couple_salespersons": optional_url("mappings:salesperson-list", connection.pk),
    }
