"""The registry of connection fields is the one list that the model, the forms, the command and the change log read."""
from __future__ import annotations

import pytest
from django.core.management import call_command

from connections import fields as connection_fields
from connections import forms
from connections.models import ConnectionSetup, ConnectionSetupChange
from connections.setup import connection_values_save

pytestmark = pytest.mark.django_db

AUTH_TYPES = set(ConnectionSetup.AuthenticationType.values) | set(ConnectionSetup.BCAuthenticationType.values)


def test_every_stored_field_is_a_model_field_and_every_authentication_type_a_real_choice() -> None:
    model_fields = {field.name for field in ConnectionSetup._meta.get_fields()}
    for spec in connection_fields.FIELDS:
        assert (spec.name in model_fields) == spec.stored, spec.name
        assert set(spec.shown_for) <= AUTH_TYPES, spec.name
        assert not spec.variable or spec.secret, spec.name


def test_the_model_encrypts_exactly_the_registry_secrets() -> None:
    encrypted = {field.name for field in ConnectionSetup._meta.get_fields()
                 if type(field).__name__ == "EncryptedTextField"}
    assert set(ConnectionSetup.SECRET_FIELDS) == encrypted == set(connection_fields.SECRET_FIELDS)


@pytest.mark.parametrize("form_class", [forms.ConnectionSetupForm, forms.WizardSignInForm,
                                        forms.WizardBusinessCentralForm, forms.WizardOptionsForm,
                                        forms.WizardEnvironmentForm])
def test_forms_take_labels_and_help_from_the_registry(form_class: type) -> None:
    form = form_class()
    checked = 0
    for name, field in form.fields.items():
        spec = connection_fields.BY_NAME.get(name)
        if spec is None:
            continue
        checked += 1
        assert field.label == spec.label
        if spec.help_text:
            assert field.help_text == spec.help_text
    assert checked


def test_the_bc_authentication_type_has_a_proper_label() -> None:
    assert forms.ConnectionSetupForm().fields["bc_authentication_type"].label == "BC authentication type"


def test_the_command_offers_every_registry_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        call_command("setup_connection", "--help")
    usage = capsys.readouterr().out
    for spec in (*connection_fields.COMMAND_OPTIONS, *connection_fields.COMMAND_SECRETS):
        assert spec.option in usage
    for spec in connection_fields.COMMAND_SECRETS:
        assert spec.variable in usage


def test_the_change_log_masks_registry_secrets() -> None:
    connection, changed = connection_values_save(
        connection=None, data={"name": "Registry", "dataverse_url": "https://contoso.crm.dynamics.com",
                               "client_secret": "s3cret-value", "bc_access_key": "key-value"}, user=None)
    assert {"client_secret", "bc_access_key"} <= set(changed)
    logged = list(connection.changes.values_list("field", "new_value"))
    assert ("client_secret", ConnectionSetupChange.MASK) in logged
    assert ("bc_access_key", ConnectionSetupChange.MASK) in logged
    assert all("s3cret-value" not in value and "key-value" not in value for _, value in logged)
