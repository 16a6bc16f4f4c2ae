"""No URL of the portal answers 500, whatever its path parameters, query values or posted form values.

The walk reads the project's real URL patterns (``get_resolver()``, namespaced includes too), so a new pattern is
covered without touching this file. Paths are built by hand from each route, so a converter can receive values that
``reverse`` would refuse or that no object has: random UUIDs, 0, 2**63, 2**64, 10**20, unicode, 5,000 characters.
Every path is asked for by an anonymous user, a signed-in viewer and an Integration Administrator, with GET and POST
(the test client does not check CSRF), in a small world where the ids of existing objects are tried as well.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import IntConverter, PathConverter, SlugConverter, StringConverter, UUIDConverter
from django.urls.resolvers import RoutePattern

pytestmark = pytest.mark.django_db

HUGE = 10**30
LONG = "x" * 5000
INTS = [0, 2**63, 2**64, 10**20]
STRINGS = ["é✓漢字-ünï", LONG, "-", "..", "%00"]
#: Hostile query strings, two so that values that exclude each other (two ``next``, two ``page``) are both tried.
QUERIES = [
    {"connection": "not-a-uuid", "job": "x", "next": "//evil.example", "page": "-1", "outcome": "<script>",
     "bc_table": "<script>", "dataverse_table": "x", "bc_search": LONG, "dataverse_search": "'", "mapping": LONG,
     "result": "x", "date_from": "2024-13-45", "date_to": "x", "step": "x"},
    {"connection": LONG, "job": LONG, "next": "javascript:alert(1)", "page": str(HUGE), "outcome": LONG,
     "bc_table": LONG, "dataverse_table": LONG, "date_from": "9999-12-31", "date_to": "0001-01-01"},
    {"connection": str(uuid.uuid4()), "job": str(uuid.uuid4()), "next": "https://evil.example/", "page": "last"},
]


@dataclass
class Route:
    """One URL pattern: its route (``connections/<uuid:pk>/``), name and the converters of its parameters."""

    route: str
    name: str
    converters: dict[str, Any] = field(default_factory=dict)


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "", converters: dict[str, Any] | None = None,
          ) -> Iterator[Route]:
    for entry in patterns:
        pattern = entry.pattern
        inherited = dict(converters or {})
        if prefix.startswith("admin/"):
            # Django's own admin site (regex patterns included); the project only registers models in it.
            if isinstance(entry, URLResolver):
                yield from _walk(entry.url_patterns, prefix + str(pattern), namespace, inherited)
            else:
                yield Route(prefix + str(pattern), f"{namespace}:{entry.name}", {"__regex__": True})
            continue
        assert isinstance(pattern, RoutePattern) or str(pattern).startswith("admin/"), (
            f"{prefix}{pattern} is a regex pattern: give it a path() route (or teach this walk to fill it)")
        inherited.update(getattr(pattern, "converters", {}))
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else (
                entry.namespace or namespace)
            yield from _walk(entry.url_patterns, prefix + str(pattern), inner, inherited)
        elif isinstance(entry, URLPattern):
            yield Route(prefix + str(pattern), f"{namespace}:{entry.name}".lstrip(":"), inherited)


def project_routes() -> list[Route]:
    """Every route of the project; the admin's own (regex) patterns are skipped, its route entries kept."""
    return [r for r in _walk(get_resolver().url_patterns) if "__regex__" not in r.converters]


def _fill(route: str, values: dict[str, Any]) -> str:
    path = route
    for name, value in values.items():
        start = path.index("<")
        end = path.index(">", start)
        assert path[start + 1:end].split(":")[-1] == name, (route, name)
        path = path[:start] + str(value) + path[end + 1:]
    return "/" + path


@dataclass
class World:
    """Existing objects whose ids are tried in every path parameter of the matching type."""

    uuids: list[uuid.UUID]
    ints: list[int]
    field_mapping_ids: list[int]
    by_name: dict[str, Any]


@pytest.fixture
def world(db: Any, django_user_model: Any) -> World:
    from connections.models import ConnectionAction, ConnectionSetup
    from mappings.models import Coupling, CouplingLogEntry, IntegrationFieldMapping, IntegrationTableMapping
    from syncjobs.defaults import default_configuration_reset
    from syncjobs.models import FullSyncReviewLine, JobQueueEntry, SynchronizationError, SynchronizationJob

    connection = ConnectionSetup.objects.create(
        name="CRONUS", dataverse_url="https://crm.example.com", bc_web_client_url="https://bc.example.com/BC",
        ownership_model=ConnectionSetup.OwnershipModel.PERSON, unit_group_mapping_enabled=True)
    default_configuration_reset(connection=connection)
    customer = IntegrationTableMapping.objects.get(connection=connection, name="CUSTOMER")
    entry = JobQueueEntry.objects.filter(table_mapping=customer).first()
    coupling = Coupling.objects.create(connection=connection, bc_table="Customer", bc_id=uuid.uuid4(),
                                       dataverse_table="account", dataverse_id=uuid.uuid4(), skipped=True)
    job = SynchronizationJob.objects.create(table_mapping=customer, direction="ToIntegrationTable", failed=1)
    SynchronizationError.objects.create(job=job, coupling=coupling, message="<script>alert(1)</script>")
    coupling_job = SynchronizationJob.objects.create(table_mapping=customer, direction="ToIntegrationTable",
                                                     type=SynchronizationJob.Type.COUPLING)
    CouplingLogEntry.objects.create(job=coupling_job, sequence=1, bc_id=uuid.uuid4(), outcome="Coupled")
    line = FullSyncReviewLine.objects.create(connection=connection, table_mapping=customer, name=customer.name,
                                             direction=customer.direction,
                                             recommendation=FullSyncReviewLine.Recommendation.FULL_SYNCHRONIZATION)
    action = ConnectionAction.objects.create(connection=connection, kind=ConnectionAction.Kind.ENABLE,
                                             status=ConnectionAction.Status.FAILED)
    field_mapping = IntegrationFieldMapping.objects.filter(table_mapping=customer).first()
    return World(
        uuids=[connection.pk, customer.pk, entry.pk if entry else uuid.uuid4(), job.pk, coupling_job.pk, action.pk],
        ints=[coupling.pk, line.pk, field_mapping.pk],
        field_mapping_ids=list(IntegrationFieldMapping.objects.values_list("pk", flat=True)),
        by_name={"pk": connection.pk, "connection_pk": connection.pk, "connection_id": connection.pk,
                 "action_pk": action.pk, "entry_id": entry.pk if entry else uuid.uuid4(), "job_id": job.pk,
                 "line_id": line.pk, "coupling_id": coupling.pk},
    )


def _candidates(converter: Any, world: World) -> list[Any]:
    if isinstance(converter, UUIDConverter):
        return [uuid.uuid4(), *world.uuids]
    if isinstance(converter, IntConverter):
        return [*INTS, *world.ints]
    if isinstance(converter, (PathConverter, StringConverter, SlugConverter)):
        values = STRINGS + (["a/b/../c"] if isinstance(converter, PathConverter) else [])
        return values
    raise AssertionError(f"No hostile values for the converter {converter!r}: add them to this test")


def paths(route: Route, world: World) -> list[str]:
    """The route with each parameter in turn taking each candidate (the others an existing object's id)."""
    if not route.converters:
        return [_fill(route.route, {})]
    names = list(route.converters)
    best = {n: world.by_name.get(n, _candidates(route.converters[n], world)[0]) for n in names}
    for name in names:
        # A name-guessed id of the wrong type (int parameter called pk) falls back to the first candidate.
        if not isinstance(best[name], int) == isinstance(route.converters[name], IntConverter):
            best[name] = _candidates(route.converters[name], world)[-1]
    result = [_fill(route.route, best)]
    for name in names:
        for value in _candidates(route.converters[name], world):
            path = _fill(route.route, {**best, name: value})
            if path not in result:
                result.append(path)
    return result


def post_bodies(world: World) -> list[dict[str, Any]]:
    """Hostile form values for every form of the portal (extra keys are ignored by the forms that don't know them)."""
    first: dict[str, Any] = {
        "next": "//evil.example", "days": "-1", "match_priority": str(10**20), "action": "start", "confirmed": "1",
        "coupling": ["1", str(2**64), "x"], "direction": "x", "bc_id": "not-a-uuid", "dataverse_id": LONG,
        "connection": "not-a-uuid", "bc_table": "Customer", "dataverse_table": "account", "name": LONG,
        "field_name": "<script>", "integration_field_name": LONG, "constant_value": LONG,
        "recommendation": "x", "mapping": LONG, "page": "-1",
    }
    second: dict[str, Any] = {
        "next": "javascript:alert(1)", "days": str(HUGE), "match_priority": "-1", "action": "preview",
        "confirmed": "0", "coupling": [str(10**20)], "direction": "ToIntegrationTable", "bc_id": str(uuid.uuid4()),
        "dataverse_id": str(uuid.uuid4()), "connection": LONG, "bc_table": LONG, "dataverse_table": LONG,
        "name": "X", "priority": str(HUGE), "sequence": str(HUGE),
    }
    for pk in world.field_mapping_ids:
        first |= {f"use_{pk}": "on", f"case_{pk}": "on", f"priority_{pk}": str(10**20)}
        second |= {f"use_{pk}": "on", f"priority_{pk}": str(2**63)}
    # The skipped records' actions, with coupling ids beyond any integer column.
    third = {"action": "remove_coupling", "confirmed": "1", "coupling": [str(2**63), str(10**20), "-1", LONG, "²"]}
    return [first, second, third, {}]


def clients(django_user_model: Any) -> list[tuple[str, Client, Any]]:
    viewer = django_user_model.objects.create_user("viewer", "viewer@example.com", "viewer-password-123")
    administrator = django_user_model.objects.create_user("integrator", "i@example.com", "integrator-password-123")
    administrator.groups.add(Group.objects.get(name="Integration Administrator"))
    signed_in = []
    for name, user in [("anonymous", None), ("viewer", viewer), ("integration administrator", administrator)]:
        client = Client(raise_request_exception=False)
        if user is not None:
            client.force_login(user)
        signed_in.append((name, client, user))
    return signed_in


def test_the_walk_sees_every_app() -> None:
    names = {r.name for r in project_routes()}
    for expected in ("portal:dashboard", "healthz", "connections:connection-detail", "mappings:fieldmapping-update",
                     "syncjobs:coupling-synchronize", "mappings:matchbasedcoupling-start"):
        assert expected in names


def test_no_url_answers_500(world: World, django_user_model: Any) -> None:
    """5xx is a failure, except the health check's 503 (no RQ worker runs during the tests: that is its answer)."""
    failures: list[str] = []
    users = clients(django_user_model)
    bodies = post_bodies(world)
    for route in project_routes():
        for path in paths(route, world):
            # Every hostile query and form where the path finds its objects; the plain requests everywhere else.
            for _, client, user in users:
                if user is not None:  # again: a POST to the sign-out page signs out
                    client.force_login(user)
            found = users[2][1].get(path).status_code != 404
            for who, client, _ in users:
                requests: list[tuple[str, Any]] = [("GET", None), ("POST", bodies[0])]
                if found:
                    requests += [("GET", q) for q in QUERIES] + [("POST", b) for b in bodies[1:]]
                for method, data in requests:
                    if method == "GET":
                        response = client.get(path, data)
                    else:
                        response = client.post(path, data)
                    if response.status_code >= 500 and not (route.name == "healthz" and response.status_code == 503):
                        failures.append(f"{response.status_code} {method} {path[:120]} as {who} ({route.name}) "
                                        f"with {str(data)[:200]}")
    assert not failures, f"{len(failures)} request(s) answered 500:\n" + "\n".join(dict.fromkeys(failures))


def test_django_rq_dashboard_is_not_mounted(admin_client: Client) -> None:
    """Staff could delete and requeue jobs there (and some of its pages answer 500); the job queue pages replace it.
    ``django_rq`` stays installed for its ``rqworker`` and ``rqcron`` commands."""
    from django.conf import settings

    assert admin_client.get("/django-rq/").status_code == 404
    assert admin_client.get("/django-rq/queues/0/").status_code == 404
    assert "django_rq" in settings.INSTALLED_APPS


# ---- the 500s the walk found, one by one (issue 19 and issue 17 items 3 and 4) ---------------------------------------
@pytest.fixture
def administrator_client(django_user_model: Any) -> Client:
    return clients(django_user_model)[2][1]


def _customer(world: World) -> Any:
    from mappings.models import IntegrationTableMapping

    return IntegrationTableMapping.objects.get(pk=world.uuids[1])


def _match_form(mapping: Any, priority: Any) -> dict[str, Any]:
    from mappings.matching import eligible_field_mappings

    eligible = eligible_field_mappings(mapping)
    form = {"action": "start", f"use_{eligible[0].pk}": "on"}
    form |= {f"priority_{fm.pk}": str(priority if fm is eligible[0] else 0) for fm in eligible}
    return form


def test_new_mapping_with_a_malformed_or_unknown_connection_id_is_404(world: World, administrator_client: Client
                                                                     ) -> None:
    for value in ("not-a-uuid", LONG, str(uuid.uuid4())):
        assert administrator_client.get("/mappings/new/", {"connection": value}).status_code == 404
        assert administrator_client.post("/mappings/new/", {"connection": value, "bc_table": "Customer",
                                                            "dataverse_table": "account"}).status_code == 404
    response = administrator_client.get("/mappings/new/", {"connection": str(world.uuids[0])})
    assert response.status_code == 200 and response.context["connection"].pk == world.uuids[0]
    assert administrator_client.get("/mappings/new/").context["connection"].pk == world.uuids[0]


@pytest.mark.parametrize("priority", [2**31, 2**63, 10**20])
def test_match_priority_beyond_the_column_is_a_form_error(world: World, administrator_client: Client,
                                                          priority: int) -> None:
    from syncjobs.models import JobQueueEntry

    mapping = _customer(world)
    response = administrator_client.post(f"/mappings/{mapping.pk}/match/", _match_form(mapping, priority))
    assert response.status_code == 400
    assert "less than or equal to 2147483647" in response.content.decode()
    assert not JobQueueEntry.objects.filter(kind=JobQueueEntry.Kind.COUPLING).exists()


def test_field_mapping_match_priority_beyond_the_column_is_a_form_error(world: World, administrator_client: Client
                                                                        ) -> None:
    from mappings.models import IntegrationFieldMapping

    fm = IntegrationFieldMapping.objects.filter(table_mapping=_customer(world)).exclude(field_name="").first()
    data = {"field_name": fm.field_name, "integration_field_name": fm.integration_field_name,
            "direction": fm.direction, "status": fm.status, "match_priority": str(10**20)}
    response = administrator_client.post(f"/mappings/fields/{fm.pk}/", data)
    assert response.status_code == 400
    assert "less than or equal to 2147483647" in response.content.decode()
    fm.refresh_from_db()
    assert fm.match_priority == 0


def test_start_coupling_while_the_scheduled_job_runs_names_it(world: World, administrator_client: Client) -> None:
    from mappings.models import IntegrationFieldMapping
    from syncjobs.models import JobQueueEntry

    mapping = _customer(world)
    # A scheduled run in process means an enabled connection (a disabled one refuses Start coupling first).
    type(mapping.connection).objects.filter(pk=mapping.connection_id).update(is_enabled=True)
    scheduled = JobQueueEntry.objects.get(table_mapping=mapping, kind=JobQueueEntry.Kind.MAPPING)
    JobQueueEntry.objects.filter(pk=scheduled.pk).update(status=JobQueueEntry.Status.IN_PROCESS)
    form = _match_form(mapping, 3)
    response = administrator_client.post(f"/mappings/{mapping.pk}/match/", form)
    assert response.status_code == 409
    page = response.content.decode()
    assert "was not started" in page and scheduled.description.strip() in page and "is running" in page
    # Nothing was saved: no coupling entry, the criteria stay as they were.
    assert not JobQueueEntry.objects.filter(kind=JobQueueEntry.Kind.COUPLING).exists()
    fm_pk = int(next(k for k in form if k.startswith("use_")).split("_")[1])
    assert IntegrationFieldMapping.objects.get(pk=fm_pk).match_priority == 0


@pytest.mark.parametrize("coupling_id", [2**63, 2**64, 10**20])
def test_synchronize_a_coupling_id_beyond_the_column_is_404(world: World, administrator_client: Client,
                                                            coupling_id: int) -> None:
    response = administrator_client.post(f"/syncjobs/couplings/{coupling_id}/synchronize/",
                                         {"direction": "ToIntegrationTable"})
    assert response.status_code == 404


@pytest.mark.parametrize("target", ["//evil.example", "javascript:alert(1)", "https://evil.example/", ""])
def test_synchronize_a_coupling_never_follows_a_foreign_next(world: World, administrator_client: Client,
                                                             target: str) -> None:
    response = administrator_client.post(f"/syncjobs/couplings/{world.ints[0]}/synchronize/",
                                         {"direction": "ToIntegrationTable", "next": target})
    assert response.status_code == 302 and response["Location"] == "/syncjobs/skipped-records/"
