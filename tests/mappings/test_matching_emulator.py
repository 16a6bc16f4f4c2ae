"""Match-based coupling against the emulators' demo data (BC: "Match Based Coupling Criteria" + "Int. Coupling Job
Runner"): every outcome, case sensitivity, priority groups, and a preview that equals what the run then does."""
from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from emulators.seed import CRONUS_ACCOUNTS
from mappings.matching import MatchCriterion, match_based_coupling_preview
from mappings.models import Coupling, CouplingLogEntry, IntegrationTableMapping
from mappings.services import CouplingConflict, coupling_create, coupling_delete, couplings_for_mapping
from portal.testing.pytest_plugin import allow_outbound_origin
from syncjobs.coupling import match_based_coupling_run
from syncjobs.defaults import default_configuration_reset

pytestmark = pytest.mark.django_db

Outcome = CouplingLogEntry.Outcome


@pytest.fixture
def emulated(emulator: Any, settings: Any) -> Any:
    """A connection setup on the emulators (CRONUS International Ltd.) with the default configuration."""
    from connections.models import ConnectionSetup

    info = emulator.info
    settings.OUTBOUND_CA_BUNDLE = info["ca_bundle"]
    settings.OUTBOUND_ALLOWED_HOSTS = allow_outbound_origin(emulator.info["dataverse_url"])
    company = next(c for c in info["bc_companies"] if c["name"] == "CRONUS International Ltd.")
    authority = info["entra_authority"].rsplit("/", 1)[0]
    connection = ConnectionSetup.objects.create(
        name="Emulated", dataverse_url=info["dataverse_url"], tenant_id=info["tenant_id"], authority_host=authority,
        client_id=info["client_id"], client_secret=info["client_secret"], bc_api_url=info["bc_api_url"],
        bc_company_id=company["id"], bc_company_name=company["name"], bc_web_client_url="https://bc.example.com/BC",
        ownership_model=ConnectionSetup.OwnershipModel.PERSON, is_enabled=True)
    default_configuration_reset(connection=connection)
    return connection


@pytest.fixture
def clients(emulated: Any) -> tuple[Any, Any]:
    from connections.clients import business_central_client_for, dataverse_client_for

    return business_central_client_for(emulated), dataverse_client_for(emulated)


def _customers(bc: Any) -> dict[str, dict[str, Any]]:
    return {row["displayName"]: row for row in bc.iter_rows("customers")}


def _account(dataverse: Any, name: str, **extra: Any) -> uuid.UUID:
    return dataverse.create("accounts", {"name": name, "customertypecode": 3, **extra})


def _criteria(mapping: IntegrationTableMapping, *fields: tuple[str, bool, int]) -> list[MatchCriterion]:
    by_name = {f.field_name: f.pk for f in mapping.field_mappings.all()}
    return [MatchCriterion(by_name[name], case_sensitive, priority) for name, case_sensitive, priority in fields]


def _pair(outcome: Any) -> tuple[str, uuid.UUID | None]:
    return outcome.outcome, outcome.dataverse_id


def _by_name(outcomes: list[Any]) -> dict[str, Any]:
    return {o.bc_name.split(" ", 1)[1]: o for o in outcomes}


def test_each_outcome_on_the_demo_data_and_the_preview_equals_the_run(emulated: Any, clients: Any) -> None:
    bc, dataverse = clients
    customers = _customers(bc)
    cannon = _account(dataverse, "The Cannon Group PLC")
    selangorian = _account(dataverse, "SELANGORIAN LTD.")
    guildford = [_account(dataverse, "Guildford Water Department"), _account(dataverse, "Guildford Water Department")]
    school = _account(dataverse, "John Haddock Insurance Co.")
    holder = uuid.uuid4()
    coupling_create(connection=emulated, bc_table="Customer", bc_id=holder, dataverse_table="account",
                    dataverse_id=school)
    mapping = IntegrationTableMapping.objects.get(connection=emulated, name="CUSTOMER")
    criteria = _criteria(mapping, ("Name", False, 0))

    preview = match_based_coupling_preview(mapping=mapping, criteria=criteria)
    outcomes = _by_name(preview)
    assert Coupling.objects.count() == 1  # the preview wrote nothing
    assert (outcomes["The Cannon Group PLC"].outcome, outcomes["The Cannon Group PLC"].dataverse_id) == (
        Outcome.COUPLED, cannon)
    assert _pair(outcomes["Selangorian Ltd."]) == (Outcome.COUPLED, selangorian)
    several = outcomes["Guildford Water Department"]
    assert several.outcome == Outcome.SEVERAL_MATCHES and all(str(i) in several.message for i in guildford)
    assert outcomes["John Haddock Insurance Co."].outcome == Outcome.ALREADY_COUPLED
    assert str(holder) in outcomes["John Haddock Insurance Co."].message
    assert outcomes["Deerfield Graphics Company"].outcome == Outcome.NO_MATCH

    job = match_based_coupling_run(mapping=mapping, criteria=criteria)
    log = list(job.coupling_log.order_by("sequence"))
    assert [(e.bc_id, e.outcome, e.dataverse_id) for e in log] == [
        (o.bc_id, o.outcome, o.dataverse_id) for o in preview]
    # The two accounts made here, plus the seeded accounts that are CRONUS customers already entered in Sales.
    assert job.coupled == 2 + len(CRONUS_ACCOUNTS) and job.finished_at is not None and job.type == "Coupling"
    for name in CRONUS_ACCOUNTS:
        assert outcomes[name].outcome == Outcome.COUPLED
    coupled = {c.bc_id: c.dataverse_id for c in couplings_for_mapping(mapping)}
    assert coupled[uuid.UUID(customers["The Cannon Group PLC"]["id"])] == cannon
    assert coupled[uuid.UUID(customers["Selangorian Ltd."]["id"])] == selangorian
    # A second run finds them coupled.
    again = _by_name(match_based_coupling_preview(mapping=mapping, criteria=criteria))
    assert again["The Cannon Group PLC"].outcome == Outcome.ALREADY_COUPLED


def test_case_sensitive_matching_and_priority_groups(emulated: Any, clients: Any) -> None:
    bc, dataverse = clients
    customers = _customers(bc)
    selangorian = _account(dataverse, "SELANGORIAN LTD.")
    guildford = customers["Guildford Water Department"]
    phone = "+1 425 555 0142"
    bc.update("customers", guildford["id"], {"phoneNumber": phone}, etag=guildford["@odata.etag"])
    _account(dataverse, "Guildford Water Department", telephone1="+1 425 555 0199")
    wanted = _account(dataverse, "Guildford Water Department", telephone1=phone)
    mapping = IntegrationTableMapping.objects.get(connection=emulated, name="CUSTOMER")

    sensitive = _by_name(match_based_coupling_preview(mapping=mapping, criteria=_criteria(mapping, ("Name", True, 0))))
    assert sensitive["Selangorian Ltd."].outcome == Outcome.NO_MATCH
    insensitive = _by_name(match_based_coupling_preview(mapping=mapping,
                                                        criteria=_criteria(mapping, ("Name", False, 0))))
    assert (insensitive["Selangorian Ltd."].outcome, insensitive["Selangorian Ltd."].dataverse_id) == (Outcome.COUPLED,
                                                                                                 selangorian)
    name_only = _by_name(match_based_coupling_preview(mapping=mapping, criteria=_criteria(mapping, ("Name", False, 0))))
    assert name_only["Guildford Water Department"].outcome == Outcome.SEVERAL_MATCHES
    # Name (priority 0) finds two rows, so the next group (phone, priority 1) is tried and finds one.
    grouped = _by_name(match_based_coupling_preview(
        mapping=mapping, criteria=_criteria(mapping, ("Name", False, 0), ("Phone No.", False, 1))))
    assert _pair(grouped["Guildford Water Department"]) == (Outcome.COUPLED, wanted)
    together = _by_name(match_based_coupling_preview(
        mapping=mapping, criteria=_criteria(mapping, ("Name", False, 0), ("Phone No.", False, 0))))
    assert _pair(together["Guildford Water Department"]) == (Outcome.COUPLED, wanted)


def test_unusable_criteria_are_refused(emulated: Any) -> None:
    mapping = IntegrationTableMapping.objects.get(connection=emulated, name="CUSTOMER")
    currency_field = mapping.field_mappings.get(field_name="Currency Code")  # a lookup: not comparable
    with pytest.raises(ValidationError, match="cannot be used for matching"):
        match_based_coupling_preview(mapping=mapping, criteria=[MatchCriterion(currency_field.pk)])
    with pytest.raises(ValidationError, match="at least one field"):
        match_based_coupling_preview(mapping=mapping, criteria=[])


def test_start_runs_as_a_job_queue_entry_and_fills_the_coupling_log(emulated: Any, clients: Any, admin_client: Any,
                                                                    django_capture_on_commit_callbacks: Any) -> None:
    from syncjobs.models import JobQueueEntry
    from syncjobs.runner import execute_job_queue_entry

    bc, dataverse = clients
    cannon_bc = _customers(bc)["The Cannon Group PLC"]
    cannon = _account(dataverse, "The Cannon Group PLC")
    mapping = IntegrationTableMapping.objects.get(connection=emulated, name="CUSTOMER")
    name_field = mapping.field_mappings.get(field_name="Name")
    url = reverse("mappings:matchbasedcoupling-start", args=[mapping.pk])
    form = {f"use_{name_field.pk}": "on", f"priority_{name_field.pk}": "0"}
    for other in mapping.field_mappings.exclude(pk=name_field.pk):
        form[f"priority_{other.pk}"] = "0"
    preview = admin_client.post(url, {**form, "action": "preview"})
    assert preview.status_code == 200 and "The Cannon Group PLC" in preview.content.decode()
    assert not Coupling.objects.exists()

    with django_capture_on_commit_callbacks(execute=False):
        response = admin_client.post(url, {**form, "action": "start"})
    assert response.status_code == 302
    entry = JobQueueEntry.objects.get(kind=JobQueueEntry.Kind.COUPLING)
    assert (entry.category, entry.recurring_job, entry.maximum_no_of_attempts_to_run) == ("BCI INTEG", False, 2)
    name_field.refresh_from_db()
    assert name_field.use_for_match_based_coupling
    outcome = execute_job_queue_entry(entry)  # what the worker runs for a Coupling entry
    assert outcome.changed == 1 + len(CRONUS_ACCOUNTS)
    assert couplings_for_mapping(mapping).get(dataverse_id=cannon).bc_id == uuid.UUID(cannon_bc["id"])
    log = admin_client.get(reverse("mappings:couplinglog-list", args=[mapping.pk])).content.decode()
    assert "The Cannon Group PLC" in log and "<td>Coupled</td>" in log


def test_coupled_records_page_names_both_sides_and_searches(emulated: Any, clients: Any, admin_client: Any) -> None:
    bc, dataverse = clients
    cannon_bc = _customers(bc)["The Cannon Group PLC"]
    cannon = _account(dataverse, "The Cannon Group PLC")
    mapping = IntegrationTableMapping.objects.get(connection=emulated, name="CUSTOMER")
    url = reverse("mappings:coupling-list", args=[mapping.pk])
    found = admin_client.get(url, {"bc_search": "Cannon", "dataverse_search": "Cannon Group"}).content.decode()
    assert f'value="{cannon_bc["id"]}"' in found and f'value="{cannon}"' in found
    admin_client.post(reverse("mappings:coupling-create", args=[mapping.pk]),
                      {"bc_id": cannon_bc["id"], "dataverse_id": str(cannon)})
    page = admin_client.get(url).content.decode()
    assert "10000 · The Cannon Group PLC" in page and "The Cannon Group PLC</a>" in page
    assert "filter=%27SystemId%27+IS" in page


def test_couple_salespersons_and_create_a_salesperson_from_a_user(emulated: Any, clients: Any,
                                                                  admin_client: Any) -> None:
    bc, dataverse = clients
    url = reverse("mappings:salesperson-list", args=[emulated.pk])
    salespeople = {s["code"]: s for s in bc.iter_rows("salespeoplePurchasers")}
    first = sorted(salespeople)[0]
    page = admin_client.get(url).content.decode()
    assert "System Administrator" in page and salespeople[first]["displayName"] in page
    assert "# BC Sales Portal Integration" not in page  # the integration user is not offered
    users = {u["fullname"]: u["systemuserid"] for u in dataverse.iter_rows("systemusers",
                                                                         select=["fullname", "systemuserid"])}
    admin_client.post(reverse("mappings:salesperson-couple", args=[emulated.pk]),
                      {"bc_id": salespeople[first]["id"], "dataverse_id": users["System Administrator"]})
    assert Coupling.objects.get(bc_table="Salesperson/Purchaser").dataverse_id == uuid.UUID(
        users["System Administrator"])
    admin_client.post(reverse("mappings:salesperson-create", args=[emulated.pk]),
                      {"dataverse_id": users["Integration User"]})
    created = next(s for s in bc.iter_rows("salespeoplePurchasers") if s["code"] == "SP NO. 00001")
    assert created["displayName"] == "Integration User"
    assert Coupling.objects.filter(bc_table="Salesperson/Purchaser", bc_id=created["id"]).exists()


def test_create_new_and_synchronize_after_coupling_hand_over_to_the_engine(emulated: Any, clients: Any) -> None:
    """CURRENCY (BC: CDS Setup Defaults sets both flags): ISO codes present in Dataverse are coupled, the others
    created."""
    bc, dataverse = clients
    mapping = IntegrationTableMapping.objects.get(connection=emulated, name="CURRENCY")
    assert mapping.synch_after_bulk_coupling and mapping.create_new_in_case_of_no_match
    existing = {r["isocurrencycode"] for r in dataverse.iter_rows("transactioncurrencies",
                                                                  select=["isocurrencycode"])}
    codes = {r["code"] for r in bc.iter_rows("currencies", select=["code"])}
    present = sorted(codes - existing)[0]
    dataverse.create("transactioncurrencies", {"isocurrencycode": present, "currencyname": present,
                                               "currencysymbol": present, "exchangerate": 1.5,
                                               "currencyprecision": 2})
    existing.add(present)
    job = match_based_coupling_run(mapping=mapping, criteria=_criteria(mapping, ("Code", False, 0)))
    outcomes = {line.bc_name: line.outcome for line in job.coupling_log.all()}
    assert {name for name, outcome in outcomes.items() if outcome == Outcome.COUPLED} == codes & existing
    assert {name for name, outcome in outcomes.items() if outcome == Outcome.CREATED} == codes - existing
    after = {r["isocurrencycode"] for r in dataverse.iter_rows("transactioncurrencies", select=["isocurrencycode"])}
    assert codes <= after
    assert couplings_for_mapping(mapping).count() == len(codes)
    assert job.inserted == len(codes - existing)
    assert f"counterpart created: {job.inserted}" in job.message


def test_manual_coupling_frees_a_row_held_by_a_deleted_bc_record(emulated: Any, clients: Any) -> None:
    bc, dataverse = clients
    customers = _customers(bc)
    row = _account(dataverse, "Coupled twice")
    gone = uuid.uuid4()  # a SystemId BC does not have (the record was deleted)
    coupling_create(connection=emulated, bc_table="Customer", bc_id=gone, dataverse_table="account", dataverse_id=row)
    cannon = customers["The Cannon Group PLC"]["id"]
    coupled = coupling_create(connection=emulated, bc_table="Customer", bc_id=cannon, dataverse_table="account",
                              dataverse_id=row, remove_stale=True)
    assert coupled.bc_id == uuid.UUID(cannon) and not Coupling.objects.filter(bc_id=gone).exists()
    with pytest.raises(CouplingConflict, match="already coupled"):  # a living holder keeps the row
        coupling_create(connection=emulated, bc_table="Customer", bc_id=customers["Selangorian Ltd."]["id"],
                        dataverse_table="account", dataverse_id=row, remove_stale=True)


def test_uncoupling_a_sales_order_uncouples_its_lines_with_bidirectional_orders(emulated: Any,
                                                                                 clients: Any) -> None:
    bc, _ = clients
    emulated.bidirectional_sales_order_integration = True
    emulated.save()
    lines_by_order: dict[str, list[str]] = {}
    for line in bc.iter_rows("salesOrderLines", select=["id", "documentId"]):
        lines_by_order.setdefault(line["documentId"], []).append(line["id"])
    first, second = list(lines_by_order)[:2]
    header = coupling_create(connection=emulated, bc_table="Sales Header", bc_id=first, dataverse_table="salesorder",
                             dataverse_id=uuid.uuid4())
    for line_id in lines_by_order[first] + lines_by_order[second][:1]:
        coupling_create(connection=emulated, bc_table="Sales Line", bc_id=line_id,
                        dataverse_table="salesorderdetail", dataverse_id=uuid.uuid4())
    assert coupling_delete(coupling=header) == 1 + len(lines_by_order[first])
    assert list(Coupling.objects.values_list("bc_id", flat=True)) == [uuid.UUID(lines_by_order[second][0])]


def test_synchronize_now_from_the_coupled_records_page(emulated: Any, clients: Any, admin_client: Any,
                                                       django_capture_on_commit_callbacks: Any) -> None:
    """BC's single-record "Synchronize": "Synchronize now" for one coupled record, the direction chosen on a
    bidirectional mapping; the queued task writes the BC customer's name into its coupled account."""
    import django_rq

    bc, dataverse = clients
    cannon_bc = _customers(bc)["The Cannon Group PLC"]
    account = _account(dataverse, "Cannon (to be overwritten)")
    # Person ownership: the customer's salesperson must be coupled to a Dataverse user (its owner).
    salesperson = next(bc.iter_rows("salespeoplePurchasers", filter=f"code eq '{cannon_bc['salespersonCode']}'"))
    admin = next(dataverse.iter_rows("systemusers", select=["systemuserid"],
                                     filter="fullname eq 'System Administrator'"))
    coupling_create(connection=emulated, bc_table="Salesperson/Purchaser", bc_id=uuid.UUID(salesperson["id"]),
                    dataverse_table="systemuser", dataverse_id=uuid.UUID(admin["systemuserid"]))
    # CUSTOMER depends on the option-set mappings: their codes (EXW, 1M(8D)) become Dataverse options first.
    from syncjobs.engine import synchronize_mapping

    for name in ("PAYMENT TERMS", "SHIPMENT METHOD", "SHIPPING AGENT"):
        synchronize_mapping(mapping=IntegrationTableMapping.objects.get(connection=emulated, name=name))
    mapping = IntegrationTableMapping.objects.get(connection=emulated, name="CUSTOMER")
    coupling = coupling_create(connection=emulated, bc_table="Customer", bc_id=uuid.UUID(cannon_bc["id"]),
                               dataverse_table="account", dataverse_id=account)
    page = admin_client.get(reverse("mappings:coupling-list", args=[mapping.pk])).content.decode()
    action = reverse("syncjobs:coupling-synchronize", args=[coupling.pk])
    assert f'action="{action}"' in page and 'value="FromIntegrationTable"' in page  # bidirectional: a choice

    queue = django_rq.get_queue("sync")
    queue.empty()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(action, {"direction": "ToIntegrationTable", "next": "/mappings/"}, follow=True)
    assert "queued for synchronization to Dataverse" in response.content.decode()
    assert queue.count == 1
    queue.jobs[0].perform()
    assert dataverse.retrieve("accounts", account, select=["name"])["name"] == "The Cannon Group PLC"
    coupling.refresh_from_db()
    assert coupling.last_synch_crm_result == Coupling.Result.SUCCESS


def test_manual_coupling_refuses_ids_that_exist_on_neither_side(emulated: Any, clients: Any,
                                                               admin_client: Any) -> None:
    bc, dataverse = clients
    cannon_bc = _customers(bc)["The Cannon Group PLC"]
    cannon = _account(dataverse, "The Cannon Group PLC")
    mapping = IntegrationTableMapping.objects.get(connection=emulated, name="CUSTOMER")
    url = reverse("mappings:coupling-create", args=[mapping.pk])
    ghost = uuid.uuid4()
    for data, side in (({"bc_id": str(ghost), "dataverse_id": str(cannon)}, "Business Central has no Customer"),
                       ({"bc_id": cannon_bc["id"], "dataverse_id": str(ghost)}, "Dataverse has no account")):
        page = admin_client.post(url, data, follow=True).content.decode()
        assert side in page and str(ghost) in page
    assert not couplings_for_mapping(mapping).exists()
    admin_client.post(url, {"bc_id": cannon_bc["id"], "dataverse_id": str(cannon)})
    assert couplings_for_mapping(mapping).get().dataverse_id == cannon


def _remote_requests(emulator: Any) -> int:
    counts = emulator.state()["requests"]
    return sum(v for k, v in counts.items() if k in ("dataverse", "bc")) if isinstance(counts, dict) else counts


def test_viewers_trigger_no_remote_read_and_see_no_e_mail(emulated: Any, clients: Any, emulator: Any,
                                                        admin_client: Any, client: Any,
                                                        django_user_model: Any) -> None:
    bc, dataverse = clients
    cannon_bc = _customers(bc)["The Cannon Group PLC"]
    cannon = _account(dataverse, "The Cannon Group PLC")
    mapping = IntegrationTableMapping.objects.get(connection=emulated, name="CUSTOMER")
    admin_client.post(reverse("mappings:coupling-create", args=[mapping.pk]),
                      {"bc_id": cannon_bc["id"], "dataverse_id": str(cannon)})
    pages = [reverse("mappings:coupling-list", args=[mapping.pk]) + "?bc_search=Cannon&dataverse_search=Cannon",
             reverse("mappings:salesperson-list", args=[emulated.pk])]
    before = _remote_requests(emulator)
    admin_pages = [admin_client.get(url).content.decode() for url in pages]
    assert _remote_requests(emulator) > before  # the administrator's pages read both sides
    assert "@" in admin_pages[1]  # users' e-mail addresses
    client.force_login(django_user_model.objects.create_user("viewer", password="viewer-password-123"))
    before = _remote_requests(emulator)
    viewer_pages = [client.get(url) for url in pages]
    assert _remote_requests(emulator) == before
    assert all(page.status_code == 200 for page in viewer_pages)
    assert "for integration administrators only" in viewer_pages[0].content.decode()
    assert "@" not in viewer_pages[1].content.decode().split("<table", 1)[1]
