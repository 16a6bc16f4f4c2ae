"""Destructive or wide actions ask first, saying what changes with counts ("Use default synchronization setup" on
the mapping list and on a mapping page, Reset of the full synchronization review), and actions that start
synchronization on a disabled connection (Run Now, Set Ready, Sync All, Start coupling) are refused with "The
connection is disabled" and a link to the connection page, where Enable is."""
from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from connections.models import ConnectionSetup
from mappings.models import Coupling, IntegrationFieldMapping, IntegrationTableMapping
from syncjobs.defaults import default_configuration_reset
from syncjobs.models import FullSyncReviewLine, JobQueueEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def configured(connection: ConnectionSetup) -> ConnectionSetup:
    """The (disabled) connection with the default configuration and one coupling of CUSTOMER's tables."""
    default_configuration_reset(connection=connection)
    customer = IntegrationTableMapping.objects.get(connection=connection, name="CUSTOMER")
    Coupling.objects.create(connection=connection, bc_table=customer.table,
                            dataverse_table=customer.coupling_dataverse_table,
                            bc_id="00000000-0000-0000-0000-000000000001",
                            dataverse_id="00000000-0000-0000-0000-000000000002")
    return connection


def _enable(connection: ConnectionSetup) -> None:
    ConnectionSetup.objects.filter(pk=connection.pk).update(is_enabled=True)


def test_mapping_list_asks_before_the_whole_default_setup(admin_client: Any, configured: ConnectionSetup) -> None:
    url = reverse("mappings:configuration-reset", args=[configured.pk])
    listing = admin_client.get(reverse("mappings:index")).content.decode()
    assert f'href="{url}"' in listing and f'action="{url}"' not in listing  # a link to the question, not a POST
    IntegrationTableMapping.objects.filter(connection=configured, name="CUSTOMER").update(table_filter="No.=1*")

    page = admin_client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    mappings = IntegrationTableMapping.objects.filter(connection=configured)
    fields = IntegrationFieldMapping.objects.filter(table_mapping__connection=configured).count()
    entries = JobQueueEntry.objects.filter(connection=configured).count()
    assert f"<strong>{mappings.count()}</strong> mapping(s) reset to the defaults" in body
    assert f"<strong>{fields}</strong> field mapping(s) replaced" in body
    assert f"<strong>{entries}</strong> job queue entries recreated" in body
    assert "<strong>1</strong> coupling(s) of these mappings, which are kept" in body
    assert f'action="{url}"' in body
    # asking changed nothing
    assert mappings.get(name="CUSTOMER").table_filter == "No.=1*"

    response = admin_client.post(url, follow=True)
    assert response.status_code == 200
    assert mappings.get(name="CUSTOMER").table_filter != "No.=1*"
    assert Coupling.objects.filter(connection=configured).count() == 1


def test_mapping_page_asks_before_its_default_setup(admin_client: Any, configured: ConnectionSetup) -> None:
    mapping = IntegrationTableMapping.objects.get(connection=configured, name="CUSTOMER")
    url = reverse("mappings:mapping-reset", args=[mapping.pk])
    detail = admin_client.get(reverse("mappings:mapping-detail", args=[mapping.pk])).content.decode()
    assert f'href="{url}"' in detail and f'action="{url}"' not in detail
    body = admin_client.get(url).content.decode()
    assert "for CUSTOMER?" in body
    assert "<strong>1</strong> mapping(s) reset to the defaults" in body
    assert f"<strong>{mapping.field_mappings.count()}</strong> field mapping(s) replaced" in body
    jobs = JobQueueEntry.objects.filter(table_mapping=mapping).count()
    assert f"<strong>{jobs}</strong> job queue entr" in body
    assert "<strong>1</strong> coupling(s)" in body


def test_viewers_cannot_open_the_questions(client: Any, django_user_model: Any, configured: ConnectionSetup) -> None:
    client.force_login(django_user_model.objects.create_user("viewer", password="x"))
    mapping = IntegrationTableMapping.objects.filter(connection=configured).first()
    assert client.get(reverse("mappings:configuration-reset", args=[configured.pk])).status_code == 403
    assert client.get(reverse("mappings:mapping-reset", args=[mapping.pk])).status_code == 403
    assert client.get(reverse("syncjobs:fullsyncreview-reset-confirm", args=[configured.pk])).status_code == 403


def test_review_reset_asks_first_with_counts(admin_client: Any, configured: ConnectionSetup) -> None:
    mappings = list(IntegrationTableMapping.objects.filter(connection=configured)[:3])
    for n, mapping in enumerate(mappings):
        FullSyncReviewLine.objects.create(
            connection=configured, table_mapping=mapping, name=mapping.name, direction=mapping.direction,
            recommendation=FullSyncReviewLine.Recommendation.FULL_SYNCHRONIZATION,
            recommendation_overridden=n == 0, excluded=n == 1)
    review = admin_client.get(reverse("syncjobs:fullsyncreview-detail", args=[configured.pk])).content.decode()
    confirm_url = reverse("syncjobs:fullsyncreview-reset-confirm", args=[configured.pk])
    assert f'href="{confirm_url}"' in review and "Delete the lines and generate" not in review  # no inline JS
    body = admin_client.get(confirm_url).content.decode()
    assert "<strong>3</strong> line(s) deleted and generated again" in body
    assert "<strong>1</strong> recommendation(s) changed by hand" in body
    assert "<strong>1</strong> line(s) removed from this run" in body
    assert f'action="{reverse("syncjobs:fullsyncreview-reset", args=[configured.pk])}"' in body
    assert FullSyncReviewLine.objects.filter(connection=configured).count() == 3


def _refused(response: Any, connection: ConnectionSetup) -> None:
    body = response.content.decode()
    assert "The connection is disabled" in body
    assert f'<a href="{reverse("connections:connection-detail", args=[connection.pk])}">Enable it' in body


def test_run_now_and_set_ready_are_refused_while_disabled(admin_client: Any, configured: ConnectionSetup) -> None:
    entry = JobQueueEntry.objects.filter(connection=configured, table_mapping__isnull=False).first()
    JobQueueEntry.objects.filter(pk=entry.pk).update(status=JobQueueEntry.Status.ON_HOLD)
    for name in ("jobqueueentry-run-now", "jobqueueentry-set-ready"):
        response = admin_client.post(reverse(f"syncjobs:{name}", args=[entry.pk]), follow=True)
        _refused(response, configured)
        entry.refresh_from_db()
        assert entry.status == JobQueueEntry.Status.ON_HOLD, name
    _enable(configured)
    response = admin_client.post(reverse("syncjobs:jobqueueentry-set-ready", args=[entry.pk]), follow=True)
    assert "The connection is disabled" not in response.content.decode()
    entry.refresh_from_db()
    assert entry.status == JobQueueEntry.Status.READY


def test_sync_all_is_refused_while_disabled(admin_client: Any, configured: ConnectionSetup) -> None:
    response = admin_client.post(reverse("syncjobs:fullsyncreview-start", args=[configured.pk]), follow=True)
    _refused(response, configured)
    assert "dependenc" not in response.content.decode().split('<ul class="messages">', 1)[1].split("</ul>", 1)[0]
    full = JobQueueEntry.Kind.FULL_SYNCHRONIZATION
    assert not JobQueueEntry.objects.filter(connection=configured, kind=full).exists()


def test_start_coupling_is_refused_while_disabled(admin_client: Any, configured: ConnectionSetup) -> None:
    mapping = IntegrationTableMapping.objects.get(connection=configured, name="CUSTOMER")
    name_field = mapping.field_mappings.get(field_name="Name")
    form = {f"use_{name_field.pk}": "on", f"priority_{name_field.pk}": "0", "action": "start"}
    for other in mapping.field_mappings.exclude(pk=name_field.pk):
        form[f"priority_{other.pk}"] = "0"
    response = admin_client.post(reverse("mappings:matchbasedcoupling-start", args=[mapping.pk]), form)
    assert response.status_code == 409
    _refused(response, configured)
    assert not JobQueueEntry.objects.filter(kind=JobQueueEntry.Kind.COUPLING).exists()
