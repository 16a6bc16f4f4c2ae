"""RetrieveUserPrivileges and the tables' privilege metadata in the Dataverse emulator (Microsoft Learn:
"RetrieveUserPrivileges Function", "RolePrivilege ComplexType", "EntityMetadata EntityType",
"SecurityPrivilegeMetadata ComplexType")."""

from __future__ import annotations

from typing import Any

from emulators.testing import RunningEmulators

from .conftest import Api


def _names(dv: Api, user: str) -> set[str]:
    r = dv.get(f"systemusers({user})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()")
    assert r.status_code == 200, r.text
    return {p["PrivilegeName"] for p in r.json()["RolePrivileges"]}


def test_retrieve_user_privileges_follows_roles_and_revocations(dv: Api, emu: RunningEmulators,
                                                                info: dict[str, Any]) -> None:
    app_user = info["application_user_id"]
    r = dv.get(f"systemusers({app_user})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()")
    first = r.json()["RolePrivileges"][0]
    assert set(first) == {"Depth", "PrivilegeId", "BusinessUnitId", "PrivilegeName"}
    assert first["Depth"] == "Global" and first["BusinessUnitId"]
    assert {"prvReadAccount", "prvCreateAccount", "prvAppendToAccount"} <= _names(dv, app_user)
    emu.privileges("Basic User", revoke=["prvReadAccount"])
    assert "prvReadAccount" not in _names(dv, app_user)
    # the same privilege the request check refuses, with the same id
    denied = dv.get("accounts?$top=1").json()["error"]["message"]
    metadata = dv.get("EntityDefinitions(LogicalName='account')?$select=Privileges").json()["Privileges"]
    read = next(p for p in metadata if p["PrivilegeType"] == "Read")
    assert read["Name"] == "prvReadAccount" and f"(Id={read['PrivilegeId']})" in denied
    emu.privileges("Basic User", grant=["prvReadAccount"])
    assert "prvReadAccount" in _names(dv, app_user)


def test_privileges_in_table_metadata(dv: Api) -> None:
    one = dv.get("EntityDefinitions(LogicalName='account')?$select=LogicalName&$expand=Privileges").json()
    assert one["LogicalName"] == "account"
    assert {p["PrivilegeType"]: p["Name"] for p in one["Privileges"]} == {
        "Create": "prvCreateAccount", "Read": "prvReadAccount", "Write": "prvWriteAccount",
        "Delete": "prvDeleteAccount", "Append": "prvAppendAccount", "AppendTo": "prvAppendToAccount",
        "Assign": "prvAssignAccount", "Share": "prvShareAccount"}
    assert "Privileges" not in dv.get("EntityDefinitions(LogicalName='account')?$select=LogicalName").json()
    many = dv.get("EntityDefinitions?$select=LogicalName,Privileges"
                  "&$filter=LogicalName eq 'account' or LogicalName eq 'systemuser'").json()["value"]
    by_table = {row["LogicalName"]: {p["PrivilegeType"]: p["Name"] for p in row["Privileges"]} for row in many}
    assert set(by_table) == {"account", "systemuser"}
    assert by_table["systemuser"]["Read"] == "prvReadUser"
    currency = dv.get("EntityDefinitions(LogicalName='transactioncurrency')?$select=Privileges").json()["Privileges"]
    assert "Assign" not in {p["PrivilegeType"] for p in currency}  # organization-owned
