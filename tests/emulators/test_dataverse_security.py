"""Security roles and disabled users in the Dataverse emulator (protocols.md B12, B13 ``0x80040220``, C9)."""

from __future__ import annotations

from typing import Any

from emulators.testing import RunningEmulators

from .conftest import Api


def _basic_user(admin_dv: Api) -> str:
    return admin_dv.get("roles?$select=name&$filter=name eq 'Basic User'").json()["value"][0]["roleid"]


def test_caller_without_any_role_is_denied(dv: Api, admin_dv: Api, info: dict[str, Any]) -> None:
    app_user = info["application_user_id"]
    role = _basic_user(admin_dv)
    assert dv.get("accounts?$top=1").status_code == 200  # seeded with "Basic User"
    r = admin_dv.delete(f"systemusers({app_user})/systemuserroles_association({role})/$ref")
    assert r.status_code == 204
    denied = dv.get("accounts?$top=1")
    assert denied.status_code == 403
    error = denied.json()["error"]
    assert error["code"] == "0x80040220"
    assert error["message"].startswith(f"Principal user (Id={app_user}, type=8, roleCount=0")
    assert "missing prvReadAccount privilege" in error["message"]
    create = dv.post("accounts", json={"name": "No role"})
    assert create.status_code == 403 and "prvCreateAccount" in create.json()["error"]["message"]
    assert "prvReadUser" in dv.get(f"systemusers({app_user})").json()["error"]["message"]
    assert dv.get("EntityDefinitions?$select=LogicalName").status_code == 403
    # any enabled user of the organization may call WhoAmI and RetrieveVersion
    assert dv.get("WhoAmI").json()["UserId"] == app_user
    assert dv.get("RetrieveVersion()").status_code == 200
    assert admin_dv.get("accounts?$filter=name eq 'No role'").json()["value"] == []
    # a role through a team counts as well
    team = admin_dv.get("teams?$select=name&$filter=isdefault eq true").json()["value"][0]["teamid"]
    assert admin_dv.post(f"teams({team})/teamroles_association/$ref",
                         json={"@odata.id": f"{admin_dv.base}roles({role})"}).status_code == 204
    assert admin_dv.post(f"systemusers({app_user})/teammembership_association/$ref",
                         json={"@odata.id": f"{admin_dv.base}teams({team})"}).status_code == 204
    assert dv.get("accounts?$top=1").status_code == 200


def test_impersonating_a_user_without_roles_is_denied(dv: Api, admin_dv: Api) -> None:
    """B12: effective rights are the intersection of the caller's and the impersonated user's."""
    admin_id = admin_dv.get("WhoAmI").json()["UserId"]
    bare = admin_dv.post("systemusers", json={"firstname": "No", "lastname": "Roles", "domainname": "noroles@x.test",
                                              "businessunitid@odata.bind": "/businessunits(" + admin_dv.get(
                                                  "WhoAmI").json()["BusinessUnitId"] + ")"},
                         headers={"Prefer": "return=representation"})
    assert bare.status_code == 201, bare.text
    denied = dv.post("accounts", json={"name": "On behalf of nobody"},
                     headers={"MSCRMCallerID": bare.json()["systemuserid"]})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "0x80040220"
    ok = dv.post("accounts", json={"name": "On behalf of admin"}, headers={"MSCRMCallerID": admin_id})
    assert ok.status_code == 204


def test_batch_parts_are_checked(dv: Api, admin_dv: Api, info: dict[str, Any]) -> None:
    admin_dv.delete(f"systemusers({info['application_user_id']})/systemuserroles_association"
                    f"({_basic_user(admin_dv)})/$ref")
    body = (f"--batch_P\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
            f"GET {dv.base}accounts?$top=1 HTTP/1.1\r\nAccept: application/json\r\n\r\n--batch_P--\r\n")
    r = dv.post("$batch", data=body.encode(), headers={"Content-Type": "multipart/mixed;boundary=batch_P"})
    assert r.status_code == 200 and "HTTP/1.1 403" in r.text and "0x80040220" in r.text


def test_disabling_a_user_takes_effect(emu: RunningEmulators, dv: Api, admin_dv: Api, info: dict[str, Any]) -> None:
    """An administrator's ``PATCH systemusers(id) {"isdisabled": true}`` is stored, read back and enforced."""
    app_user = info["application_user_id"]
    r = admin_dv.patch(f"systemusers({app_user})", json={"isdisabled": True})
    assert r.status_code == 204, r.text
    assert admin_dv.get(f"systemusers({app_user})?$select=isdisabled").json()["isdisabled"] is True
    who = dv.get("WhoAmI")
    assert who.status_code == 403 and who.json()["error"]["code"] == "0x80040225"
    assert f"SystemUserId={app_user}" in who.json()["error"]["message"] and "is disabled" in who.json()["error"][
        "message"]
    assert dv.get("accounts?$top=1").status_code == 403
    assert admin_dv.patch(f"systemusers({app_user})", json={"isdisabled": False}).status_code == 204
    assert dv.get("WhoAmI").json()["UserId"] == app_user
    bad = admin_dv.patch(f"systemusers({app_user})", json={"isdisabled": "yes"})
    assert bad.status_code == 400


def test_privilege_enforcement_can_be_switched_off(emu: RunningEmulators, dv: Api, admin_dv: Api,
                                                  info: dict[str, Any]) -> None:
    admin_dv.delete(f"systemusers({info['application_user_id']})/systemuserroles_association"
                    f"({_basic_user(admin_dv)})/$ref")
    assert dv.get("accounts?$top=1").status_code == 403
    emu.control(enforce_privileges=False)
    assert dv.get("accounts?$top=1").status_code == 200
