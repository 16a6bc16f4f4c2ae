"""The assisted setup's "Couple salespersons" step (Person ownership model only; BC: CDS Connection Setup Wizard
step CoupleSalespersons, "must couple before Next"), driven with the Django test client against the
emulators, and the Finish step that applies the couplings (``connection_setup_finish``) and its scripted twin
``setup_connection --couple-salespersons-by-email``."""
from __future__ import annotations

import html
import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse

from connections import forms
from connections.actions.finish import connection_setup_finish
from connections.models import ConnectionSetup
from mappings.models import Coupling
from tests.connections.admin_signin import ApprovingStream, admin_tokens_for
from tests.connections.conftest import admin_dataverse
from tests.connections.test_wizard_secrets import wizard_steps_for_emulator

pytestmark = pytest.mark.django_db

WIZARD = "connection_setup_wizard"
#: The emulator seeds Dataverse users for these CRONUS salespeople (emulators/seed.py SALES_USER_CODES).
MATCHED = {"EH": "eh@contoso.com", "JO": "jo@contoso.com", "LT": "lt@contoso.com", "OF": "of@contoso.com"}


def _post(client: Any, step: str, values: dict[str, str]) -> Any:
    data = {f"{WIZARD}-current_step": step}
    data.update({f"{step}-{name}": value for name, value in values.items()})
    return client.post(reverse("connections:connection-wizard"), data)


def _through_ownership(client: Any, info: dict[str, Any], model: str, **overrides: dict[str, str]) -> Any:
    """Post the steps up to and including the ownership step; returns the last response."""
    client.get(reverse("connections:connection-wizard"))
    response = None
    for step, values in wizard_steps_for_emulator(info):
        if step == "review":
            break
        values = {**values, **overrides.get(step, {})}
        if step == "ownership":
            values = {"ownership_model": model}
        response = _post(client, step, values)
        assert response.status_code == 200
    return response


@pytest.fixture
def users(emulator_info: dict[str, Any]) -> dict[str, str]:
    """Dataverse systemuserid by primary e-mail (lower case)."""
    return {str(row.get("internalemailaddress") or "").lower(): row["systemuserid"] for row in admin_dataverse(
        emulator_info).iter_rows("systemusers", select=["systemuserid", "internalemailaddress"])}


def _field(person: dict[str, Any]) -> str:
    return f"salesperson_{uuid.UUID(person['id']).hex}"


def test_team_model_skips_the_step(admin_client: Any, emulator_info: dict[str, Any]) -> None:
    response = _through_ownership(admin_client, emulator_info, "Team")
    assert response.context["wizard"]["steps"].current == "review"
    assert "Couple salespersons" not in response.content.decode()
    assert [name for name, _ in response.context["step_titles"]] == [
        "environment", "signin", "businesscentral", "options", "ownership", "review"]


def test_person_model_lists_users_and_salespeople_with_email_prematch(
        admin_client: Any, emulator_info: dict[str, Any], salespeople: dict[str, dict[str, Any]],
        users: dict[str, str]) -> None:
    response = _through_ownership(admin_client, emulator_info, "Person")
    assert response.context["wizard"]["steps"].current == "salespersons"
    page = html.unescape(response.content.decode())
    assert "Couple salespersons" in page and "Users whose e-mail matches" in page
    form = response.context["wizard"]["form"]
    for code, person in salespeople.items():
        assert f"{code} · {person['displayName']}" in page
        expected = users[MATCHED[code]] if code in MATCHED else ""
        assert form[_field(person)].initial == expected, code
    # the offered users: enabled, licensed, not the integration (application) user
    offered = {value for value, _ in form.fields[_field(salespeople["JO"])].choices}
    assert users[MATCHED["JO"]] in offered and users[emulator_info["admin_user"].lower()] in offered
    assert emulator_info["application_user_id"] not in offered
    assert "Jim Olive <jo@contoso.com>" in page
    assert f'<option value="{users[MATCHED["JO"]]}" selected>' in page


def test_next_without_a_coupling_is_refused(admin_client: Any, emulator_info: dict[str, Any],
                                            salespeople: dict[str, dict[str, Any]]) -> None:
    _through_ownership(admin_client, emulator_info, "Person")
    response = _post(admin_client, "salespersons", {_field(person): "" for person in salespeople.values()})
    assert response.context["wizard"]["steps"].current == "salespersons"
    assert forms.COUPLE_AT_LEAST_ONE in html.unescape(response.content.decode())


def test_one_user_for_two_salespersons_is_refused(admin_client: Any, emulator_info: dict[str, Any],
                                                  salespeople: dict[str, dict[str, Any]],
                                                  users: dict[str, str]) -> None:
    _through_ownership(admin_client, emulator_info, "Person")
    jim = users[MATCHED["JO"]]
    response = _post(admin_client, "salespersons", {_field(salespeople["JO"]): jim, _field(salespeople["RB"]): jim})
    assert response.context["wizard"]["steps"].current == "salespersons"
    assert "a user can be coupled to one salesperson only" in html.unescape(response.content.decode())


def test_finish_creates_the_chosen_couplings(admin_client: Any, emulator_info: dict[str, Any],
                                             salespeople: dict[str, dict[str, Any]], users: dict[str, str],
                                             admin_user: Any) -> None:
    response = _through_ownership(admin_client, emulator_info, "Person")
    chosen = {_field(salespeople[code]): users[email] for code, email in MATCHED.items()}
    chosen[_field(salespeople["RB"])] = users[emulator_info["admin_user"].lower()]  # a pair the admin picks
    # salespersons left uncoupled: the Person-model warning step comes first
    assert _post(admin_client, "salespersons", chosen).context["wizard"]["steps"].current == "personwarning"
    response = _post(admin_client, "personwarning", {"acknowledge": "on"})
    assert response.context["wizard"]["steps"].current == "review"
    summary = dict(response.context["summary"])
    assert summary["Salesperson JO · Jim Olive"] == "coupled to Jim Olive"
    assert summary["Salesperson RB · Robin Bettencourt"] == "coupled to System Administrator"

    # Finish with the wizard's data (the step's form re-validated from the session, as done() does)
    storage = admin_client.session[f"wizard_{WIZARD}"]
    data = dict(wizard_data(storage, emulator_info))
    report = connection_setup_finish(data=data, user=admin_user, timeout=10)
    step = next(s for s in report.steps if s.name == "Couple salespersons")
    assert step.ok is True, report.as_dict()
    assert step.message == "5 salespersons coupled to Dataverse users."
    assert report.ok, report.as_dict()
    connection = ConnectionSetup.objects.get()
    assert connection.is_enabled and connection.ownership_model == ConnectionSetup.OwnershipModel.PERSON
    coupled = dict(Coupling.objects.filter(connection=connection, bc_table="Salesperson/Purchaser",
                                           dataverse_table="systemuser").values_list("bc_id", "dataverse_id"))
    expected = {uuid.UUID(salespeople[code]["id"]): uuid.UUID(users[email]) for code, email in MATCHED.items()}
    expected[uuid.UUID(salespeople["RB"]["id"])] = uuid.UUID(users[emulator_info["admin_user"].lower()])
    assert coupled == expected
    # finishing again (same data, a new administrator sign-in) couples nothing twice
    again = connection_setup_finish(data={**data, "admin_tokens": admin_tokens_for(emulator_info)}, user=admin_user,
                                    timeout=10)
    step = next(s for s in again.steps if s.name == "Couple salespersons")
    assert step.ok and step.message == "0 salespersons coupled to Dataverse users; 5 were already coupled."
    assert Coupling.objects.filter(connection=connection, bc_table="Salesperson/Purchaser").count() == 5


def test_finish_without_enabling_still_couples(admin_client: Any, emulator_info: dict[str, Any],
                                               salespeople: dict[str, dict[str, Any]], users: dict[str, str],
                                               admin_user: Any) -> None:
    """Finish with "Enable the connection" unticked: the default configuration is created On Hold and the chosen
    couplings are still applied, so the administrator does not have to couple again after enabling."""
    _through_ownership(admin_client, emulator_info, "Person")
    chosen = {_field(salespeople[code]): users[email] for code, email in MATCHED.items()}
    # salespersons left uncoupled: the Person-model warning step comes first
    assert _post(admin_client, "salespersons", chosen).context["wizard"]["steps"].current == "personwarning"
    response = _post(admin_client, "personwarning", {"acknowledge": "on"})
    assert response.context["wizard"]["steps"].current == "review"
    data = wizard_data(admin_client.session[f"wizard_{WIZARD}"], emulator_info)
    data["enable"] = False
    report = connection_setup_finish(data=data, user=admin_user, timeout=10)
    assert report.ok, report.as_dict()
    connection = ConnectionSetup.objects.get()
    assert not connection.is_enabled
    step = next(s for s in report.steps if s.name == "Couple salespersons")
    assert step.ok is True and step.message == f"{len(MATCHED)} salespersons coupled to Dataverse users."
    assert Coupling.objects.filter(connection=connection, bc_table="Salesperson/Purchaser").count() == len(MATCHED)


def wizard_data(storage: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    """The cleaned data of every step the wizard stored, merged as ``done()`` merges it (secrets come from the
    emulator's line: the session holds them encrypted)."""
    from mappings.salespeople import SalespersonRow, UserRow
    from tests.connections.conftest import emulator_setup_data

    lists = storage["extra_data"]["salesperson_lists"]
    step_data = storage["step_data"]["salespersons"]
    form = forms.WizardSalespersonsForm(
        data={key: values[0] for key, values in step_data.items()}, prefix="salespersons",
        salespeople=[SalespersonRow(uuid.UUID(i), code, name, email) for i, code, name, email in lists["salespeople"]],
        users=[UserRow(uuid.UUID(i), name, email) for i, name, email in lists["users"]])
    assert form.is_valid(), form.errors
    data = emulator_setup_data(info, name="Dynamics 365 Sales", ownership_model="Person", import_solution=True,
                               enable=True)
    data["salesperson_couplings"] = form.cleaned_data["salesperson_couplings"]
    data["admin_tokens"] = admin_tokens_for(info)  # the administrator's sign-in with Microsoft, used once
    return data


def test_unreachable_dataverse_is_a_form_error_naming_layer_and_fix(admin_client: Any, emulator: Any,
                                                                    emulator_info: dict[str, Any]) -> None:
    emulator.control(drop_rate=1.0, fault_services=["dataverse"])  # Dataverse drops every connection
    response = _through_ownership(admin_client, emulator_info, "Person")
    assert response.context["wizard"]["steps"].current == "salespersons"
    page = html.unescape(response.content.decode())
    assert "Could not read the salespersons and users (connection layer)" in page
    assert "Fix: " in page and "choose the Team ownership model" in page
    assert 'value="ownership"' in page  # the Back button
    refused = _post(admin_client, "salespersons", {})
    assert refused.status_code == 200 and refused.context["wizard"]["steps"].current == "salespersons"
    back = admin_client.post(reverse("connections:connection-wizard"),
                             {f"{WIZARD}-current_step": "salespersons", "wizard_goto_step": "ownership"})
    assert back.context["wizard"]["steps"].current == "ownership"
    # once Dataverse answers again, the step reads the lists (a failure is not remembered)
    emulator.control(drop_rate=0.0)
    again = _post(admin_client, "ownership", {"ownership_model": "Person"})
    assert again.context["wizard"]["form"].users and not again.context["wizard"]["form"].load_error


def test_url_that_is_not_the_environment_names_the_environment_layer(admin_client: Any,
                                                                     emulator_info: dict[str, Any],
                                                                     settings: Any) -> None:
    settings.OUTBOUND_ALLOWED_HOSTS = [*settings.OUTBOUND_ALLOWED_HOSTS, "127.0.0.1:9"]  # nothing listens there
    response = _through_ownership(admin_client, emulator_info, "Person",
                                  environment={"dataverse_url": "https://127.0.0.1:9"})
    page = html.unescape(response.content.decode())
    assert "Could not read the salespersons and users (environment layer): AADSTS500011" in page


def test_setup_connection_couples_by_email(emulator_info: dict[str, Any], tmp_path: Path,
                                           salespeople: dict[str, dict[str, Any]], users: dict[str, str]) -> None:
    line = tmp_path / "emulator.json"
    line.write_text(json.dumps(emulator_info) + "\n")
    out = io.StringIO()
    call_command("setup_connection", "--from-emulator", str(line), "--import-solution", "--enable",
                 "--ownership-model", "Person", "--couple-salespersons-by-email", stdout=out,
                 stderr=ApprovingStream(emulator_info))
    assert "[OK  ] Couple salespersons: 4 salespersons coupled to Dataverse users." in out.getvalue()
    coupled = dict(Coupling.objects.filter(bc_table="Salesperson/Purchaser").values_list("bc_id", "dataverse_id"))
    assert coupled == {uuid.UUID(salespeople[code]["id"]): uuid.UUID(users[email]) for code, email in MATCHED.items()}


def test_couple_by_email_needs_the_person_model(emulator_info: dict[str, Any], tmp_path: Path) -> None:
    from django.core.management import CommandError

    line = tmp_path / "emulator.json"
    line.write_text(json.dumps(emulator_info) + "\n")
    with pytest.raises(CommandError, match="needs --ownership-model Person"):
        call_command("setup_connection", "--from-emulator", str(line), "--couple-salespersons-by-email")
    assert not ConnectionSetup.objects.exists()
