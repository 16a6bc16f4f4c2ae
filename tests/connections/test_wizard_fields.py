"""The assisted setup shows only what applies: the sign-in inputs of the chosen authentication type (others are
rendered hidden, switched live by static/connections/wizard.js), "Leave blank to keep the stored value" only where
a value is stored, the registry's labels, and in the Person ownership model a warning step listing the salespersons
left uncoupled with the BC customers, contacts and opportunities that will fail (driven against the emulators)."""
from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.urls import reverse

from emulators.testing import client_token
from tests.connections.test_wizard_salespersons import (
    MATCHED,
    _field,
    _post,
    _through_ownership,
)
from tests.connections.test_wizard_secrets import STEPS

pytestmark = pytest.mark.django_db


def _field_block(page: str, name: str) -> str:
    """The ``<div class="field" …>`` opening tag that holds the input ``name``."""
    match = re.search(r'<div class="field"[^>]*>(?:(?!<div class="field").)*?name="' + re.escape(name) + '"', page,
                      re.S)
    assert match, name
    return match.group(0).split(">", 1)[0]


def _signin_page(client: Any) -> str:
    client.get(reverse("connections:connection-wizard"))
    response = _post(client, "environment", STEPS[0][1])
    assert response.context["wizard"]["steps"].current == "signin"
    return response.content.decode()


def test_signin_step_shows_only_the_client_secret_inputs_on_first_setup(admin_client: Any) -> None:
    page = _signin_page(admin_client)
    assert "hidden" not in _field_block(page, "signin-client_secret")
    for name in ("certificate", "certificate_thumbprint", "username", "password", "connection_string"):
        block = _field_block(page, f"signin-{name}")
        assert block.endswith(" hidden"), name
    assert 'data-auth-selector="signin-authentication_type"' in page
    assert "connections/wizard.js" in page and "<script>" not in page  # external script only (CSP 'self')
    # nothing is stored yet, so nothing can be "kept"
    assert "Leave blank to keep" not in page


def test_signin_step_posted_with_another_type_shows_that_types_inputs(admin_client: Any) -> None:
    _signin_page(admin_client)
    response = _post(admin_client, "signin", {"authentication_type": "OAuth", "tenant_id": "",
                                              "client_id": ""})  # invalid: the step is shown again
    page = response.content.decode()
    assert response.context["wizard"]["steps"].current == "signin"
    assert "hidden" not in _field_block(page, "signin-username")
    assert "hidden" not in _field_block(page, "signin-password")
    assert _field_block(page, "signin-client_secret").endswith(" hidden")


def test_business_central_step_labels_and_basic_inputs_hidden(admin_client: Any) -> None:
    _signin_page(admin_client)
    response = _post(admin_client, "signin", STEPS[1][1])
    assert response.context["wizard"]["steps"].current == "businesscentral"
    page = response.content.decode()
    assert ">BC authentication type</label>" in page and "Bc authentication type" not in page
    assert _field_block(page, "businesscentral-bc_access_key").endswith(" hidden")
    assert _field_block(page, "businesscentral-bc_username").endswith(" hidden")
    assert "hidden" not in _field_block(page, "businesscentral-bc_client_secret")
    assert "Blank uses the Dataverse client secret." in page and "Leave blank to keep" not in page


def test_edit_says_leave_blank_to_keep_only_for_stored_secrets(admin_client: Any, connection: Any) -> None:
    assert connection.has_secret("client_secret") and not connection.has_secret("password")
    admin_client.get(reverse("connections:connection-wizard"))
    page = _post(admin_client, "environment", {"dataverse_url": connection.dataverse_url}).content.decode()
    secret = page.split('name="signin-client_secret"', 1)[1].split("</div>", 1)[0]
    password = page.split('name="signin-password"', 1)[1].split("</div>", 1)[0]
    assert "Leave blank to keep the stored value." in secret
    assert "Leave blank to keep" not in password


def _bc_count(info: dict[str, Any], emulator: Any, entity_set: str, code: str) -> int:
    """Records of ``entity_set`` with salesperson ``code``, counted straight from the extension's API page."""
    token = client_token(info, info["business_central_scope"])
    company = info["bc_companies"][0]["id"]
    base = info["bc_api_url"].split("/api/", 1)[0] + "/api/bcportal/integration/v1.0"
    rows = emulator.session.get(f"{base}/companies({company})/{entity_set}",
                                params={"$select": "salespersonCode"},
                                headers={"Authorization": f"Bearer {token}"}, timeout=30).json()["value"]
    return sum(1 for row in rows if row.get("salespersonCode") == code)


def test_person_model_warns_about_uncoupled_salespersons_and_what_fails(
        admin_client: Any, emulator_info: dict[str, Any], emulator: Any,
        salespeople: dict[str, dict[str, Any]]) -> None:
    _through_ownership(admin_client, emulator_info, "Person")
    form = _post(admin_client, "salespersons", {}).context["wizard"]["form"]
    users = {user.email.lower(): str(user.id) for user in form.users}
    chosen = {_field(salespeople[code]): users[email] for code, email in MATCHED.items()}
    response = _post(admin_client, "salespersons", chosen)
    assert response.context["wizard"]["steps"].current == "personwarning"
    page = html.unescape(response.content.decode())
    uncoupled = sorted(set(salespeople) - set(MATCHED))
    assert uncoupled
    rows = {code: counts for code, _name, counts in response.context["uncoupled"]}
    assert sorted(rows) == uncoupled
    for code in uncoupled:
        assert rows[code] == {"customers": _bc_count(emulator_info, emulator, "customers", code),
                              "contacts": _bc_count(emulator_info, emulator, "contacts", code),
                              "opportunities": _bc_count(emulator_info, emulator, "opportunities", code)}, code
        assert f"<td>{code}</td><td>{salespeople[code]['displayName']}</td>" in page
    assert sum(sum(c.values()) for c in rows.values()) > 0  # the demo's uncoupled salespersons own records
    assert "will stay uncoupled" in page and "fail to synchronize" in page

    # going on needs the acknowledgement; then the review follows
    refused = _post(admin_client, "personwarning", {})
    assert refused.context["wizard"]["steps"].current == "personwarning"
    assert _post(admin_client, "personwarning", {"acknowledge": "on"}).context["wizard"]["steps"].current == "review"


def test_team_model_has_no_warning_step(admin_client: Any, emulator_info: dict[str, Any]) -> None:
    response = _through_ownership(admin_client, emulator_info, "Team")
    assert response.context["wizard"]["steps"].current == "review"
    assert "personwarning" not in [name for name, _ in response.context["step_titles"]]
