"""User mapping required (BC: table 5330 CRM Connection Setup, field 61 Is User Mapping Required): work done on
behalf of a portal user runs as the Dataverse user with the same e-mail (impersonation, Microsoft Learn: "Impersonate
another user using the Web API"); users without a match lose the integration actions."""
from __future__ import annotations

from typing import Any

import pytest

from connections.clients.errors import AccessDeniedError
from connections.models import ConnectionSetup
from connections.users import UserNotMapped, dataverse_client_for_user, dataverse_user_for, user_has_integration_actions

pytestmark = pytest.mark.django_db


def test_matching_user_is_impersonated_and_others_lose_the_actions(
        emulated_connection: ConnectionSetup, emulator_info: dict[str, Any], django_user_model: Any) -> None:
    seller = django_user_model.objects.create_user("seller", emulator_info["integration_user"].upper(), "pw-123456789")
    stranger = django_user_model.objects.create_user("stranger", "nobody@example.com", "pw-123456789")

    # Off: everyone keeps the actions and work runs as the integration user.
    assert user_has_integration_actions(connection=emulated_connection, user=stranger)
    plain = dataverse_client_for_user(connection=emulated_connection, user=stranger)
    assert plain.who_am_i()["UserId"] == emulator_info["application_user_id"]

    ConnectionSetup.objects.filter(pk=emulated_connection.pk).update(user_mapping_required=True)
    emulated_connection.refresh_from_db()
    client = dataverse_client_for_user(connection=emulated_connection, user=seller)
    caller = dataverse_user_for(connection=emulated_connection, user=seller)
    assert client.caller_id == caller
    assert client.who_am_i()["UserId"] == str(caller) != emulator_info["application_user_id"]
    assert user_has_integration_actions(connection=emulated_connection, user=seller)

    assert not user_has_integration_actions(connection=emulated_connection, user=stranger)
    with pytest.raises(UserNotMapped, match="no enabled Dataverse user has the e-mail"):
        dataverse_client_for_user(connection=emulated_connection, user=stranger)


def test_impersonation_needs_act_on_behalf_of_another_user(
        emulated_connection: ConnectionSetup, emulator: Any, emulator_info: dict[str, Any],
        django_user_model: Any) -> None:
    """Microsoft Learn "Impersonate another user using the Web API": the application user needs
    prvActOnBehalfOfAnotherUser (the emulator's Basic User role grants it); without it Dataverse refuses every
    impersonated request with CannotActOnBehalfOfAnotherUser, which the portal reports with what to do."""
    seller = django_user_model.objects.create_user("seller", emulator_info["integration_user"], "pw-123456789")
    ConnectionSetup.objects.filter(pk=emulated_connection.pk).update(user_mapping_required=True)
    emulated_connection.refresh_from_db()
    client = dataverse_client_for_user(connection=emulated_connection, user=seller)
    created = client.create("accounts", {"name": "Written for the seller"})
    assert client.retrieve("accounts", created, select=["_createdonbehalfby_value"])[
        "_createdonbehalfby_value"] == emulator_info["application_user_id"]
    emulator.privileges("Basic User", revoke=["prvActOnBehalfOfAnotherUser"])
    with pytest.raises(AccessDeniedError) as caught:
        client.create("accounts", {"name": "Not written"})
    assert caught.value.code == "0x8004A110" and "prvActOnBehalfOfAnotherUser" in caught.value.message
    assert "directly" in caught.value.fix
