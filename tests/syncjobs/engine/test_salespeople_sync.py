"""SALESPEOPLE (Dataverse users -> BC salespeople, From) creates new salespersons with BC's 'SP NO. nnnnn' codes
(BC: codeunit 7204 "CDS Setup Defaults", mapping SALESPEOPLE) and couples them; integration, disabled and
unlicensed users are left out."""
from __future__ import annotations

from typing import Any

import pytest

from mappings.models import Coupling


@pytest.fixture
def new_user(admin_dv: Any, clients: Any) -> Any:
    """Create a Dataverse user: ``new_user("Ann", "Lee", licensed=True)`` -> its systemuserid."""
    _, dv = clients
    unit = next(dv.iter_rows("businessunits", select=["businessunitid"], filter="_parentbusinessunitid_value eq null"))

    def create(first: str, last: str, *, licensed: bool = True, disabled: bool = False) -> str:
        email = f"{first.lower()}.{last.lower()}@cronus.example"
        user_id = admin_dv.create("systemusers", {
            "firstname": first, "lastname": last, "domainname": email, "internalemailaddress": email,
            "mobilephone": "+1 555 0100", "islicensed": licensed,
            "businessunitid@odata.bind": f"/businessunits({unit['businessunitid']})"})
        if disabled:
            admin_dv.update("systemusers", user_id, {"isdisabled": True})
        return str(user_id)

    return create


def test_new_users_become_salespersons_with_the_next_sp_codes(run: Any, clients: Any, couple_salespeople: Any,
                                                              new_user: Any, sync_connection: Any) -> None:
    bc, dv = clients
    couple_salespeople(JO="admin", OF="integration")  # the seeded interactive users are coupled already
    ann = new_user("Ann", "Lee")
    bob = new_user("Bob", "Ray")
    unlicensed = new_user("Una", "Licensed", licensed=False)
    disabled = new_user("Dee", "Abled", disabled=True)
    coupled = {str(c.dataverse_id) for c in Coupling.objects.filter(connection=sync_connection,
                                                                    bc_table="Salesperson/Purchaser")}
    eligible = {u["systemuserid"]: u["fullname"] for u in dv.iter_rows(
        "systemusers", select=["systemuserid", "fullname"],
        filter="isdisabled eq false and islicensed eq true and isintegrationuser eq false")
        if u["systemuserid"] not in coupled}
    assert {ann, bob} <= set(eligible) and not {unlicensed, disabled} & set(eligible)
    before = {sp["code"] for sp in bc.iter_rows("salespeoplePurchasers")}

    job = run("SALESPEOPLE", full=True)[0]

    assert (job.inserted, job.failed) == (len(eligible), 0), list(job.errors.values_list("message", flat=True))
    created = {sp["code"]: sp for sp in bc.iter_rows("salespeoplePurchasers") if sp["code"] not in before}
    assert sorted(created) == [f"SP NO. {n:05d}" for n in range(1, len(eligible) + 1)]
    by_name = {sp["displayName"]: sp for sp in created.values()}
    assert sorted(by_name) == sorted(eligible.values())
    assert by_name["Ann Lee"]["email"] == "ann.lee@cronus.example" and by_name["Ann Lee"]["phoneNo"] == "+1 555 0100"
    couplings = {str(c.dataverse_id): str(c.bc_id) for c in Coupling.objects.filter(
        connection=sync_connection, bc_table="Salesperson/Purchaser", is_pending=False)}
    assert couplings[ann] == by_name["Ann Lee"]["id"] and couplings[bob] == by_name["Bob Ray"]["id"]
    # the integration user (the connection's application user), disabled and unlicensed users are no salespersons
    assert not {str(sync_connection.integration_user_id), unlicensed, disabled} & set(couplings)

    again = run("SALESPEOPLE", full=True)[0]
    assert (again.inserted, again.failed) == (0, 0)
    assert len(list(bc.iter_rows("salespeoplePurchasers"))) == len(before) + len(eligible)


def test_codes_continue_after_the_highest_existing_sp_code(run: Any, clients: Any, couple_salespeople: Any,
                                                           new_user: Any) -> None:
    bc, _ = clients
    couple_salespeople(JO="admin", OF="integration")
    bc.create("salespeoplePurchasers", {"code": "SP NO. 00041", "displayName": "Existing"})
    new_user("Cy", "New")

    job = run("SALESPEOPLE", full=True)[0]

    assert job.inserted > 0 and job.failed == 0, list(job.errors.values_list("message", flat=True))
    codes = sorted(sp["code"] for sp in bc.iter_rows("salespeoplePurchasers", filter="startswith(code,'SP NO. ')"))
    assert codes == [f"SP NO. {n:05d}" for n in range(41, 42 + job.inserted)]
    assert "Cy New" in {sp["displayName"] for sp in bc.iter_rows("salespeoplePurchasers")
                        if sp["code"] > "SP NO. 00041"}
