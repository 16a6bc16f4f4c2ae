"""DataverseClient against the Dataverse emulator over HTTPS (Microsoft Learn: "Use the Microsoft Dataverse Web
API")."""
from __future__ import annotations

import threading
import time
import uuid

import pytest

from connections.clients import BatchRequest, DataverseClient
from connections.clients.errors import (
    DuplicateKeyError,
    MissingReferenceError,
    NotFoundError,
    PermanentError,
    PreconditionFailedError,
    ThrottledError,
    TransientError,
)

from .conftest import FAST


def _accounts(n: int, prefix: str) -> list[dict]:
    return [{"accountid": str(uuid.uuid4()), "name": f"{prefix} {i:03d}"} for i in range(n)]


def test_who_am_i_and_version(dv):
    me = dv.who_am_i()
    assert uuid.UUID(me["UserId"]) and uuid.UUID(me["OrganizationId"])
    assert dv.retrieve_version().startswith("9.")
    assert dv.entity_set("product") == "products"
    assert dv.table_definition("uomschedule").primary_id == "uomscheduleid"


def test_unknown_table_is_named(dv):
    with pytest.raises(NotFoundError) as caught:
        dv.entity_set("nosuchtable")
    assert "'nosuchtable'" in caught.value.message


def test_crud_with_etags(dv):
    account_id = uuid.uuid4()
    assert dv.create("accounts", {"accountid": str(account_id), "name": "Contoso"}) == account_id
    row = dv.retrieve("accounts", account_id, select=["name"])
    assert row["name"] == "Contoso"
    etag = row["@odata.etag"]
    dv.update("accounts", account_id, {"name": "Contoso Ltd"}, if_match=etag)
    with pytest.raises(PreconditionFailedError) as caught:  # stale etag → 412 0x80060882 (conditional operations)
        dv.update("accounts", account_id, {"name": "stale"}, if_match=etag)
    assert (caught.value.status, caught.value.code) == (412, "0x80060882")
    dv.upsert("accounts", account_id, {"telephone1": "555"})
    assert dv.retrieve("accounts", account_id, select=["name", "telephone1"])["telephone1"] == "555"
    dv.delete("accounts", account_id)
    with pytest.raises(NotFoundError) as caught:
        dv.retrieve("accounts", account_id)
    assert (caught.value.status, caught.value.code) == (404, "0x80040217")
    with pytest.raises(NotFoundError):  # If-Match: * → update only, never create (Upsert)
        dv.update("accounts", account_id, {"name": "ghost"})


def test_create_without_own_id_returns_the_service_id(dv):
    created = dv.create("accounts", {"name": "Fabrikam"})
    assert isinstance(created, uuid.UUID)
    row = dv.create("accounts", {"name": "Northwind"}, return_representation=True)
    assert row["name"] == "Northwind" and row["@odata.etag"]


def test_duplicate_key(dv):
    account_id = str(uuid.uuid4())
    dv.create("accounts", {"accountid": account_id, "name": "Once"})
    with pytest.raises(DuplicateKeyError) as caught:
        dv.create("accounts", {"accountid": account_id, "name": "Twice"})
    assert (caught.value.status, caught.value.code) == (412, "0x80040237")
    with pytest.raises(DuplicateKeyError):  # If-None-Match: * → create only (Upsert)
        dv.upsert("accounts", account_id, {"name": "again"}, if_none_match="*")


def test_missing_lookup(dv):
    missing = uuid.uuid4()
    with pytest.raises(MissingReferenceError) as caught:
        dv.create("accounts", {"name": "Child", "parentaccountid@odata.bind": f"/accounts({missing})"})
    assert (caught.value.table, caught.value.reference_id) == ("account", str(missing))
    assert "first" in caught.value.fix


def test_paging_follows_next_link(dv):
    rows = _accounts(25, "Paged")
    dv.create_multiple("account", rows)
    before = dv.requests_sent
    seen = list(dv.iter_rows("accounts", select=["name"], filter="startswith(name,'Paged ')", page_size=10))
    assert sorted(r["name"] for r in seen) == sorted(r["name"] for r in rows)
    assert dv.requests_sent - before == 3  # pages of 10, 10 and 5
    assert dv.count("accounts", filter="startswith(name,'Paged ')") == 25


def test_bulk_create_update_upsert(dv):
    rows = _accounts(3, "Bulk")
    ids = dv.create_multiple("account", rows)
    assert ids == [uuid.UUID(r["accountid"]) for r in rows]
    dv.update_multiple("account", [{"accountid": r["accountid"], "telephone1": "1"} for r in rows])
    new = {"accountid": str(uuid.uuid4()), "name": "Bulk new"}
    dv.upsert_multiple("account", [{"accountid": rows[0]["accountid"], "telephone1": "2"}, new])
    assert dv.retrieve("accounts", rows[0]["accountid"], select=["telephone1"])["telephone1"] == "2"
    assert dv.retrieve("accounts", rows[1]["accountid"], select=["telephone1"])["telephone1"] == "1"
    assert dv.retrieve("accounts", new["accountid"], select=["name"])["name"] == "Bulk new"
    with pytest.raises(DuplicateKeyError) as caught:
        dv.create_multiple("account", [{"accountid": str(uuid.uuid4()), "name": "ok"}, rows[0]])
    assert not caught.value.after_unknown_outcome


def test_batch_atomic_changeset_rolls_back(dv):
    good, duplicate = str(uuid.uuid4()), str(uuid.uuid4())
    dv.create("accounts", {"accountid": duplicate, "name": "Existing"})
    with pytest.raises(DuplicateKeyError):
        dv.batch([
            BatchRequest("POST", "accounts", {"accountid": good, "name": "Batch good"}),
            BatchRequest("POST", "accounts", {"accountid": duplicate, "name": "Batch dup"}),
        ])
    with pytest.raises(NotFoundError):
        dv.retrieve("accounts", good)
    responses = dv.batch([
        BatchRequest("POST", "accounts", {"accountid": good, "name": "Batch good"}, content_id="1"),
        BatchRequest("PATCH", f"accounts({duplicate})", {"name": "Renamed"}, headers={"If-Match": "*"}),
    ])
    assert [r.status for r in responses] == [204, 204]
    assert responses[0].entity_id == uuid.UUID(good)
    assert responses[0].content_id == "1"
    assert dv.retrieve("accounts", duplicate, select=["name"])["name"] == "Renamed"


def test_batch_continue_on_error_reports_each_request(dv):
    existing = str(uuid.uuid4())
    dv.create("accounts", {"accountid": existing, "name": "Existing"})
    fresh = str(uuid.uuid4())
    responses = dv.batch([
        BatchRequest("POST", "accounts", {"accountid": existing, "name": "dup"}),
        BatchRequest("POST", "accounts", {"accountid": fresh, "name": "lands"}),
        BatchRequest("GET", f"accounts({fresh})?$select=name"),
    ], atomic=False)
    assert [r.status for r in responses] == [412, 204, 200]
    assert isinstance(responses[0].error, DuplicateKeyError)
    assert responses[1].error is None
    assert responses[2].body["name"] == "lands"


def test_change_tracking(dv):
    rows, deleted, link = dv.changes("accounts", select=["name"], delta_link=None)
    assert rows and deleted == [] and "deltatoken" in link
    new_id = dv.create("accounts", {"name": "Tracked"})
    victim = rows[0]["accountid"]
    dv.delete("accounts", victim)
    changed, deleted, next_link = dv.changes("accounts", select=["name"], delta_link=link)
    assert [r["name"] for r in changed] == ["Tracked"]
    assert changed[0]["accountid"] == str(new_id)
    assert deleted == [uuid.UUID(victim)]
    assert next_link != link
    assert dv.changes("accounts", select=["name"], delta_link=next_link)[:2] == ([], [])


def test_throttled_request_waits_for_retry_after(dv, emulator):
    emulator.control(dv_requests_per_window=3, dv_window_seconds=2)
    started = time.monotonic()
    for _ in range(4):
        dv.who_am_i()
    assert time.monotonic() - started >= 0.9  # the fourth waited for the window (Retry-After ≥ 1 s)
    assert dv.requests_sent == 5  # one 429, then success


def test_throttling_beyond_the_wait_budget_raises(info, tokens, emulator):
    emulator.control(dv_requests_per_window=1, dv_window_seconds=30)
    client = DataverseClient(info["dataverse_url"], tokens, max_concurrency=0, backoff_base=0.01,
                             max_retry_wait=2.0)
    client.who_am_i()
    with pytest.raises(ThrottledError) as caught:
        client.who_am_i()
    assert caught.value.status == 429 and caught.value.retry_after > 2
    assert caught.value.code == "0x80072322"


def test_server_errors_are_retried_then_succeed(info, tokens, emulator):
    client = DataverseClient(info["dataverse_url"], tokens, max_retries=10, max_concurrency=0, **FAST)
    client.who_am_i()
    emulator.control(rate_5xx=0.5, fault_seed=7, fault_services=["dataverse"])
    for _ in range(8):
        assert client.who_am_i()["UserId"]
    assert client.requests_sent > 1 + 8


def test_retries_are_bounded(dv, emulator):
    emulator.control(rate_5xx=1.0, fault_services=["dataverse"])
    with pytest.raises(TransientError) as caught:
        dv.who_am_i()
    assert caught.value.status in (500, 503)
    assert dv.requests_sent == 4  # max_retries=3


def test_post_with_unknown_outcome_is_not_repeated(dv, emulator):
    dv.who_am_i()  # token cached before the faults start
    emulator.control(rate_5xx=1.0, fault_services=["dataverse"])
    with pytest.raises(TransientError) as caught:
        dv.create("accounts", {"name": "No id"}, idempotent=False)
    assert caught.value.outcome_unknown
    assert dv.requests_sent == 2  # who_am_i + one create attempt


def test_create_with_own_id_is_repeated_without_duplicate(dv, emulator):
    account_id = uuid.uuid4()
    dv.entity_set("account")  # metadata read before the faults start
    emulator.control(drop_rate=0.5, fault_seed=3, fault_services=["dataverse"])
    for index in range(6):
        dv.create("accounts", {"accountid": str(account_id if index == 0 else uuid.uuid4()), "name": f"Drop {index}"})
    emulator.control(drop_rate=0.0)
    assert dv.count("accounts", filter="startswith(name,'Drop ')") == 6
    assert dv.retrieve("accounts", account_id, select=["name"])["name"] == "Drop 0"


def _lose_first_answer(emulator) -> None:
    """The next request waits 0.8 s in the emulator before it is carried out; the fault is switched off after 0.3 s,
    so a client timing out after 0.5 s loses the answer of a request that still lands."""
    emulator.control(latency_ms=800, fault_services=["dataverse"])
    threading.Timer(0.3, lambda: emulator.control(latency_ms=0)).start()


def test_lost_create_answer_with_own_id_is_not_duplicated(info, tokens, emulator):
    client = DataverseClient(info["dataverse_url"], tokens, timeout=0.5, max_retries=2, max_concurrency=0,
                             backoff_base=1.0, backoff_max=1.0)
    client.who_am_i()
    client.entity_set("account")
    account_id = uuid.uuid4()
    _lose_first_answer(emulator)
    before = client.requests_sent
    assert client.create("accounts", {"accountid": str(account_id), "name": "Lost answer"}) == account_id
    # two attempts: the repeat met the row made by the first (412 duplicate key) and reported it as created
    assert client.requests_sent - before == 2
    assert client.count("accounts", filter="name eq 'Lost answer'") == 1


def test_lost_create_answer_without_id_is_reported_not_repeated(info, tokens, emulator):
    client = DataverseClient(info["dataverse_url"], tokens, timeout=0.5, max_retries=2, max_concurrency=0,
                             backoff_base=1.0, backoff_max=1.0)
    client.who_am_i()
    _lose_first_answer(emulator)
    with pytest.raises(TransientError) as caught:
        client.create("accounts", {"name": "Unknown outcome"}, idempotent=False)
    assert caught.value.layer == "timeout" and caught.value.outcome_unknown
    time.sleep(0.6)
    assert client.count("accounts", filter="name eq 'Unknown outcome'") == 1  # it did land: repeating would duplicate


def test_concurrency_cap_is_shared_across_clients(info, tokens, emulator):
    """Six threads on two clients of one credential (as in two workers), cap 2: the leases held in Redis never
    exceed 2, and the emulator's added latency shows that the requests queued (2 at a time)."""
    key = uuid.uuid4().hex
    clients = [DataverseClient(info["dataverse_url"], tokens, concurrency_key=key, max_concurrency=2,
                               max_retries=0, **FAST) for _ in range(2)]
    for client in clients:
        client.who_am_i()  # tokens cached before the latency starts counting
    errors: list[Exception] = []
    observed: list[int] = []
    done = threading.Event()

    def work(client: DataverseClient) -> None:
        try:
            client.who_am_i()
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    def watch() -> None:
        while not done.is_set():
            observed.append(clients[0].transport.limiter.holders())
            time.sleep(0.01)

    emulator.control(latency_ms=150, fault_services=["dataverse"])
    threads = [threading.Thread(target=work, args=(clients[i % 2],)) for i in range(6)]
    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    done.set()
    watcher.join()
    assert errors == []
    assert max(observed) == 2
    assert elapsed >= 0.44  # 6 requests of ≥ 150 ms, 2 at a time (about 0.15 s without the cap)
    assert sum(c.requests_sent for c in clients) == 2 + 6


def test_impersonation_header(dv, info):
    """MSCRMCallerID makes the impersonated user the creator (Microsoft Learn: "Impersonate another user using the
    Web API")."""
    me = uuid.UUID(dv.who_am_i()["UserId"])
    other = next(u for u in dv.iter_rows("systemusers", select=["systemuserid", "fullname"])
                 if uuid.UUID(u["systemuserid"]) != me and "SYSTEM" not in u["fullname"].upper())
    as_other = DataverseClient(info["dataverse_url"], dv.tokens, caller_id=uuid.UUID(other["systemuserid"]),
                               max_concurrency=0)
    created = as_other.create("accounts", {"name": "On behalf"})
    row = dv.retrieve("accounts", created, select=["_createdby_value", "_createdonbehalfby_value"])
    assert row["_createdby_value"] == other["systemuserid"]
    assert row["_createdonbehalfby_value"] == str(me)


def _solution_zip(unique_name: str) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0" encoding="utf-8"?><Types xmlns="http://'
                         'schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" '
                         'ContentType="application/octet-stream" /></Types>')
        archive.writestr("solution.xml", "<ImportExportXml><SolutionManifest><UniqueName>"
                         f"{unique_name}</UniqueName><Version>1.2.0.0</Version><Managed>0</Managed>"
                         "<Publisher><UniqueName>portaltests</UniqueName><CustomizationPrefix>pt"
                         "</CustomizationPrefix></Publisher></SolutionManifest></ImportExportXml>")
        archive.writestr("customizations.xml", "<ImportExportXml><Entities /><Roles /><Workflows />"
                         "<Languages><Language>1033</Language></Languages></ImportExportXml>")
    return buffer.getvalue()


def test_import_solution(dv):
    dv.import_solution(_solution_zip("PortalClientTest"))
    solutions = list(dv.iter_rows("solutions", select=["uniquename", "version"],
                                  filter="uniquename eq 'PortalClientTest'"))
    assert [(s["uniquename"], s["version"]) for s in solutions] == [("PortalClientTest", "1.2.0.0")]
    with pytest.raises(PermanentError) as caught:
        dv.import_solution(b"not a zip")
    assert caught.value.code == "0x80048060"
    assert "import file is invalid" in caught.value.message


def test_associate_and_disassociate(dv):
    parent = dv.create("accounts", {"name": "Parent"})
    child = dv.create("accounts", {"name": "Child"})
    dv.associate("accounts", parent, "account_parent_account", "accounts", child)
    assert dv.retrieve("accounts", child, select=["_parentaccountid_value"])["_parentaccountid_value"] == str(parent)
    dv.disassociate("accounts", parent, "account_parent_account", child)
    assert dv.retrieve("accounts", child, select=["_parentaccountid_value"])["_parentaccountid_value"] is None


def test_execute_function(dv):
    assert dv.execute("RetrieveVersion()")["Version"] == dv.retrieve_version()


def test_top_and_annotations(dv):
    parent = dv.create("accounts", {"name": "Annotated parent"})
    dv.create("accounts", {"name": "Annotated child", "parentaccountid@odata.bind": f"/accounts({parent})"})
    before = dv.requests_sent
    newest = list(dv.iter_rows("accounts", select=["name"], orderby="createdon desc", top=2))
    assert len(newest) == 2 and dv.requests_sent - before == 1
    child = next(dv.iter_rows("accounts", select=["_parentaccountid_value"], filter="name eq 'Annotated child'",
                              annotations="Microsoft.Dynamics.CRM.lookuplogicalname"))
    assert child["_parentaccountid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "account"
