"""Security roles and disabled users in the Dataverse emulator (Microsoft Learn "Security concepts in Microsoft
Dataverse", "Impersonate another user using the Web API"; ``0x80040220``)."""

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
    """Effective rights are the intersection of the caller's and the impersonated user's."""
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


def test_impersonation_needs_act_on_behalf_of_another_user(emu: RunningEmulators, dv: Api, admin_dv: Api,
                                                         info: dict[str, Any]) -> None:
    """Microsoft Learn "Impersonate another user using the Web API": the caller needs prvActOnBehalfOfAnotherUser;
    "Impersonate another user": from a role assigned to it directly, not through a team. Refused with
    CannotActOnBehalfOfAnotherUser (403 0x8004A110, "Web service error codes")."""
    app_user = info["application_user_id"]
    admin = admin_dv.get("WhoAmI").json()
    on_behalf = {"MSCRMCallerID": admin["UserId"]}
    assert dv.post("accounts", json={"name": "Delegated"}, headers=on_behalf).status_code == 204  # via Basic User
    emu.privileges("Basic User", revoke=["prvActOnBehalfOfAnotherUser"])
    denied = dv.post("accounts", json={"name": "Not delegated"}, headers=on_behalf)
    assert denied.status_code == 403
    error = denied.json()["error"]
    assert error["code"] == "0x8004A110"
    assert error["message"].startswith("User does not have the privilege to act on behalf another user. "
                                       f"Principal user (Id={app_user}, type=8, roleCount=1")
    assert "is missing prvActOnBehalfOfAnotherUser privilege" in error["message"]
    assert admin_dv.get("accounts?$filter=name eq 'Not delegated'").json()["value"] == []
    assert dv.get("WhoAmI", headers=on_behalf).status_code == 403  # every request that impersonates
    oid = admin_dv.get(f"systemusers({admin['UserId']})?$select=azureactivedirectoryobjectid").json()[
        "azureactivedirectoryobjectid"]
    assert dv.get("WhoAmI", headers={"CallerObjectId": oid}).json()["error"]["code"] == "0x8004A110"
    assert dv.get("WhoAmI").json()["UserId"] == app_user  # without impersonation nothing changes
    # a role held through a team does not count for this privilege
    delegate = admin_dv.get("roles?$select=name&$filter=name eq 'Delegate'").json()["value"][0]["roleid"]
    team = admin_dv.get("teams?$select=name&$filter=isdefault eq true").json()["value"][0]["teamid"]
    assert admin_dv.post(f"teams({team})/teamroles_association/$ref",
                         json={"@odata.id": f"{admin_dv.base}roles({delegate})"}).status_code == 204
    assert admin_dv.post(f"systemusers({app_user})/teammembership_association/$ref",
                         json={"@odata.id": f"{admin_dv.base}teams({team})"}).status_code == 204
    assert dv.post("accounts", json={"name": "Through a team"}, headers=on_behalf).status_code == 403
    assert admin_dv.post(f"systemusers({app_user})/systemuserroles_association/$ref",
                         json={"@odata.id": f"{admin_dv.base}roles({delegate})"}).status_code == 204
    assert dv.post("accounts", json={"name": "Directly"}, headers=on_behalf).status_code == 204
    created = admin_dv.get("accounts?$select=_createdby_value,_createdonbehalfby_value&$filter=name eq 'Directly'"
                           ).json()["value"][0]
    assert (created["_createdby_value"], created["_createdonbehalfby_value"]) == (admin["UserId"], app_user)


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


def test_revoked_privilege_is_denied_with_dataverse_error(emu: RunningEmulators, dv: Api, admin_dv: Api,
                                                          info: dict[str, Any]) -> None:
    """A role grants privileges; revoking prvReadAccount from the app user's only role denies reading accounts with
    Dataverse's 403 body (``0x80040220``), other reads and other principals are unaffected."""
    app_user = info["application_user_id"]
    changed = emu.privileges("Basic User", revoke=["prvReadAccount"])
    assert [(r["name"], r["revoked"]) for r in changed] == [("Basic User", ["prvReadAccount"])]
    denied = dv.get("accounts?$top=1")
    assert denied.status_code == 403
    error = denied.json()["error"]
    assert error["code"] == "0x80040220"
    message = error["message"]
    assert message.startswith(f"Principal user (Id={app_user}, type=8, roleCount=1, privilegeCount=")
    assert "is missing prvReadAccount privilege (Id=" in message
    assert message.endswith(f") on OTC=1 for entity 'account'. context.Caller={app_user}")
    privilege_count = int(message.split("privilegeCount=")[1].split(",")[0])
    assert privilege_count > 100  # every other privilege of the role is still held
    # writing still works (prvCreateAccount is held), reading other tables too
    created = dv.post("accounts", json={"name": "Written without read"})
    assert created.status_code == 204
    assert dv.get("contacts?$top=1").status_code == 200
    assert admin_dv.get("accounts?$top=1").status_code == 200  # System Administrator keeps everything
    listed = emu.session.get(f"{emu.control_url}/privileges", timeout=30).json()["revoked"]
    assert list(listed.values()) == [["prvReadAccount"]]


def test_privilege_from_any_role_counts_and_grant_restores(emu: RunningEmulators, dv: Api, admin_dv: Api,
                                                           info: dict[str, Any]) -> None:
    app_user = info["application_user_id"]
    emu.privileges("Basic User", revoke=["prvReadTransactionCurrency", "prvWriteAccount"])
    assert "prvReadTransactionCurrency" in dv.get("transactioncurrencies").json()["error"]["message"]
    account = admin_dv.get("accounts?$top=1&$select=name").json()["value"][0]["accountid"]
    write = dv.patch(f"accounts({account})", json={"name": "Renamed"})
    assert write.status_code == 403 and "missing prvWriteAccount privilege" in write.json()["error"]["message"]
    # bulk messages need the verbs they perform: UpsertMultiple needs Create and Write
    upsert = dv.post("accounts/Microsoft.Dynamics.CRM.UpsertMultiple", json={"Targets": [
        {"@odata.type": "Microsoft.Dynamics.CRM.account", "name": "Bulk"}]})
    assert upsert.status_code == 403 and "prvWriteAccount" in upsert.json()["error"]["message"]
    # another role of the user that still grants the privilege is enough (the union of the roles)
    salesperson = admin_dv.get("roles?$select=name&$filter=name eq 'Salesperson'").json()["value"][0]["roleid"]
    assert admin_dv.post(f"systemusers({app_user})/systemuserroles_association/$ref",
                         json={"@odata.id": f"{admin_dv.base}roles({salesperson})"}).status_code == 204
    assert dv.get("transactioncurrencies").status_code == 200
    assert admin_dv.delete(f"systemusers({app_user})/systemuserroles_association({salesperson})/$ref"
                           ).status_code == 204
    assert dv.get("transactioncurrencies").status_code == 403
    emu.privileges("Basic User", grant=["prvReadTransactionCurrency"])
    assert dv.get("transactioncurrencies").status_code == 200
    assert dv.patch(f"accounts({account})", json={"name": "Renamed"}).status_code == 403


def test_impersonated_user_needs_the_privilege_too(emu: RunningEmulators, dv: Api, admin_dv: Api) -> None:
    """Effective rights are the intersection of the caller's and the impersonated user's privileges."""
    sales_user = admin_dv.get("systemusers?$select=fullname&$filter=internalemailaddress eq 'jo@contoso.com'"
                              ).json()["value"][0]["systemuserid"]
    emu.privileges("Salesperson", revoke=["prvCreateContact"])
    denied = dv.post("contacts", json={"lastname": "On behalf of Jim"}, headers={"MSCRMCallerID": sales_user})
    assert denied.status_code == 403
    assert f"Principal user (Id={sales_user}, type=8, roleCount=1" in denied.json()["error"]["message"]
    assert "prvCreateContact" in denied.json()["error"]["message"]
    assert dv.post("contacts", json={"lastname": "As the app"}).status_code == 204


def test_reset_restores_the_roles_and_bad_requests_are_refused(emu: RunningEmulators, dv: Api) -> None:
    emu.privileges("Basic User", revoke=["prvReadAccount"])
    assert dv.get("accounts?$top=1").status_code == 403
    emu.reset()
    assert dv.get("accounts?$top=1").status_code == 200
    control = f"{emu.control_url}/privileges"
    unknown_role = emu.session.post(control, json={"role": "No Such Role", "revoke": ["prvReadAccount"]}, timeout=30)
    assert unknown_role.status_code == 404 and "No Such Role" in unknown_role.json()["error"]
    unknown_privilege = emu.session.post(control, json={"role": "Basic User", "revoke": ["prvReadAcount"]},
                                         timeout=30)
    assert unknown_privilege.status_code == 400 and "prvReadAcount" in unknown_privilege.json()["error"]
    assert emu.session.post(control, json={"role": "Basic User", "revoke": "prvReadAccount"},
                            timeout=30).status_code == 400


def test_seeded_sales_users_carry_the_cronus_salespeople_emails(admin_dv: Api) -> None:
    users = admin_dv.get("systemusers?$select=fullname,internalemailaddress,islicensed,isdisabled"
                         "&$filter=endswith(internalemailaddress,'@contoso.com')").json()["value"]
    assert sorted((u["fullname"], u["internalemailaddress"]) for u in users) == [
        ("Ester Henderson", "eh@contoso.com"), ("Jim Olive", "jo@contoso.com"), ("Lina Townsend", "lt@contoso.com"),
        ("Otis Falls", "of@contoso.com")]
    assert all(u["islicensed"] and not u["isdisabled"] for u in users)


def test_bc_local_currency_is_settable(emu: RunningEmulators, bc: Api, cronus: str, info: dict[str, Any]) -> None:
    before = bc.get(f"companies({cronus})/companyInformation").json()["value"][0]
    assert before["currencyCode"] == "USD"
    changed = emu.local_currency("eur", company="CRONUS International Ltd.")
    assert changed == [{"id": cronus, "name": "CRONUS International Ltd.", "currencyCode": "EUR"}]
    after = bc.get(f"companies({cronus})/companyInformation").json()["value"][0]
    assert after["currencyCode"] == "EUR" and after["@odata.etag"] != before["@odata.etag"]
    other = next(c["id"] for c in info["bc_companies"] if c["id"] != cronus)
    assert bc.get(f"companies({other})/companyInformation").json()["value"][0]["currencyCode"] == "USD"
    # still read-only through the API (BC maintains it in General Ledger Setup)
    assert bc.patch(f"companies({cronus})/companyInformation({after['id']})", json={"currencyCode": "GBP"},
                    headers={"If-Match": after["@odata.etag"]}).status_code in (400, 405)
    bad = emu.session.post(f"{emu.control_url}/local-currency", json={"currency_code": "TOO-LONG-CODE"}, timeout=30)
    assert bad.status_code == 400
    assert emu.local_currency("")[0]["currencyCode"] is None  # no LCY Code in General Ledger Setup
    assert bc.get(f"companies({cronus})/companyInformation").json()["value"][0]["currencyCode"] in (None, "")
    emu.reset()
    assert bc.get(f"companies({cronus})/companyInformation").json()["value"][0]["currencyCode"] == "USD"
