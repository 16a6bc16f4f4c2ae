"""The measured steps of ``bench/engine.py``: a connection on the emulators with the default configuration, the
prerequisite mappings, one full ITEM-PRODUCT pass with request counts, and the clean-up between measurements.

Imported by ``bench/engine.py`` once Django is set up (it configures a throwaway database and Redis first).
"""
from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from connections.models import ConnectionSetup
from mappings.models import Coupling, IntegrationFieldMapping, IntegrationTableMapping
from syncjobs.defaults import default_configuration_reset
from syncjobs.engine import clients_for, synchronize_mapping
from syncjobs.engine.passes import ToIntegrationPass
from syncjobs.models import SynchronizationJob

__all__ = ["clients_for", "connect", "forget_items", "full_item_pass", "mapping", "prerequisites",
           "synchronize_mapping"]


def connect(info: dict[str, Any]) -> Any:
    """A connection setup on the emulators with the default configuration (unit-of-measure mode)."""

    settings.OUTBOUND_CA_BUNDLE = info["ca_bundle"]
    port = urlsplit(info["dataverse_url"]).port
    settings.OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{port}", f"localhost:{port}"]  # the emulators' port only
    company = info["bc_companies"][0]
    connection = ConnectionSetup.objects.create(
        name="Bench", dataverse_url=info["dataverse_url"], tenant_id=info["tenant_id"],
        authority_host=info["dataverse_url"], client_id=info["client_id"], client_secret=info["client_secret"],
        bc_api_url=info["bc_api_url"], bc_company_id=company["id"], bc_company_name=company["name"],
        unit_group_mapping_enabled=False, integration_user_id=info["application_user_id"], is_enabled=True,
    )
    default_configuration_reset(connection=connection)
    # the emulated product has no vendorid column
    IntegrationFieldMapping.objects.filter(table_mapping__connection=connection, integration_field_name="vendorid"
                                           ).update(status=IntegrationFieldMapping.Status.DISABLED)

    _, dv = clients_for(connection)
    organization = next(dv.iter_rows("organizations", select=["_basecurrencyid_value"]))
    connection.base_currency_id = organization["_basecurrencyid_value"]
    connection.save(update_fields=["base_currency_id"])
    return connection


def mapping(connection: Any, name: str) -> Any:
    return IntegrationTableMapping.objects.get(connection=connection, name=name)


def prerequisites(connection: Any) -> None:
    for name in ("CURRENCY", "UNIT OF MEASURE"):
        synchronize_mapping(mapping=mapping(connection, name), full=True)


def full_item_pass(connection: Any, *, batch_size: int) -> dict[str, Any]:
    """One full BC -> Dataverse pass of ITEM-PRODUCT with fresh clients; returns records, seconds, requests."""

    bc, dv = clients_for(connection)
    started = time.perf_counter()
    job = ToIntegrationPass(mapping=mapping(connection, "ITEM-PRODUCT"), bc_client=bc, dv_client=dv, full=True,
                            batch_size=batch_size, integration_user_id=connection.integration_user_id).run()
    seconds = time.perf_counter() - started
    return {"records": job.inserted + job.modified, "failed": job.failed, "seconds": seconds,
            "dv_requests": dv.requests_sent, "bc_requests": bc.requests_sent}


def forget_items(connection: Any) -> None:
    """Drop the item couplings and jobs (after the emulators were reset) for the next measurement."""

    Coupling.objects.filter(connection=connection).delete()
    SynchronizationJob.objects.all().delete()

    IntegrationTableMapping.objects.filter(connection=connection).update(synch_modified_on_filter=None,
                                                                        synch_int_tbl_mod_on_fltr=None)
