"""User mapping required (BC: table 5330 CRM Connection Setup, field 61 Is User Mapping Required): a portal user's
Dataverse user is the one with the same e-mail, reachable by impersonation (Microsoft Learn: "Impersonate another user
using the Web API"); users without a match are refused the actions on records."""
from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.urls import reverse

from connections.clients.errors import AccessDeniedError
from connections.models import ConnectionSetup
from connections.users import UserNotMapped, dataverse_client_for_user, dataverse_user_for, user_has_integration_actions
from mappings.models import Coupling

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


def test_record_actions_are_refused_for_a_portal_user_without_a_dataverse_user(
        emulated_connection: ConnectionSetup, emulator_info: dict[str, Any], admin_user: Any, client: Any) -> None:
    """With User mapping required, a portal user whose e-mail is no enabled Dataverse user's cannot act on records;
    the message names the user and what to do, and nothing changes. With a matching e-mail the action runs."""
    ConnectionSetup.objects.filter(pk=emulated_connection.pk).update(user_mapping_required=True)
    coupling = Coupling.objects.create(connection=emulated_connection, bc_table="Item", bc_id=uuid.uuid4(),
                                       dataverse_table="product", dataverse_id=uuid.uuid4(), skipped=True)
    client.force_login(admin_user)
    refused = "no enabled Dataverse user has the e-mail of admin (admin@example.com)"

    page = client.post(reverse("mappings:coupling-delete", args=[coupling.pk]), follow=True).content.decode()
    assert f"Nothing was uncoupled: User mapping is required on {emulated_connection.name} and {refused}" in page
    page = client.post(reverse("syncjobs:coupling-synchronize", args=[coupling.pk]),
                       {"direction": "ToIntegrationTable"}, follow=True).content.decode()
    assert refused in page
    page = client.post(reverse("syncjobs:skippedrecord-action"), {
        "action": "remove_coupling", "coupling": [coupling.pk], "confirmed": "1"}, follow=True).content.decode()
    assert f"Nothing was done: User mapping is required on {emulated_connection.name}" in page
    assert Coupling.objects.filter(pk=coupling.pk, skipped=True).exists()

    admin_user.email = emulator_info["integration_user"]
    admin_user.save(update_fields=["email"])
    page = client.post(reverse("mappings:coupling-delete", args=[coupling.pk]), follow=True).content.decode()
    assert "Uncoupled Item" in page and not Coupling.objects.filter(pk=coupling.pk).exists()
