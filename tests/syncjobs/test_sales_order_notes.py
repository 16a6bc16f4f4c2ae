"""The Sales Order Notes job on the demo data with bi-directional sales order integration: a note added in BC to a
coupled order appears in Dynamics 365 Sales, a note added in Sales appears in BC, each once (BC: codeunit "CRM Notes
Synch Job")."""
from __future__ import annotations

from typing import Any

import pytest

from mappings.models import Coupling
from syncjobs.engine import clients_for
from syncjobs.models import JobQueueEntry
from syncjobs.order_notes import SUBJECT
from syncjobs.runner import execute_job_queue_entry
from tests.syncjobs.test_bidirectional_orders_demo import bidirectional_demo

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_note_added_on_either_side_of_a_coupled_order_appears_on_the_other(
        emulator: Any, emulator_connection: Any, sync_queue: Any, admin_user: Any) -> None:
    connection = emulator_connection
    bidirectional_demo(emulator, connection, sync_queue, admin_user)
    entry = JobQueueEntry.objects.get(connection=connection, kind=JobQueueEntry.Kind.SALES_ORDER_NOTES)
    bc, dv = clients_for(connection)
    first, second = Coupling.objects.filter(connection=connection, bc_table="Sales Header", is_pending=False)[:2]
    assert execute_job_queue_entry(entry).changed == 0  # no notes yet

    bc.create("salesOrderNotes", {"salesOrderId": str(first.bc_id), "note": "Deliver to the back door."},
              api="custom")
    dv.create("annotations", {"subject": "Call first", "notetext": "Call the buyer before shipping.",
                              "objectid_salesorder@odata.bind": f"/salesorders({second.dataverse_id})"})
    outcome = execute_job_queue_entry(entry)
    assert (outcome.changed, outcome.failed) == (2, 0)

    in_sales = list(dv.iter_rows("annotations", select=["notetext", "subject"],
                                 filter=f"_objectid_value eq {first.dataverse_id}"))
    assert [(n["subject"], n["notetext"]) for n in in_sales] == [(SUBJECT, "Deliver to the back door.")]
    in_bc = [n for n in bc.iter_rows("salesOrderNotes", api="custom") if n["salesOrderId"] == str(second.bc_id)]
    assert [n["note"] for n in in_bc] == ["Call the buyer before shipping."]

    again = execute_job_queue_entry(entry)  # nothing is copied back or twice
    assert (again.changed, again.failed) == (0, 0)
    assert len(list(dv.iter_rows("annotations", select=["annotationid"],
                                 filter=f"_objectid_value eq {first.dataverse_id}"))) == 1
