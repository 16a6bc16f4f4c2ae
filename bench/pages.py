"""Response times of the portal's list pages over a large coupling table and large logs.

    python bench/pages.py [--rows 1000000] [--repeat 20] [--database-url postgres://user:pw@host:port/any]

Seeds a throwaway database (SQLite in a temporary directory by default; with ``--database-url postgres://...`` a
database of its own on that server, created and dropped by this script) with the default configuration's
integration table mappings and ``--rows`` each of couplings (most coupled, about 5 % skipped with a synchronization
error, 3 % whose last run failed, all with record names), synchronization jobs (the synchronization log), job queue
log entries and coupling log lines, plus ``--rows / 10`` audit trail entries. Then requests every list page through
Django's test client signed in as an administrator: the first page, the page its own "next" link leads to, every
offered sort order and a filter, ``--repeat`` times each, and prints p50 / p95 in milliseconds and the number of SQL
queries per request (target of the list pages: p95 under 150 ms at 1,000,000 rows).

A small run for CI (under a minute on a busy 2-core machine):
``.venv/bin/python bench/pages.py --rows 10000 --repeat 5``.

The connection setup points at a closed local port, so pages that would read record names from BC or Dataverse fail
that read at once (and say so) instead of waiting on a network.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from bench import engine  # noqa: E402

#: Rows written per INSERT batch.
CHUNK = 5000
#: The start of the seeded logs (UTC); one log row every ten seconds from here.
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


def _postgres_database(url: str) -> tuple[str, str]:
    """Create a fresh database on the server of ``url``; returns (its URL, its name)."""

    parts = urlsplit(url)
    name = f"bench_pages_{os.getpid()}"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}")), name


def _postgres_drop(url: str, name: str) -> None:

    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_django(workdir: Path, database_url: str) -> Any:
    """:func:`bench.engine.setup_django` for pages measured through Django's test client (plain HTTP, host
    "testserver", no collected static files); returns the embedded Redis process."""
    os.environ["SECURE_SSL_REDIRECT"] = "0"
    os.environ["ALLOWED_HOSTS"] = "testserver,localhost"
    redis_process = engine.setup_django(workdir, database_url)
    # The pages are measured, not the static files: no collected manifest is needed for their URLs.
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    return redis_process


def _chunks(rows: Iterator[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _bulk(model: Any, objects: Iterator[Any]) -> int:
    """bulk_create in chunks, each in its own transaction; returns how many rows were written."""

    written = 0
    for batch in _chunks(objects):
        with transaction.atomic():
            model.objects.bulk_create(batch, batch_size=CHUNK)
        written += len(batch)
    return written


def _keep_timestamps(*fields: Any) -> None:
    """Let seeded rows keep their own ``auto_now_add`` timestamps (the logs span months, not seconds)."""
    for field in fields:
        field.auto_now_add = False


def seed(rows: int) -> dict[str, Any]:
    """Write the configuration and ``rows`` couplings, log rows and coupling log lines; returns what the page
    requests need (the admin user, the biggest mapping, a coupling job, a job queue entry)."""
    from auditlog.models import LogEntry  # Django app loading
    from django.contrib.auth import get_user_model  # Django app loading
    from django.contrib.contenttypes.models import ContentType  # Django app loading

    from base.permissions import Role  # Django app loading
    from connections.models import ConnectionSetup  # Django app loading
    from mappings.models import Coupling, CouplingLogEntry, IntegrationTableMapping  # Django app loading
    from syncjobs.defaults import default_configuration_reset  # Django app loading

    # Django app loading: models exist only after setup
    from syncjobs.models import JobQueueEntry, JobQueueLogEntry, SynchronizationError, SynchronizationJob

    rng = random.Random(5335)
    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "bench-password-1")
    try:
        from django.contrib.auth.models import Group  # Django app loading
        user.groups.add(Group.objects.get_or_create(name=Role.INTEGRATION_ADMINISTRATOR)[0])
    except Exception:  # noqa: BLE001 - the group is optional where the superuser flag already grants everything
        pass
    connection = ConnectionSetup.objects.create(
        name="CRONUS", dataverse_url="https://127.0.0.1:9/", tenant_id=str(uuid.uuid4()),
        authority_host="https://127.0.0.1:9", client_id=str(uuid.uuid4()), client_secret="bench-secret",
        bc_api_url="https://127.0.0.1:9/api", bc_company_id=str(uuid.uuid4()), bc_company_name="CRONUS",
        is_enabled=True)
    default_configuration_reset(connection=connection)
    mappings = list(IntegrationTableMapping.objects.filter(connection=connection).order_by("priority", "name"))
    # Realistic shares: the big tables (customers, contacts, items, orders, invoices) hold most couplings.
    weights = [40 if m.name in {"CUSTOMER", "CONTACT", "ITEM-PRODUCT", "SALESORDER-ORDER", "POSTEDSALESINV-INV"}
               else 1 for m in mappings]
    biggest = mappings[weights.index(max(weights))]
    _keep_timestamps(Coupling._meta.get_field("created_at"), SynchronizationJob._meta.get_field("started_at"),
                     SynchronizationError._meta.get_field("created_at"))
    started = time.perf_counter()

    def couplings() -> Iterator[Coupling]:
        for i in range(rows):
            mapping = biggest if i % 3 == 0 else rng.choices(mappings, weights)[0]
            roll = rng.random()
            yield Coupling(
                connection=connection, bc_table=mapping.table, bc_id=uuid.uuid4(),
                dataverse_table=mapping.coupling_dataverse_table, dataverse_id=uuid.uuid4(),
                last_synch_result=Coupling.Result.FAILURE if 0.05 <= roll < 0.08 else Coupling.Result.SUCCESS,
                last_synch_crm_result=Coupling.Result.SUCCESS, skipped=roll < 0.05, failure_count=2 * (roll < 0.05),
                created_at=EPOCH + timedelta(seconds=i // 4), bc_name=f"Record {i:07d}",
                dataverse_name=f"Row {i:07d}")

    _bulk(Coupling, couplings())
    print(f"  couplings: {rows} in {time.perf_counter() - started:.0f} s", flush=True)

    entries = list(JobQueueEntry.objects.filter(connection=connection, table_mapping__isnull=False))
    entry_of = {e.table_mapping_id: e for e in entries}
    coupling_jobs = [SynchronizationJob(table_mapping=biggest, type=SynchronizationJob.Type.COUPLING,
                                        direction="ToIntegrationTable", started_at=EPOCH + timedelta(days=d),
                                        finished_at=EPOCH + timedelta(days=d, minutes=5)) for d in range(10)]
    SynchronizationJob.objects.bulk_create(coupling_jobs)

    def jobs() -> Iterator[SynchronizationJob]:
        for i in range(rows):
            mapping = rng.choices(mappings, weights)[0]
            failed = rng.random() < 0.1
            at = EPOCH + timedelta(seconds=10 * i)
            yield SynchronizationJob(
                table_mapping=mapping, job_queue_entry=entry_of.get(mapping.pk),
                direction="ToIntegrationTable" if i % 2 else "FromIntegrationTable", started_at=at,
                finished_at=at + timedelta(seconds=3), inserted=i % 7, modified=i % 5, unchanged=100,
                failed=int(failed), processed=100, total=100)

    started = time.perf_counter()
    _bulk(SynchronizationJob, jobs())
    print(f"  synchronization jobs: {rows} in {time.perf_counter() - started:.0f} s", flush=True)

    error_job = SynchronizationJob.objects.filter(failed__gt=0).order_by("started_at").first()
    skipped = Coupling.objects.filter(skipped=True).values_list("pk", "bc_table", "bc_name")
    started = time.perf_counter()
    _bulk(SynchronizationError, (SynchronizationError(
        job=error_job, coupling_id=pk, direction="ToIntegrationTable", source_table=table, source_name=name,
        message=f"{table} {name}: {rng.choice(['The field Name is required.', 'Currency EUR is not coupled.'])}",
        created_at=EPOCH + timedelta(seconds=i)) for i, (pk, table, name) in enumerate(skipped.iterator())))
    print(f"  synchronization errors in {time.perf_counter() - started:.0f} s", flush=True)

    busiest = entry_of.get(biggest.pk) or entries[0]

    def log_entries() -> Iterator[JobQueueLogEntry]:
        for i in range(rows):
            at = EPOCH + timedelta(seconds=10 * i)
            yield JobQueueLogEntry(job_queue_entry=busiest if i % 2 else rng.choice(entries), started_at=at,
                                   finished_at=at + timedelta(seconds=4), status=JobQueueLogEntry.Status.SUCCESS,
                                   records_changed=i % 9)

    started = time.perf_counter()
    _bulk(JobQueueLogEntry, log_entries())
    print(f"  job queue log entries: {rows} in {time.perf_counter() - started:.0f} s", flush=True)

    outcomes = list(CouplingLogEntry.Outcome.values)

    def coupling_lines() -> Iterator[CouplingLogEntry]:
        for i in range(rows):
            job = coupling_jobs[-1] if i % 2 else coupling_jobs[i % len(coupling_jobs)]
            yield CouplingLogEntry(job=job, sequence=i, bc_id=uuid.uuid4(), bc_name=f"Record {i:07d}",
                                   outcome=outcomes[i % len(outcomes)], dataverse_name=f"Row {i:07d}")

    started = time.perf_counter()
    _bulk(CouplingLogEntry, coupling_lines())
    print(f"  coupling log lines: {rows} in {time.perf_counter() - started:.0f} s", flush=True)

    mapping_type = ContentType.objects.get_for_model(IntegrationTableMapping)
    _bulk(LogEntry, (LogEntry(content_type=mapping_type, object_pk=str(m.pk), object_repr=m.name, action=1,
                              changes={"table_filter": ["", f"No.={i}"]}, actor=user,
                              timestamp=EPOCH + timedelta(seconds=60 * i))
                     for i, m in ((i, mappings[i % len(mappings)]) for i in range(max(rows // 10, 1)))))
    _analyze()
    return {"user": user, "mapping": biggest, "coupling_job": coupling_jobs[-1], "entry": busiest}


def _analyze() -> None:
    """Refresh the planner's statistics after the bulk load (as autovacuum / a nightly ANALYZE would)."""

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


NEXT_LINK = re.compile(r'<a\b[^>]*\bhref="([^"]*)"[^>]*>\s*(?:Next|Older|older)\b[^<]*</a>|'
                       r'<a\b[^>]*\brel="next"[^>]*\bhref="([^"]*)"|<a\b[^>]*\bhref="([^"]*)"[^>]*\brel="next"')


def next_link(html: str, path: str) -> str | None:
    """The page's own link to its next page (rel="next", or a link reading Next / Older), absolute."""
    match = NEXT_LINK.search(html)
    if not match:
        return None
    href = unescape(next(g for g in match.groups() if g is not None))
    return path + href if href.startswith("?") else href


def sort_links(html: str, path: str) -> list[str]:
    """The page's sort links (``<a ... data-sort ...>`` or a ``sort=`` query parameter)."""
    found = []
    for href in re.findall(r'<a\b[^>]*\bhref="([^"]*\bsort=[^"]*)"', html):
        href = unescape(href)
        found.append(path + href if href.startswith("?") else href)
    return list(dict.fromkeys(found))


def measure(client: Any, url: str, repeat: int) -> tuple[list[float], int, str]:
    """Request ``url`` ``repeat`` times (after one warm-up); returns the times (ms), queries per request and the
    last response's HTML. Raises AssertionError on any status but 200."""

    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return times, len(queries.captured_queries), response.content.decode()


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def run_pages(context: dict[str, Any], repeat: int) -> list[tuple[str, float, float, int]]:
    """Measure every list page; returns (label, p50 ms, p95 ms, queries) rows."""

    client = Client()
    client.force_login(context["user"])
    mapping, entry = context["mapping"], context["entry"]
    pages = [
        ("mappings", reverse("mappings:index"), []),
        ("coupled records", reverse("mappings:coupling-list", args=[mapping.pk]), ["bc_search=Record 00001"]),
        ("coupling log", reverse("mappings:couplinglog-list", args=[mapping.pk]), ["outcome=NoMatch"]),
        ("skipped records", reverse("syncjobs:skippedrecord-list"),
         [f"mapping={mapping.pk}", "view=groups", "error=Currency"]),
        ("synchronization log", reverse("syncjobs:synchronizationjob-list"),
         ["result=failed", f"mapping={mapping.name}"]),
        ("job queue entries", reverse("syncjobs:jobqueueentry-list"), []),
        ("job queue log", reverse("syncjobs:jobqueueentry-log", args=[entry.pk]), []),
        ("audit trail", reverse("portal:audit-log"), ["q=CUSTOMER"]),
    ]
    results: list[tuple[str, float, float, int]] = []

    def record(label: str, times: list[float], queries: int) -> None:
        results.append((label, statistics.median(times), p95(times), queries))
        print(f"  {label}: p50 {results[-1][1]:.1f} ms, p95 {results[-1][2]:.1f} ms, {queries} queries", flush=True)

    for label, path, filters in pages:
        times, queries, html = measure(client, path, repeat)
        record(label, times, queries)
        follow = next_link(html, path)
        if follow:
            times, queries, _ = measure(client, follow, repeat)
            record(f"{label}, next page", times, queries)
        for url in sort_links(html, path):
            times, queries, _ = measure(client, url, repeat)
            record(f"{label}, {url.split('?', 1)[1]}", times, queries)
        for query in filters:
            times, queries, _ = measure(client, f"{path}?{query}", repeat)
            shown = "mapping=<biggest>" if query.startswith("mapping=") else query
            record(f"{label}, {shown}", times, queries)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="couplings and rows of each log (default 1M)")
    parser.add_argument("--repeat", type=int, default=20, help="requests per page (default 20)")
    parser.add_argument("--database-url", default="", help="postgres://user:password@host:port/any (default: "
                                                           "SQLite in a temporary directory)")
    args = parser.parse_args()
    if args.rows < 100 or args.repeat < 1:
        parser.error("--rows must be at least 100 and --repeat at least 1")
    workdir = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    pg_name = ""
    if args.database_url.startswith(("postgres://", "postgresql://")):
        database_url, pg_name = _postgres_database(args.database_url)
    elif args.database_url:
        parser.error("--database-url must start with postgres:// (or leave it out for SQLite)")
    else:
        database_url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    redis_process = setup_django(workdir, database_url)
    try:
        print(f"Seeding {args.rows:,} couplings and log rows on {connection.vendor}...", flush=True)
        started = time.perf_counter()
        context = seed(args.rows)
        print(f"Seeded in {time.perf_counter() - started:.0f} s; {args.repeat} requests per page.", flush=True)
        results = run_pages(context, args.repeat)
        width = max(len(r[0]) for r in results)
        print(f"\n{'page':<{width}}  {'p50 ms':>8}  {'p95 ms':>8}  {'queries':>7}")
        for label, p50, p95_ms, queries in results:
            print(f"{label:<{width}}  {p50:8.1f}  {p95_ms:8.1f}  {queries:7d}")
        worst = max(r[2] for r in results)
        print(f"\nSlowest p95: {worst:.1f} ms (target < 150 ms at 1,000,000 rows).")
    finally:
        connections.close_all()
        if redis_process is not None:
            redis_process.terminate()
        if pg_name:
            _postgres_drop(args.database_url, pg_name)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
