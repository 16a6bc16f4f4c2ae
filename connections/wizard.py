"""The assisted setup wizard (BC: page 1817 CRM Connection Setup Wizard and the CDS Connection Setup Wizard) on
django-formtools.

formtools keeps every step's POST data in the session until Finish; :class:`EncryptedSessionStorage` encrypts the
secret inputs (client secret, certificate, passwords, access keys, the OAuth connection string) with
``PORTAL_ENCRYPTION_KEY`` before they reach the session row, so no raw secret is ever stored there.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import render
from formtools.wizard.storage.session import SessionStorage
from formtools.wizard.views import SessionWizardView

from base import crypto
from base.permissions import Role, RoleRequiredMixin
from connections import forms
from connections.actions.configuration import connection_save
from connections.actions.finish import SalespersonListsUnavailable, salesperson_lists_read
from connections.actions.queue import FINISH_OPTIONS, connection_action_enqueue
from connections.actions.salesperson_impact import SalespersonImpactUnavailable, uncoupled_salespersons_impact
from connections.fields import BY_NAME, SECRET_INPUTS
from connections.models import ConnectionAction, ConnectionSetup
from connections.setup import connection_from_data
from connections.views import admin_signin_redirect, connectionaction_redirect
from mappings.models import Coupling
from mappings.salespeople import SALESPERSON_TABLE, USER_TABLE, SalespersonRow, UserRow, salespeople_match_by_email

#: Wizard inputs whose values are secrets (field names without the step prefix), from the registry of connection
#: fields.
WIZARD_SECRET_FIELDS = SECRET_INPUTS
_MARK = "enc:"


def _is_secret(key: str) -> bool:
    return key.rsplit("-", 1)[-1] in WIZARD_SECRET_FIELDS


class EncryptedSessionStorage(SessionStorage):
    """Session storage of the wizard that stores secret inputs Fernet-encrypted (``base.crypto``).

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
    ("salespersons", forms.WizardSalespersonsForm),
    ("personwarning", forms.WizardPersonWarningForm),
    ("review", forms.WizardReviewForm),
]
STEP_TITLES = {
    "environment": "Environment URL",
    "signin": "Sign-in",
    "businesscentral": "Business Central company and sign-in",
    "options": "Options",
    "ownership": "Ownership model",
    "salespersons": "Couple salespersons",
    "personwarning": "Uncoupled salespersons",
    "review": "Review and finish",
}
#: Non-secret inputs whose change means the salespersons step must read the two lists again.
_LIST_SOURCE_FIELDS = ("dataverse_url", "authentication_type", "tenant_id", "authority_host", "client_id",
                       "certificate_thumbprint", "username", "web_api_version", "bc_api_url", "bc_company",
                       "bc_authentication_type", "bc_client_id", "bc_username")


def person_model_chosen(wizard: SessionWizardView) -> bool:
    """formtools condition of the salespersons step: shown only when the Person ownership model is chosen
    (BC: CDS Connection Setup Wizard, where CoupleSalespersons is a Person-model step)."""
    data = wizard.get_cleaned_data_for_step("ownership") or {}
    return data.get("ownership_model") == ConnectionSetup.OwnershipModel.PERSON


def uncoupled_salespersons(wizard: SessionWizardView) -> list[tuple[str, str]]:
    """``[(code, name)]`` of the BC salespersons the salespersons step leaves without a Dataverse user (empty before
    that step is done, or outside the Person model)."""
    if not person_model_chosen(wizard):
        return []
    data = wizard.get_cleaned_data_for_step("salespersons")
    if not data:
        return []
    coupled = {pair["code"] for pair in data.get("salesperson_couplings") or []}
    cached = wizard.storage.extra_data.get("salesperson_lists") or {}
    return [(code, name) for _id, code, name, _email in cached.get("salespeople", []) if code not in coupled]


def salespersons_left_uncoupled(wizard: SessionWizardView) -> bool:
    """formtools condition of the Person-model warning step: shown when some salespersons stay uncoupled."""
    return bool(uncoupled_salespersons(wizard))


#: The authentication type selector of each step whose inputs depend on it.
AUTH_SELECTORS = {"signin": "authentication_type", "businesscentral": "bc_authentication_type"}
#: Help of a secret input on first setup, where no value is stored to keep (registry help otherwise).
FIRST_SETUP_SECRET_HELP = {"bc_client_secret": "Blank uses the Dataverse client secret."}


def chosen_authentication_type(form: Any, selector: str) -> str:
    """The authentication type a step's form shows the inputs of: the value posted, else the initial one (the stored
    connection's), else the field's default."""
    if form.is_bound:
        value = form.data.get(form.add_prefix(selector))
        if value:
            return str(value)
    return str(form.initial.get(selector) or form.fields[selector].initial or "")


def field_rows(form: Any, selector: str | None) -> list[tuple[Any, str, bool]]:
    """``[(bound field, "type type", hidden)]`` of a wizard step: an input used by some authentication types only
    (``shown_for`` in :mod:`connections.fields`) is hidden unless the chosen type uses it; static/connections/
    wizard.js switches the sections live when the type changes."""
    chosen = chosen_authentication_type(form, selector) if selector else ""
    rows = []
    for field in form:
        spec = BY_NAME.get(field.name)
        shown_for = spec.shown_for if spec is not None and selector else ()
        rows.append((field, " ".join(shown_for), bool(shown_for) and chosen not in shown_for))
    return rows


class ConnectionSetupWizard(RoleRequiredMixin, SessionWizardView):
    """Assisted setup: environment URL → sign-in → BC company → options → ownership model → (Person model only)
    couple salespersons → review → Finish.

    Finish saves what was entered and starts :func:`connections.actions.finish.connection_setup_finish` on a worker (see
    :meth:`done`); the action's status page shows its checklist. Only Integration
    Administrators may run it. A secret left blank when stepping back keeps the value entered before (and, for an
    existing connection, the stored one).
    """

    form_list = STEPS
    condition_dict = {"salespersons": person_model_chosen, "personwarning": salespersons_left_uncoupled}
    storage_name = "connections.wizard.EncryptedSessionStorage"
    template_name = "connections/connectionsetup_wizard.html"

    required_role = Role.INTEGRATION_ADMINISTRATOR

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

    def get_form_kwargs(self, step: str | None = None) -> dict[str, Any]:
        """The salespersons step gets BC's salespeople, the Dataverse users and the e-mail matches, read with the
        credentials entered so far (:func:`connections.actions.finish.salesperson_lists_read`, short timeout); a read
        failure becomes ``load_error`` (a form error naming the layer and the fix)."""
        kwargs = super().get_form_kwargs(step)
        if step == "salespersons":
            kwargs.update(self._salesperson_lists())
        return kwargs

    def _salesperson_lists(self) -> dict[str, Any]:
        """Read the two lists once per set of credentials (kept in the wizard's storage: names, e-mails and ids, no
        secret), so re-validating the step at Finish does not read them again."""
        data: dict[str, Any] = {}
        for step in ("environment", "signin", "businesscentral", "options"):
            data.update(self.get_cleaned_data_for_step(step) or {})
        key = hashlib.sha256(json.dumps([str(data.get(name) or "") for name in _LIST_SOURCE_FIELDS]).encode()
                             ).hexdigest()
        cached = self.storage.extra_data.get("salesperson_lists")
        if not (cached and cached.get("key") == key):
            probe = connection_from_data(data=data, existing=self._existing())
            try:
                salespeople, users = salesperson_lists_read(connection=probe)
            except SalespersonListsUnavailable as failed:
                return {"load_error": failed.text}
            cached = {"key": key,
                      "salespeople": [[str(p.id), p.code, p.name, p.email] for p in salespeople],
                      "users": [[str(u.id), u.name, u.email] for u in users]}
            extra = dict(self.storage.extra_data)
            extra["salesperson_lists"] = cached
            self.storage.extra_data = extra
        salespeople = [SalespersonRow(uuid.UUID(i), code, name, email)
                       for i, code, name, email in cached["salespeople"]]
        users = [UserRow(uuid.UUID(i), name, email) for i, name, email in cached["users"]]
        matches: dict[str, uuid.UUID] = {}
        existing = self._existing()
        if existing is not None:  # what is coupled already wins over an e-mail match

            coupled = dict(Coupling.objects.filter(connection=existing, bc_table=SALESPERSON_TABLE,
                                                   dataverse_table=USER_TABLE).values_list("bc_id", "dataverse_id"))
            known = {user.id for user in users}
            matches = {p.code: coupled[p.id] for p in salespeople if coupled.get(p.id) in known}
        taken = set(matches.values())
        for code, user_id in salespeople_match_by_email(salespeople, users).items():
            if code not in matches and user_id not in taken:
                matches[code] = user_id
                taken.add(user_id)
        return {"salespeople": salespeople, "users": users, "matches": matches}

    def get_form(self, step: str | None = None, data: Any = None, files: Any = None) -> Any:
        """The step's form, with each secret input's help saying what a blank does here: keep the stored value (only
        when one is stored), keep the value entered earlier in this wizard, or (first setup) nothing to keep."""
        form = super().get_form(step, data, files)
        step = step or self.steps.current
        existing = self._existing()
        entered = self.storage.get_step_data(step) or {}
        for name, field in form.fields.items():
            if name not in WIZARD_SECRET_FIELDS or name == "connection_string":
                continue
            if existing is not None and existing.has_secret(name):
                field.help_text = "Leave blank to keep the stored value."
            elif entered.get(form.add_prefix(name)):
                field.help_text = "Leave blank to keep the value entered before."
            else:
                spec = BY_NAME.get(name)
                field.help_text = FIRST_SETUP_SECRET_HELP.get(name, spec.help_text if spec else "")
        return form

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
        context["step_titles"] = [(name, STEP_TITLES[name]) for name in self.get_form_list()]
        context["step_title"] = STEP_TITLES[self.steps.current]
        existing = self._existing()
        context["existing"] = existing
        if self.steps.current == "review":
            context["summary"] = self._summary()
        context["field_rows"] = field_rows(form, AUTH_SELECTORS.get(self.steps.current))
        context["auth_selector"] = form.add_prefix(AUTH_SELECTORS[self.steps.current]) if (
            self.steps.current in AUTH_SELECTORS) else ""
        if self.steps.current == "personwarning":
            context.update(self._uncoupled_impact())
        if existing is not None:
            context["stored_secrets"] = {name for name in existing.SECRET_FIELDS if existing.has_secret(name)}
        return context

    def _uncoupled_impact(self) -> dict[str, Any]:
        """The uncoupled salespersons with their records that will fail, read once per set of salespersons (kept in
        the wizard's storage: codes and counts, no secret); a read failure is shown instead of the counts."""
        people = uncoupled_salespersons(self)
        key = json.dumps([(self.storage.extra_data.get("salesperson_lists") or {}).get("key"), people])
        cached = self.storage.extra_data.get("salesperson_impact")
        if not (cached and cached.get("key") == key):
            data: dict[str, Any] = {}
            for step in ("environment", "signin", "businesscentral", "options"):
                data.update(self.get_cleaned_data_for_step(step) or {})
            probe = connection_from_data(data=data, existing=self._existing())
            try:
                rows = uncoupled_salespersons_impact(connection=probe, salespersons=people)
            except SalespersonImpactUnavailable as failed:
                return {"uncoupled": [(code, name, None) for code, name in people], "impact_error": str(failed)}
            cached = {"key": key, "rows": [[r.code, r.name, r.counts] for r in rows]}
            extra = dict(self.storage.extra_data)
            extra["salesperson_impact"] = cached
            self.storage.extra_data = extra
        uncoupled = [(code, name, counts) for code, name, counts in cached["rows"]]
        totals = {label: sum(counts[label] for _c, _n, counts in uncoupled) for label in ("customers", "contacts",
                                                                                          "opportunities")}
        return {"uncoupled": uncoupled, "impact_totals": totals}

    def _summary(self) -> list[tuple[str, str]]:
        """Non-secret values entered so far, for the review step (secrets shown as "entered" / "kept")."""
        rows: list[tuple[str, str]] = []
        for step, form_class in self.get_form_list().items():
            if step in ("review", "personwarning"):
                continue
            data = self.get_cleaned_data_for_step(step) or {}
            for pair in data.get("salesperson_couplings") or []:
                rows.append((f"Salesperson {pair['code']} · {pair.get('name', '')}",
                             f"coupled to {pair.get('user') or pair['systemuserid']}"))
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
        """Finish: save what was entered at once (:func:`connections.actions.configuration.connection_save`, nothing
        remote; secrets encrypted), then start the remote steps (test, solution import, default configuration,
        enable) on a worker and redirect to the action's status page. With the solution import, the browser first
        goes to Microsoft's sign-in for a Dataverse administrator (:func:`connections.views.admin_signin_redirect`).
        Invalid data shows its errors and saves nothing."""
        data: dict[str, Any] = {}
        for form in form_list:
            data.update(form.cleaned_data)
        existing = self._existing()
        if existing is not None:
            data["name"] = existing.name
        try:
            connection = connection_save(connection=existing, data=data, user=self.request.user)
        except ValidationError as error:
            messages.error(self.request, " ".join(error.messages))
            return render(self.request, "connections/connectionsetup_finish.html", {"errors": error.messages})
        options = {name: data[name] for name in FINISH_OPTIONS if name in data}
        if data.get("import_solution"):
            # The solution import needs a Dataverse administrator: "Sign in with Microsoft" first; the callback
            # starts Finish with that sign-in's token (connections.views.admin_signin_callback).
            return admin_signin_redirect(self.request, connection, kind=ConnectionAction.Kind.FINISH, options=options)
        action = connection_action_enqueue(connection=connection, kind=ConnectionAction.Kind.FINISH,
                                           user=self.request.user, options=options)
        return connectionaction_redirect(self.request, action)
