"""Seed data: a fresh Dataverse organization and the CRONUS / Contoso Coffee BC companies.

Sources (copied under ``emulators/data/``, see ``data/SOURCES.md``): Microsoft's published demo data -
BC ``bc-cronus`` (classic CRONUS International Ltd. demo tool) and
``bc-contoso-coffee`` (Contoso Coffee demo dataset with its US localization), Dataverse
``dataverse-sample`` and ``dataverse-webapi-query-sample`` accounts and contacts, plus 5 Dataverse accounts
(and 2 contacts) derived from CRONUS customers so that match-based coupling has work to do.

Choices (documented in emulators/README.md):

* LCY of both companies and the Dataverse base currency is USD: the classic W1 build's LCY is not
  published (the W1 demo data sets none); Contoso Coffee is seeded with its US localization overrides and
  the Dataverse sample opportunities are in "US Dollar".  Customers whose currency equals the LCY get a
  blank currency code, as the demo tool does.
* Dates written as 1902/1903 templates are shifted with the tool's AdjustDate rule (1902 -> last
  year, 1903 -> this year, same ISO week and weekday; first/last day of a month kept).  Relative
  Contoso templates are resolved against today.
* SystemIds are UUIDv5 of (company, table, key): stable across restarts and re-seeding.
* ``--scale N`` adds N generated items, N customers and N price list lines to CRONUS (deterministic
  pseudo-random: log-normal prices, Zipf-like category use, cities from the post code table).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from .bc import BCState, BusinessCentral, now_bc
from .bc import stable_id as bc_id
from .bc.seed import seed_bc_couplings, seed_price_lists, seed_unit_groups
from .dataverse import schema as S
from .dataverse.security import privilege_rows
from .dataverse.store import OrgState, now_iso

DATA = Path(__file__).parent / "data"
LCY = "USD"
#: CRONUS salespeople (codes) who get a Dataverse user with their name and e-mail (Couple Salespersons demo).
SALES_USER_CODES = ("EH", "JO", "LT", "OF")


@cache
def load(folder: str, name: str) -> list[dict[str, Any]]:
    """Rows of ``data/<folder>/<name>.json``."""
    return json.loads((DATA / folder / f"{name}.json").read_text(encoding="utf-8"))


def ADMIN_APP_USER_ID(ident: Any) -> str:  # noqa: N802 - constant-like accessor, as APP_USER_ID
    """The application user of the administrator app (System Administrator; see ``Identity.admin_client_id``)."""
    return S.stable_id("systemuser", "admin-app", ident.admin_client_id)


def APP_USER_ID(ident: Any) -> str:  # noqa: N802 - constant-like accessor used in the JSON line
    """systemuserid of the integration's application user."""
    return S.stable_id("systemuser", "app", ident.client_id)


def adjust_date(template: str | None, today: dt.date | None = None) -> str | None:
    """Demo-tool date template -> ISO date (``1902-..`` = last year, ``1903-..`` = this year, ``abs:`` = as is)."""
    if not template:
        return None
    today = today or dt.date.today()
    t = template.strip()
    if t.startswith("abs:"):
        return t[4:]
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", t)
    if not m:
        return today.isoformat()
    d = dt.date(int(m[1]), int(m[2]), int(m[3]))
    if d.year not in (1902, 1903):
        return d.isoformat()
    year = today.year - 1 if d.year == 1902 else today.year
    if d.day == 1:
        return dt.date(year, d.month, 1).isoformat()
    nxt = (d.replace(day=28) + dt.timedelta(days=4))
    if d == nxt - dt.timedelta(days=nxt.day):
        last = (dt.date(year, d.month, 28) + dt.timedelta(days=4))
        return (last - dt.timedelta(days=last.day)).isoformat()
    week, weekday = d.isocalendar()[1], d.isocalendar()[2]
    try:
        return dt.date.fromisocalendar(year, week, weekday).isoformat()
    except ValueError:
        return dt.date.fromisocalendar(year, 52, weekday).isoformat()


# ---------------------------------------------------------------------- Dataverse
def _dv_row(state: OrgState, table: str, rid: str, values: dict[str, Any], admin: str, now: str) -> dict[str, Any]:
    t = S.STANDARD_TABLES[table]
    row: dict[str, Any] = {c.name: c.default for c in t.columns.values() if c.default is not None}
    row.update(values)
    row[t.primary_id] = rid
    row.update({"createdon": now, "modifiedon": now, "createdby": admin, "modifiedby": admin})
    if t.states and "statecode" not in values:
        row["statecode"] = min(t.states)
    if t.states and "statuscode" not in values:
        row["statuscode"] = t.states[row["statecode"]][0]
    if t.ownership == "UserOwned":
        row.setdefault("ownerid", admin)
        row.setdefault("ownerid@t", "systemuser")
        row["owningbusinessunit"] = state.root_bu_id
        row["owninguser"] = row["ownerid"]
    elif "organizationid" in t.columns:
        row["organizationid"] = state.org_id
    if t.currency:
        row.setdefault("transactioncurrencyid", state.base_currency_id)
        row["exchangerate"] = 1.0
        for c in t.columns.values():
            if c.type == "Money" and c.name.endswith("_base"):
                row[c.name] = row.get(c.name[:-5])
    if table in ("contact", "systemuser"):
        row["fullname"] = " ".join(x for x in (row.get("firstname"), row.get("lastname")) if x)
    for poly in ("customerid", "parentcustomerid", "ownerid"):  # EntityName column of a polymorphic lookup
        if poly + "type" in t.columns:
            row[poly + "type"] = (row.get(poly + "@t") or t.columns[poly].targets[0]) if row.get(poly) else None
    state.version += 1
    row["versionnumber"] = state.version
    state.rows[table][rid] = row
    return row


def build_dataverse(ident: Any, *, demo: bool) -> OrgState:
    """A fresh organization: base currency, root business unit and default team, security roles,
    the admin, integration and application users, the default unit group, bulk-message filters and
    (with ``demo``) the published sample accounts, contacts and opportunities."""
    now = now_iso()
    state = OrgState(org_id=ident.organization_id, root_bu_id=S.stable_id("businessunit", "root"))
    admin = S.stable_id("systemuser", "admin")
    state.base_currency_id = S.stable_id("transactioncurrency", LCY)
    add = lambda table, rid, values: _dv_row(state, table, rid, values, admin, now)  # noqa: E731
    add("transactioncurrency", state.base_currency_id, {"isocurrencycode": LCY, "currencyname": "US Dollar",
                                                         "currencysymbol": "$", "exchangerate": 1.0,
                                                         "currencyprecision": 2})
    add("organization", ident.organization_id, {"name": "CRONUS Sales", "basecurrencyid": state.base_currency_id,
                                                "currencydecimalprecision": 2, "basecurrencysymbol": "$",
                                                "expirechangetrackingindays": 7, "issopintegrationenabled": False})
    add("businessunit", state.root_bu_id, {"name": "CRONUS Sales", "isdisabled": False})
    team = S.stable_id("team", "default")
    add("team", team, {"name": "CRONUS Sales", "businessunitid": state.root_bu_id, "teamtype": 0, "isdefault": True,
                       "administratorid": admin})
    templates = {S.SYSTEM_ADMINISTRATOR_TEMPLATE: "System Administrator",
                 "119f245c-3cc8-4b62-b31c-d1a046ced15d": "System Customizer"}
    for tid, name in templates.items():
        add("roletemplate", tid, {"name": name})
    roles = {"System Administrator": S.SYSTEM_ADMINISTRATOR_TEMPLATE, "System Customizer":
             "119f245c-3cc8-4b62-b31c-d1a046ced15d", "Basic User": None, "Salesperson": None, "Sales Manager": None,
             "Delegate": None, "Environment Maker": None}
    role_ids = {}
    for name, tid in roles.items():
        rid = S.stable_id("role", name)
        role_ids[name] = rid
        add("role", rid, {"name": name, "businessunitid": state.root_bu_id, "roletemplateid": tid,
                          "parentrootroleid": rid, "ismanaged": True})
    # The organization's privileges; System Administrator holds all (its template), the other standard roles hold
    # those of the standard tables (a simplification: real roles hold fewer, at several depths). Tables a solution
    # adds are only in the roles that solution grants them to.
    privileges = privilege_rows(S.STANDARD_TABLES.values(), others=True)
    for pid, values in privileges.items():
        add("privilege", pid, values)
    state.n2n["roleprivileges_association"] = {(rid, pid) for name, rid in role_ids.items()
                                               if roles[name] != S.SYSTEM_ADMINISTRATOR_TEMPLATE for pid in privileges}
    users = [
        (admin, {"firstname": "System", "lastname": "Administrator", "domainname": ident.admin_user,
                 "internalemailaddress": ident.admin_user,
                 "azureactivedirectoryobjectid": ident.user_oid(ident.admin_user),
                 "accessmode": 0, "islicensed": True}),
        (S.stable_id("systemuser", "integration"),
         {"firstname": "Integration", "lastname": "User", "domainname": ident.integration_user,
          "internalemailaddress": ident.integration_user,
          "azureactivedirectoryobjectid": ident.user_oid(ident.integration_user), "accessmode": 4, "islicensed": True}),
        (APP_USER_ID(ident), {"firstname": "#", "lastname": "BC Sales Portal Integration",
                              "domainname": f"{ident.client_id}@{ident.tenant_domain}",
                              "applicationid": ident.client_id, "azureactivedirectoryobjectid": ident.app_oid(),
                              "accessmode": 4, "islicensed": False, "isintegrationuser": True}),
        (ADMIN_APP_USER_ID(ident), {"firstname": "#", "lastname": "BC Sales Portal Setup",
                                    "domainname": f"{ident.admin_client_id}@{ident.tenant_domain}",
                                    "applicationid": ident.admin_client_id,
                                    "azureactivedirectoryobjectid": ident.app_oid(ident.admin_client_id),
                                    "accessmode": 4, "islicensed": False}),
        (S.stable_id("systemuser", "SYSTEM"), {"lastname": "SYSTEM", "fullname": "SYSTEM", "domainname": "",
                                               "accessmode": 0, "isdisabled": True, "islicensed": False}),
        (S.stable_id("systemuser", "INTEGRATION"), {"lastname": "INTEGRATION", "domainname": "", "accessmode": 0,
                                                    "isdisabled": True, "islicensed": False}),
    ]
    # Sales users named after four of the CRONUS salespeople (bc-cronus/salespeople.json: name, e-mail), so that the
    # assisted setup's Couple Salespersons step (Person model) finds users whose e-mail matches a salesperson's; the
    # e-mails are stored in lower case (BC has "JO@contoso.com"): the match is case-insensitive. RB, BC and HR have
    # no user, so some salespersons stay unmatched.
    for code in SALES_USER_CODES:
        person = next(p for p in load("bc-cronus", "salespeople") if p["code"] == code)
        first, _, last = person["name"].partition(" ")
        users.append((S.stable_id("systemuser", "salesperson", code),
                      {"firstname": first, "lastname": last,
                       "domainname": f"{first.lower()}.{last.lower()}@{ident.tenant_domain}",
                       "internalemailaddress": person["email"].lower(), "accessmode": 0, "islicensed": True}))
    for uid, values in users:
        values = {"businessunitid": state.root_bu_id, "isdisabled": False, **values}
        add("systemuser", uid, values)
    # The admin is System Administrator; the application user the portal signs in as (client credentials) holds
    # "Basic User" so that it may call the Web API before the integration solution assigns the integration roles
    # (privileges are enforced: a user without any role gets 403 0x80040220).  The interactive integration user
    # (``integration_user``, also the salesperson the impersonation tests act for) holds "Salesperson".
    state.n2n["systemuserroles_association"] = {(admin, role_ids["System Administrator"]),
                                                (ADMIN_APP_USER_ID(ident), role_ids["System Administrator"]),
                                                (APP_USER_ID(ident), role_ids["Basic User"]),
                                                (S.stable_id("systemuser", "integration"), role_ids["Salesperson"]),
                                                *((S.stable_id("systemuser", "salesperson", code),
                                                   role_ids["Salesperson"]) for code in SALES_USER_CODES)}
    state.n2n["teammembership_association"] = {(admin, team)}
    for name, rid in (("System", "fd140aae-4df4-11dd-bd17-0019b9312238"), ("Active",
    "fd140aaf-4df4-11dd-bd17-0019b9312238"),
                      ("Default", "fd140aad-4df4-11dd-bd17-0019b9312238")):
        add("solution", rid, {"uniquename": name, "friendlyname": name, "version": "9.2.25093.00191",
                              "ismanaged": name == "System", "installedon": now})
    sched = S.stable_id("uomschedule", "Default Unit")
    base_unit = S.stable_id("uom", "Primary Unit")
    add("uomschedule", sched, {"name": "Default Unit", "baseuomname": "Primary Unit"})
    add("uom", base_unit, {"name": "Primary Unit", "uomscheduleid": sched, "baseuom": base_unit, "quantity": 1.0,
                           "isschedulebaseuom": True})
    msg_ids = {}
    for msg in (*S.BULK_MESSAGES, "Create", "Update", "Delete", "Retrieve", "RetrieveMultiple"):
        msg_ids[msg] = S.stable_id("sdkmessage", msg)
        add("sdkmessage", msg_ids[msg], {"name": msg})
    for t in S.STANDARD_TABLES.values():
        # no UpsertMultiple filter: it is available where CreateMultiple and UpdateMultiple both are (schema.py)
        msgs = list(S.BULK_FILTER_MESSAGES) if t.bulk and not t.read_only else []
        if not t.read_only:
            msgs += ["Create", "Update", "Delete"]
        for msg in msgs + ["Retrieve", "RetrieveMultiple"]:
            add("sdkmessagefilter", S.stable_id("sdkmessagefilter", msg, t.logical),
                {"sdkmessageid": msg_ids[msg], "primaryobjecttypecode": t.logical, "secondaryobjecttypecode": "none",
                 "isvisible": True})
    if demo:
        _dv_samples(state, add)
    return state


def _dv_samples(state: OrgState, add: Any) -> None:
    contacts: dict[str, str] = {}
    for c in load("dataverse-sample", "contacts"):
        cid = S.stable_id("contact", c["fullname"])
        contacts[c["fullname"]] = cid
        add("contact", cid, {k: c.get(k) for k in ("firstname", "lastname", "jobtitle", "emailaddress1", "telephone1",
                                                  "address1_line1", "address1_city", "address1_stateorprovince",
                                                  "address1_postalcode", "address1_country")})
    accounts: dict[str, str] = {}
    for a in load("dataverse-sample", "accounts"):
        aid = S.stable_id("account", a["name"])
        accounts[a["name"]] = aid
        add("account", aid, {"name": a["name"], "address1_city": a.get("address1_city"),
                             "numberofemployees": a.get("numberofemployees"), "telephone1": a.get("telephone1"),
                             "revenue": a.get("revenue"), "customertypecode": 3,
                             "primarycontactid": contacts.get(a.get("primarycontactid_fullname") or "")})
    for c in load("dataverse-sample", "contacts"):
        acc = accounts.get(c.get("primary_contact_of_account") or "")
        if acc:
            row = state.rows["contact"][contacts[c["fullname"]]]
            row["parentcustomerid"], row["parentcustomerid@t"] = acc, "account"
    for a in load("dataverse-webapi-query-sample", "accounts"):
        aid = S.stable_id("account", "webapi", a["name"])
        add("account", aid, {"name": a["name"], "customertypecode": 3})
        for c in load("dataverse-webapi-query-sample", "contacts"):
            cid = S.stable_id("contact", "webapi", c["fullname"])
            add("contact", cid, {"firstname": c.get("firstname"), "lastname": c.get("lastname"),
                                 "jobtitle": c.get("jobtitle"), "annualincome": c.get("annualincome"),
                                 "parentcustomerid": aid, "parentcustomerid@t": "account"})
            if c.get("relationship") == "primarycontactid":
                state.rows["account"][aid]["primarycontactid"] = cid
    _dv_cronus_accounts(state, add)
    states = {"Open": 0, "Won": 1, "Lost": 2}
    for o in load("dataverse-sample", "opportunities"):
        acc = accounts.get(o.get("parentaccountid_name") or "")
        st = states.get(o.get("statecode") or "Open", 0)
        add("opportunity", S.stable_id("opportunity", o["name"]), {
            "name": o["name"], "estimatedvalue": o.get("estimatedvalue"), "parentaccountid": acc,
            "customerid": acc, "customerid@t": "account" if acc else None, "statecode": st,
            "statuscode": {0: 1, 1: 3, 2: 4}[st]})


#: CRONUS customers (``bc-cronus/customers.json`` ``name``) that the demo Sales organization already holds as
#: accounts - a partner's Sales org with some of BC's customers, the case match-based coupling exists for.
CRONUS_ACCOUNTS = ("Blanemark Hifi Shop", "Fairway Sound", "The Device Shop", "Progressive Home Furnishings",
                   "Afrifield Corporation")
#: Contact persons (``bc-cronus/contacts.json`` ``name``; the customer's ``Contact``) under two of those accounts.
#: Customers 10000-50000 are not used: tests/mappings creates accounts with exactly those names itself.
CRONUS_ACCOUNT_CONTACTS = {"Progressive Home Furnishings": "Scott Mitchell", "Afrifield Corporation": "Ariane Peeters"}


def _dv_cronus_accounts(state: OrgState, add: Any) -> None:
    """Accounts named exactly as 5 CRONUS customers (city, street and post code from the dataset; relationship
    type 3 Customer; created by and owned by the admin user, not the integration user) and 2 of their contacts.
    Derived from the CRONUS customers/contacts dataset (data/SOURCES.md); the dataset has no phone numbers."""
    customers = {c["name"]: c for c in load("bc-cronus", "customers")}
    people = {c["name"]: c for c in load("bc-cronus", "contacts") if c.get("type") == "Person"}
    for name in CRONUS_ACCOUNTS:
        c = customers[name]
        aid = S.stable_id("account", "cronus", name)
        add("account", aid, {"name": name, "address1_line1": c.get("address"), "address1_city": c.get("city"),
                             "address1_postalcode": c.get("post_code"), "telephone1": c.get("phone_no"),
                             "emailaddress1": c.get("email"), "customertypecode": 3})
        person = people.get(CRONUS_ACCOUNT_CONTACTS.get(name, ""))
        if person:
            first, _, last = person["name"].partition(" ")
            cid = S.stable_id("contact", "cronus", person["name"])
            add("contact", cid, {"firstname": first, "lastname": last, "emailaddress1": person.get("email"),
                                 "jobtitle": person.get("job_title"), "parentcustomerid": aid,
                                 "parentcustomerid@t": "account"})
            state.rows["account"][aid]["primarycontactid"] = cid


# ---------------------------------------------------------------------- Business Central
def _num(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) else 0.0


def _company(bc: BusinessCentral, name: str, key: str, created: str) -> str:
    cid = bc_id("company", key)
    bc.state.companies[cid] = {"row": {"id": cid, "systemVersion": "26.0.0.0", "timestamp": 0, "name": name,
                                       "displayName": name, "businessProfileId": "", "systemCreatedAt": created,
                                       "systemCreatedBy": "00000000-0000-0000-0000-000000000001",
                                       "systemModifiedAt": created,
                                       "systemModifiedBy": "00000000-0000-0000-0000-000000000001", "@v": 1},
                               "tables": {}}
    # Company Information (API v2.0 companyInformation): LCY = USD, as the Dataverse base currency (README "Choices")
    bc.insert_seed(cid, "companyInformation", {"id": bc_id(key, "companyInformation"), "displayName": name,
                                               "currencyCode": LCY, "currentFiscalYearStartDate":
                                               f"{dt.date.today().year}-01-01"})
    # The cash receipt journal batch API v2.0 serves as customerPaymentJournals (BC's default batch of template
    # CASHRCPT is GENERAL)
    bc.insert_seed(cid, "customerPaymentJournals", {"id": bc_id(key, "customerPaymentJournal", "GENERAL"),
                                                    "code": "GENERAL", "displayName": "Default Journal Batch"})
    return cid


def _seed_company(bc: BusinessCentral, cid: str, folder: str, us: bool) -> None:
    ins = bc.insert_seed
    key = folder

    def ident(entity: str, k: str) -> str:
        return bc_id(key, entity, k)

    for u in load(folder, "units_of_measure"):
        ins(cid, "unitsOfMeasure", {"id": ident("uom", u["code"]), "code": u["code"],
                                    "displayName": u.get("description"),
                                    "internationalStandardCode": u.get("international_standard_code")})
    uoms = {r["code"]: r["id"] for r in bc.table(cid, "unitsOfMeasure").values()}
    for c in load(folder, "item_categories"):
        ins(cid, "itemCategories", {"id": ident("cat", c["code"]), "code": c["code"],
                                    "displayName": c.get("description")})
    cats = {r["code"]: r["id"] for r in bc.table(cid, "itemCategories").values()}
    for p in load(folder, "payment_terms"):
        ins(cid, "paymentTerms", {"id": ident("pt", p["code"]), "code": p["code"], "displayName": p.get("description"),
                                  "dueDateCalculation": p.get("due_date_calculation"),
                                  "discountDateCalculation": p.get("discount_date_calculation"),
                                  "discountPercent": _num(p.get("discount_percent")),
                                  "calculateDiscountOnCreditMemos": False})
    terms = {r["code"]: r["id"] for r in bc.table(cid, "paymentTerms").values()}
    # Shipment methods and shipping agents: the datasets publish only the codes customers and documents use
    # (no descriptions), so one row per referenced code with an empty description.
    referenced = [*load(folder, "customers"), *load(folder, "sales_headers")]
    for code in sorted({c["shipment_method_code"] for c in referenced if c.get("shipment_method_code")}):
        ins(cid, "shipmentMethods", {"id": ident("sm", code), "code": code})
    for code in sorted({c["shipping_agent_code"] for c in referenced if c.get("shipping_agent_code")}):
        ins(cid, "shippingAgents", {"id": ident("sa", code), "code": code})
    methods = {r["code"]: r["id"] for r in bc.table(cid, "shipmentMethods").values()}
    # Vendors: only the numbers items refer to ("Vendor No.") are published; names are not.
    for number in sorted({i["vendor_no"] for i in load(folder, "items") if i.get("vendor_no")}):
        ins(cid, "vendors", {"id": ident("vend", number), "number": number})
    for c in load(folder, "currencies"):
        if c["code"] == LCY or c.get("created_for_w1_gb") is False:
            continue
        places = (c.get("amount_decimal_places") or "2:2").replace("02", "2")
        ins(cid, "currencies", {"id": ident("cur", c["code"]), "code": c["code"], "displayName": c.get("description"),
                                "symbol": None, "amountDecimalPlaces": places,
                                "amountRoundingPrecision": _num(c.get("amount_rounding_precision")) or 0.01})
    curs = {r["code"]: r["id"] for r in bc.table(cid, "currencies").values()}
    for s in load(folder, "salespeople"):
        ins(cid, "salespeoplePurchasers", {"id": ident("sp", s["code"]), "code": s["code"], "displayName": s["name"],
                                           "email": s.get("email"),
                                           "commisionPercent": _num(s.get("commission_percent"))})
    item_over = {o["item_no"]: o for o in load(folder, "us_localization_item_overrides")} if us else {}
    for it in load(folder, "items"):
        o = item_over.get(it["no"], {})
        ins(cid, "items", {"id": ident("item", it["no"]), "number": it["no"], "displayName": it.get("description"),
                           "type": it.get("type") if it.get("type") in ("Inventory", "Service", "Non-Inventory")
                           else "Inventory",
                           "itemCategoryCode": it.get("item_category_code"),
                           "itemCategoryId": cats.get(it.get("item_category_code") or ""),
                           "unitPrice": _num(o.get("unit_price", it.get("unit_price"))),
                           "unitCost": _num(o.get("unit_cost", it.get("unit_cost"))),
                           "baseUnitOfMeasureCode": it.get("base_unit_of_measure"),
                           "baseUnitOfMeasureId": uoms.get(it.get("base_unit_of_measure") or ""),
                           "gtin": it.get("gtin"), "taxGroupCode": o.get("tax_group_code", it.get("tax_group_code")),
                           "unitVolume": _num(it.get("unit_volume")), "grossWeight": _num(it.get("gross_weight")),
                           "vendorNumber": it.get("vendor_no") or None,
                           "vendorItemNumber": it.get("vendor_item_no") or None,
                           "generalProductPostingGroupCode": it.get("gen_prod_posting_group"),
                           "inventoryPostingGroupCode": it.get("inventory_posting_group")})
    items = {r["number"]: r for r in bc.table(cid, "items").values()}
    for u in load(folder, "item_units_of_measure"):
        ins(cid, "itemUnitsOfMeasure", {"id": ident("iuom", u["item_no"] + "/" + u["code"]), "itemNumber": u["item_no"],
                                        "code": u["code"],
                                        "qtyPerUnitOfMeasure": _num(u.get("qty_per_unit_of_measure")),
                                        "qtyRoundingPrecision": u.get("qty_rounding_precision")})
    res_over = {o["resource_no"]: o for o in load(folder, "us_localization_resource_overrides")} if us else {}
    for r in load(folder, "resources"):
        o = res_over.get(r["no"], {})
        ins(cid, "resources", {"id": ident("res", r["no"]), "number": r["no"], "displayName": r.get("name"),
                               "type": r.get("type") if r.get("type") in ("Person", "Machine") else "Person",
                               "baseUnitOfMeasureCode": r.get("base_unit_of_measure"),
                               "unitPrice": _num(o.get("unit_price", r.get("unit_price"))),
                               "unitCost": _num(o.get("unit_cost", r.get("unit_cost", r.get("direct_unit_cost")))),
                               "directUnitCost": _num(o.get("direct_unit_cost", r.get("direct_unit_cost"))),
                               "jobTitle": r.get("job_title"),
                               "generalProductPostingGroupCode": r.get("gen_prod_posting_group")})
    if (DATA / folder / "resource_units_of_measure.json").exists():
        for u in load(folder, "resource_units_of_measure"):
            ins(cid, "resourceUnitsOfMeasure", {"id": ident("ruom", u["resource_no"] + "/" + u["code"]),
                                                "resourceNumber": u["resource_no"], "code": u["code"],
                                                "qtyPerUnitOfMeasure": _num(u.get("qty_per_unit_of_measure")),
                                                "relatedToBaseUnitOfMeasure":
                                                    bool(u.get("related_to_base_unit_of_meas"))})
    else:
        for r in load(folder, "resources"):
            code = r.get("base_unit_of_measure") or "HOUR"
            ins(cid, "resourceUnitsOfMeasure", {"id": ident("ruom", r["no"] + "/" + code), "resourceNumber": r["no"],
                                                "code": code, "qtyPerUnitOfMeasure": 1.0,
                                                "relatedToBaseUnitOfMeasure": True})
    cust_over = {o["customer_no"]: o for o in load(folder, "us_localization_customer_overrides")} if us else {}
    for c in load(folder, "customers"):
        o = cust_over.get(c["no"], {})
        cur = c.get("currency_code")
        cur = None if cur in (None, "", LCY) else cur
        ins(cid, "customers", {"id": ident("cust", c["no"]), "number": c["no"], "displayName": c["name"],
                               "type": "Company", "addressLine1": o.get("address", c.get("address")),
                               "addressLine2": c.get("address_2"), "city": o.get("city", c.get("city")),
                               "state": o.get("county", c.get("county")),
                               "country": o.get("country_or_region_code", c.get("country_region_code")),
                               "postalCode": o.get("post_code", c.get("post_code")), "phoneNumber": c.get("phone_no"),
                               "email": c.get("email"), "salespersonCode": c.get("salesperson_code"),
                               "currencyCode": cur, "currencyId": curs.get(cur or ""),
                               "paymentTermsId": terms.get(c.get("payment_terms_code") or ""),
                               "paymentTermsCode": c.get("payment_terms_code") or None,
                               "shipmentMethodId": methods.get(c.get("shipment_method_code") or ""),
                               "shipmentMethodCode": c.get("shipment_method_code") or None,
                               "shippingAgentCode": c.get("shipping_agent_code") or None,
                               "contact": c.get("contact") or None,
                               "taxLiable": bool(o.get("tax_liable", False)),
                               "taxRegistrationNumber": c.get("vat_registration_no")})
    customers = {r["number"]: r for r in bc.table(cid, "customers").values()}
    contacts = load(folder, "contacts")
    for n, c in enumerate(contacts, start=1):
        number = c.get("no") or f"CT{n:06d}"
        company_no = c.get("company_no")
        if not company_no and c.get("linked_customer_no") and c["type"] == "Person":
            company_no = next((f"CT{k:06d}" for k, x in enumerate(contacts, start=1) if x["type"] == "Company"
                               and x.get("linked_customer_no") == c["linked_customer_no"]), None)
        ins(cid, "contacts", {"id": ident("ct", number), "number": number, "type": c["type"], "displayName": c["name"],
                              "companyNumber": company_no if c["type"] == "Person" else number,
                              "addressLine1": c.get("address"), "city": c.get("city"), "postalCode": c.get("post_code"),
                              "country": c.get("country_region_code"), "email": c.get("email"),
                              "jobTitle": c.get("job_title"),
                              "contactBusinessRelation": "Customer" if c.get("linked_customer_no") else "None",
                              "searchName": (c["name"] or "").upper(),
                              "currencyCode": None if c.get("currency_code") in (None, "", LCY)
                              else c.get("currency_code"),
                              "salespersonCode": c.get("salesperson_code") or None,
                              **_name_breakdown(c["type"], c["name"])})
    cts = {r["number"]: r for r in bc.table(cid, "contacts").values()}
    for r in bc.table(cid, "contacts").values():
        comp = cts.get(r.get("companyNumber") or "")
        r["companyName"] = comp["displayName"] if comp else None
    _seed_contacts_information(bc, cid, contacts, customers, ident)
    for cust in customers.values():  # Customer."Primary Contact No." = the person named in Customer.Contact
        if cust.get("contact"):
            match = next((x for x in cts.values() if x["type"] == "Person" and x["displayName"] == cust["contact"]),
                         None)
            cust["primaryContactNumber"] = match["number"] if match else None
    for o in load(folder, "opportunities"):
        contact = cts.get(o.get("contact_no") or "") or next(
            (x for x in cts.values() if o.get("contact_customer_no") and x.get("contactBusinessRelation") == "Customer"
             and customers.get(o["contact_customer_no"], {}).get("displayName") == x.get("displayName")), None)
        ins(cid, "opportunities", {"id": ident("opp", o["no"]), "number": o["no"], "description": o.get("description"),
                                   "salespersonCode": o.get("salesperson_code"),
                                   "contactNumber": contact["number"] if contact else None,
                                   "contactName": contact["displayName"] if contact else None,
                                   "contactCompanyName": (contact or {}).get("companyName"),
                                   "contactCompanyNumber": (contact or {}).get("companyNumber"),
                                   "status": o.get("status") if o.get("status") in ("Not Started", "In Progress", "Won",
                                                                                    "Lost") else "In Progress",
                                   "closed": bool(o.get("closed")),
                                   "creationDate": adjust_date(o.get("creation_date_template")),
                                   "dateClosed": adjust_date(o.get("date_closed_template")),
                                   "systemCreatedAt": now_bc()})
    _seed_documents(bc, cid, folder, customers, items, ident)


def _seed_contacts_information(bc: BusinessCentral, cid: str, contacts: list[dict[str, Any]],
                                customers: dict[str, Any], ident: Callable[[str, str], str]) -> None:
    """Contact Business Relations linked to a table, as API v2.0 ``contactsInformation`` serves them (Microsoft
    Learn "Business Central API (v2.0)", contactInformation resource): one row per company contact the dataset links
    to a customer (``linked_customer_no``), relatedType "Customer" and relatedId = the customer's SystemId (BC
    creates this relation with the customer's company contact, Marketing Setup "Bus. Rel. Code for Customers").
    Relations without a linked table (PROS, JOB, PRESS in ``contact_business_relations.json``) are not served by the
    API page."""
    by_number = {r["number"]: r for r in bc.table(cid, "contacts").values()}
    for n, c in enumerate(contacts, start=1):
        customer = customers.get(c.get("linked_customer_no") or "")
        contact = by_number.get(c.get("no") or f"CT{n:06d}")
        if customer is None or contact is None or c["type"] != "Company":
            continue
        bc.insert_seed(cid, "contactsInformation", {
            "id": ident("ctinfo", contact["number"] + "/Customer/" + customer["number"]),
            "contactId": contact["id"], "contactNumber": contact["number"], "contactName": contact["displayName"],
            "contactType": contact["type"], "relatedId": customer["id"], "relatedType": "Customer"})


def _name_breakdown(kind: str, name: str | None) -> dict[str, str | None]:
    """First Name / Middle Name / Surname of a person contact from its Name (BC Contact.NameBreakdown: first word,
    last word, the words between); companies keep them blank."""
    words = (name or "").split()
    if kind != "Person" or not words:
        return {"firstName": None, "middleName": None, "surname": None}
    if len(words) == 1:
        return {"firstName": words[0], "middleName": None, "surname": None}
    return {"firstName": words[0], "middleName": " ".join(words[1:-1]) or None, "surname": words[-1]}


def _seed_documents(bc: BusinessCentral, cid: str, folder: str, customers: dict[str, Any],
                    items: dict[str, Any], ident: Any) -> None:
    headers = load(folder, "sales_headers")
    terms = {r["code"]: r["id"] for r in bc.table(cid, "paymentTerms").values()}
    lines = load(folder, "sales_lines")
    by_doc: dict[Any, list[dict[str, Any]]] = {}
    for ln in lines:
        k = ln.get("document_source_seq") or (ln.get("document_type"), ln.get("document_no"))
        by_doc.setdefault(k, []).append(ln)
    counters = {"salesOrders": 101000, "salesInvoices": 103000, "salesQuotes": 100000, "posted": 103100}
    for h in headers:
        dtype = h.get("document_type")
        posted = bool(h.get("posted_by_demo_tool"))
        entity = {"Order": "salesOrders", "Invoice": "salesInvoices", "Quote": "salesQuotes"}.get(dtype or "")
        if entity is None:
            continue
        key = h.get("source_seq") or (dtype, h.get("no"))
        number = h.get("no")
        if not number:
            ck = "posted" if posted else entity
            counters[ck] += 1
            number = f"{'P' if posted else ''}{counters[ck]}"
        cust = customers.get(h.get("sell_to_customer_no") or "")
        date = adjust_date(h.get("order_date_template") or h.get("posting_date_template"))
        doc = {"id": ident("doc", f"{dtype}/{number}"), "number": number, "customerId": cust["id"] if cust else None,
               "customerNumber": h.get("sell_to_customer_no"), "customerName": cust["displayName"] if cust else None,
               "billToName": cust["displayName"] if cust else None, "billToCustomerId": cust["id"] if cust else None,
               "billToCustomerNumber": h.get("sell_to_customer_no"),
               "shipToName": cust["displayName"] if cust else None,
               "currencyCode": cust.get("currencyCode") if cust else None,
               "currencyId": cust.get("currencyId") if cust else None,
               "salesperson": h.get("salesperson_code") or (cust or {}).get("salespersonCode"),
               "externalDocumentNumber": h.get("external_document_no"),
               "postingDate": adjust_date(h.get("posting_date_template")) or date,
               "sellToAddressLine1": (cust or {}).get("addressLine1"), "sellToCity": (cust or {}).get("city"),
               "sellToPostCode": (cust or {}).get("postalCode"), "sellToCountry": (cust or {}).get("country"),
               "paymentTermsCode": h.get("payment_terms_code") or (cust or {}).get("paymentTermsCode"),
               "shipmentMethodCode": (cust or {}).get("shipmentMethodCode"),
               "shipmentMethodId": (cust or {}).get("shipmentMethodId"),
               "shippingAgentCode": h.get("shipping_agent_code") or (cust or {}).get("shippingAgentCode"),
               "yourReference": h.get("your_reference") or None,
               "shipmentDate": adjust_date(h.get("shipment_date_template")) or date}
        doc["paymentTermsId"] = terms.get(doc["paymentTermsCode"] or "")
        if entity == "salesOrders":
            doc.update({"orderDate": date, "status": "Open"})
        elif entity == "salesInvoices":
            doc.update({"invoiceDate": doc["postingDate"], "dueDate": doc["postingDate"],
                        "status": "Open" if posted else "Draft"})
        else:
            doc.update({"documentDate": adjust_date(h.get("document_date_template")) or date, "status": "Draft"})
        header = bc.insert_seed(cid, entity, doc)
        lent = {"salesOrders": "salesOrderLines", "salesInvoices": "salesInvoiceLines",
                "salesQuotes": "salesQuoteLines"}[entity]
        for ln in by_doc.get(key, []):
            item = items.get(ln.get("no") or "") if ln.get("type") == "Item" else None
            qty = _num(ln.get("quantity"))
            price = _num(ln.get("unit_price")) if ln.get("unit_price") is not None else (
                item.get("unitPrice") if item else 0.0)
            disc = round(qty * price * _num(ln.get("line_discount_percent")) / 100, 2)
            net = round(qty * price - disc, 2)
            bc.insert_seed(cid, lent, {
                "id": ident("line", f"{dtype}/{number}/{ln.get('line_no')}"), "documentId": header["id"],
                "sequence": ln.get("line_no"), "lineType": ln.get("type") if ln.get("type") in (
                    "Comment", "Account", "Item", "Resource", "Fixed Asset", "Charge") else "Item",
                "lineObjectNumber": ln.get("no"), "itemId": item["id"] if item else None,
                "description": ln.get("description") or (item or {}).get("displayName"),
                "unitOfMeasureCode": (item or {}).get("baseUnitOfMeasureCode"), "quantity": qty, "unitPrice": price,
                "discountAmount": disc, "discountPercent": _num(ln.get("line_discount_percent")),
                "amountExcludingTax": net, "netAmount": net, "amountIncludingTax": net,
                "netAmountIncludingTax": net, "totalTaxAmount": 0.0, "netTaxAmount": 0.0, "taxPercent": 0.0,
                "invoiceDiscountAllocation": 0.0})
        tot = round(sum(r.get("netAmount") or 0 for r in bc.table(cid, lent).values()
                        if r["documentId"] == header["id"]), 2)
        header.update({"totalAmountExcludingTax": tot, "totalTaxAmount": 0.0, "totalAmountIncludingTax": tot,
                       "discountAmount": 0.0})
        if entity == "salesInvoices" and posted:
            header["remainingAmount"] = tot


def _scale(bc: BusinessCentral, cid: str, n: int) -> None:
    """N generated items, customers and price list lines (deterministic, realistic distributions)."""
    rng = random.Random(20240101)
    cats = sorted(bc.table(cid, "itemCategories").values(), key=lambda r: r["code"])
    uoms = {r["code"]: r["id"] for r in bc.table(cid, "unitsOfMeasure").values()}
    cities = [("Birmingham", "GB-B27 4KT", "GB"), ("London", "GB-W2 8HG", "GB"), ("Chicago", "US-IL 61236", "US"),
              ("Atlanta", "31772", "US"), ("Miami", "37125", "US"), ("Copenhagen", "DK-1100", "DK"),
              ("Antwerpen", "BE-2000", "BE"), ("Stockholm", "SE-114 32", "SE")]
    people = sorted(r["code"] for r in bc.table(cid, "salespeoplePurchasers").values())
    terms = sorted(bc.table(cid, "paymentTerms").values(), key=lambda r: r["code"])
    words = ["Desk", "Chair", "Cabinet", "Table", "Lamp", "Shelf", "Panel", "Frame", "Wheel", "Speaker", "Drawer",
             "Bench", "Stand", "Board", "Rack"]
    adjectives = ["ATHENS", "PARIS", "LONDON", "ROME", "MOSCOW", "BERLIN", "AMSTERDAM", "OSLO", "SYDNEY", "TOKYO"]
    ins = bc.insert_seed
    weights = [1.0 / (k + 1) for k in range(len(cats))]
    item_numbers = []
    base_units: dict[str, str] = {}
    for i in range(1, n + 1):
        number = f"GI{i:07d}"
        item_numbers.append(number)
        cat = rng.choices(cats, weights)[0] if cats else None
        price = round(rng.lognormvariate(4.5, 1.1), 2)
        uom = "PCS" if rng.random() < 0.85 else rng.choice(["BOX", "SET", "PACK", "PALLET"])
        ins(cid, "items", {"id": bc_id("scale", "item", number), "number": number,
                           "displayName": f"{rng.choice(adjectives)} {rng.choice(words)} {i}",
                           "type": "Inventory" if rng.random() < 0.9 else "Service",
                           "itemCategoryCode": cat["code"] if cat else None,
                           "itemCategoryId": cat["id"] if cat else None,
                           "unitPrice": price, "unitCost": round(price * rng.uniform(0.55, 0.85), 2),
                           "baseUnitOfMeasureCode": uom, "baseUnitOfMeasureId": uoms.get(uom),
                           "blocked": rng.random() < 0.02})
        ins(cid, "itemUnitsOfMeasure", {"id": bc_id("scale", "iuom", number), "itemNumber": number, "code": uom,
                                        "qtyPerUnitOfMeasure": 1.0})
        base_units[number] = uom
    for i in range(1, n + 1):
        number = f"GC{i:07d}"
        city, post, country = rng.choice(cities)
        ins(cid, "customers", {"id": bc_id("scale", "cust", number), "number": number,
                               "displayName": f"{rng.choice(adjectives).title()} {rng.choice(words)}s Ltd. {i}",
                               "type": "Company" if rng.random() < 0.9 else "Person",
                               "addressLine1": f"{i} Main Street",
                               "city": city, "postalCode": post, "country": country,
                               "email": f"orders{i}@example.com",
                               "salespersonCode": rng.choice(people) if people else None,
                               "creditLimit": float(rng.choice([0, 0, 5000, 10000, 25000, 100000])),
                               "paymentTermsId": rng.choice(terms)["id"] if terms else None})
    today = dt.date.today()
    # each price in its item's base unit (BC refuses a price list line in a unit the item does not have)
    seed_price_lists(bc, cid, [{
        "item_no": item_no, "source_type": "All Customers",
        "starting_date": (today - dt.timedelta(days=rng.randint(0, 720))).isoformat(),
        "minimum_quantity": float(rng.choice([0, 0, 0, 5, 10, 50])),
        "unit_price": round(rng.lognormvariate(4.5, 1.1), 2),
        "unit_of_measure_code": base_units[item_no]} for item_no in (rng.choice(item_numbers) for _ in range(n))])


def build_bc(*, demo: bool, scale: int) -> BCState:
    """CRONUS International Ltd. (and Contoso Coffee) with SystemIds, etags and lastModifiedDateTime."""
    bc = BusinessCentral(BCState(), settings=None)
    created = now_bc()
    cronus = _company(bc, "CRONUS International Ltd.", "cronus", created)
    if demo:
        _seed_company(bc, cronus, "bc-cronus", us=False)
        for g in load("bc-cronus", "customer_price_groups"):
            bc.insert_seed(cronus, "customerPriceGroups", {"id": bc_id("bc-cronus", "cpg", g["code"]),
                                                           "code": g["code"], "description": g.get("description")})
        # Sales Price rows (the dataset's, from the W1 demo tool) as BC's price-list upgrade turns them into price
        # lists: one header per assign-to source and currency, one line per price
        seed_price_lists(bc, cronus, [{
            "item_no": p["item_no"], "source_type": p.get("sales_type") or "All Customers",
            "source_no": p.get("sales_code"), "currency_code": None if p.get("currency_code") == LCY
            else p.get("currency_code"), "starting_date": adjust_date(p.get("starting_date_template")),
            "minimum_quantity": _num(p.get("minimum_quantity")), "unit_price": _num(p.get("unit_price"))}
            for p in load("bc-cronus", "sales_prices")])
        # BC's own couplings of the CRONUS customers the Sales organization holds as accounts (emulators/README.md)
        seed_bc_couplings(bc, cronus, {name: S.stable_id("account", "cronus", name) for name in CRONUS_ACCOUNTS})
        contoso = _company(bc, "Contoso Coffee", "contoso-coffee", created)
        _seed_company(bc, contoso, "bc-contoso-coffee", us=True)
        seed_unit_groups(bc, contoso)
    if scale > 0:
        _scale(bc, cronus, scale)
    seed_unit_groups(bc, cronus)
    return bc.state


def build(ident: Any, *, seed: str, scale: int) -> tuple[OrgState, BCState]:
    """Both sides' seeded state for ``--seed demo|none`` and ``--scale N``."""
    demo = seed == "demo"
    return build_dataverse(ident, demo=demo), build_bc(demo=demo, scale=scale)
