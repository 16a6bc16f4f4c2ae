"""Every page of the portal passes axe-core with no critical or serious violation, in Debian's Chromium.

The integration administrator signs in on a connection to the emulators with the default configuration applied (the
demo data), then visits every page of the navigation and each app's list and detail pages. axe-core comes from the
npm registry: ``make test`` installs it into ``tests/vendor`` (``make axe`` alone does that); without it this test
fails, it never skips. The page's Content-Security-Policy forbids inline scripts, so axe is injected as a script tag
in a browser context created with ``bypass_csp`` for this test only; axe's ``run`` is then called through Playwright's
evaluation. Source: axe-core's API documentation ("axe.run", impact levels minor/moderate/serious/critical).
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group

from mappings.models import IntegrationTableMapping
from syncjobs.dry_run import dry_run_execute
from syncjobs.engine import synchronize_mapping
from syncjobs.models import DryRun, JobQueueEntry, SynchronizationJob
from tests.conftest import chromium_page, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: Where ``make axe`` (and so ``make test``) puts axe-core.
AXE_SCRIPT = Path(__file__).resolve().parents[1] / "vendor" / "node_modules" / "axe-core" / "axe.min.js"
#: The impacts this test refuses.
REFUSED_IMPACTS = {"critical", "serious"}


@pytest.fixture
def demo_connection(emulator_connection: Any) -> Any:
    """:func:`tests.conftest.emulator_connection` with data on the list pages."""
    connection = emulator_connection
    # Rows for the log, couplings and skipped-records pages: currencies are coupled; customers come with errors or
    # skipped records where their dependencies (salespersons, payment terms, ...) are not coupled yet.
    for name in ("CURRENCY", "CUSTOMER"):
        synchronize_mapping(mapping=IntegrationTableMapping.objects.get(connection=connection, name=name), full=True)
    return connection


@pytest.fixture
def integration_administrator(django_user_model: Any) -> Any:
    """A member of the "Integration Administrator" group (not a superuser), password ``integrator-password-123``."""
    user = django_user_model.objects.create_user("integrator", "i@example.com", "integrator-password-123")
    # A transactional test flushes the migration's rows: make the group again if it is gone.
    group, _ = Group.objects.get_or_create(name="Integration Administrator")
    user.groups.add(group)
    return user


@pytest.fixture
def axe_page(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Like ``browser_page``, but in a context that bypasses the Content-Security-Policy so axe can be injected."""
    with chromium_page(live_server, monkeypatch, timeout_ms=30_000, bypass_csp=True) as page:
        yield page


def portal_pages(connection: Any) -> list[str]:
    """The paths to check: the navigation's pages and each app's list and detail pages on ``connection``."""
    customer = IntegrationTableMapping.objects.get(connection=connection, name="CUSTOMER")
    entry = JobQueueEntry.objects.filter(connection=connection, table_mapping=customer).first()
    assert entry is not None, "the default configuration has a job queue entry for CUSTOMER"
    job = SynchronizationJob.objects.filter(table_mapping=customer).order_by("-started_at").first()
    assert job is not None, "the fixture synchronized CUSTOMER"
    field = customer.field_mappings.order_by("pk").first()
    assert field is not None, "CUSTOMER has field mappings"
    dry_run = dry_run_execute(dry_run_id=DryRun.objects.create(connection=connection, table_mapping=customer).pk)
    assert dry_run is not None and dry_run.rows_planned, "the dry run of CUSTOMER planned rows"
    c, m = connection.pk, customer.pk
    return [
        "/",
        "/connections/",
        f"/connections/{c}/",
        f"/connections/{c}/edit/",
        "/connections/assisted-setup/",
        "/mappings/",
        f"/mappings/{m}/",
        f"/mappings/fields/{field.pk}/",
        f"/mappings/new/?connection={c}",
        f"/mappings/{m}/couplings/",
        f"/mappings/{m}/match/",
        f"/mappings/{m}/coupling-log/",
        f"/mappings/salespeople/{c}/",
        f"/mappings/import-bc/{c}/",
        "/syncjobs/full-sync-review/",
        f"/syncjobs/full-sync-review/{c}/",
        "/syncjobs/",
        f"/syncjobs/entries/{entry.pk}/log/",
        "/syncjobs/log/",
        f"/syncjobs/log/{job.pk}/",
        "/syncjobs/skipped-records/",
        "/syncjobs/alerts/",
        f"/syncjobs/alerts/?mapping={m}",
        f"/syncjobs/alerts/rules/new/?mapping={m}",
        f"/syncjobs/entries/{entry.pk}/edit/",
        "/syncjobs/skipped-records/?view=groups",
        f"/mappings/{m}/couplings/delete/",
        f"/syncjobs/dry-runs/{dry_run.pk}/",
    ]


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Run axe-core on the loaded page; return its violations of impact critical or serious.

    Each item is ``{"id", "impact", "help", "targets": [css selector, ...]}``.
    """
    page.add_script_tag(path=str(AXE_SCRIPT))
    result = page.evaluate(
        """async () => {
            const results = await axe.run(document, {resultTypes: ['violations']});
            return results.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map(n => n.target.join(' '))}));
        }"""
    )
    return [v for v in result if v["impact"] in REFUSED_IMPACTS]


def test_axe_core_is_installed() -> None:
    assert AXE_SCRIPT.is_file(), f"{AXE_SCRIPT} is missing: run `make axe` (npm install of axe-core)"
    version = json.loads((AXE_SCRIPT.parent / "package.json").read_text())["version"]
    assert version.startswith("4."), version


def test_every_page_has_no_critical_or_serious_axe_violation(
    axe_page: Any, demo_connection: Any, integration_administrator: Any
) -> None:
    assert AXE_SCRIPT.is_file(), f"{AXE_SCRIPT} is missing: run `make axe` (npm install of axe-core)"
    page = axe_page
    sign_in(page, "integrator", "integrator-password-123")
    found: dict[str, list[dict[str, Any]]] = {}
    # The sign-in page, as an anonymous visitor sees it, is checked in a second context below.
    for path in portal_pages(demo_connection):
        response = page.goto(path)
        assert response is not None and response.status == 200, f"{path}: HTTP {response and response.status}"
        violations = axe_violations(page)
        if violations:
            found[path] = violations
    # The match-based coupling page with its preview table (the preview reads both sides, writes nothing).
    customer = IntegrationTableMapping.objects.get(connection=demo_connection, name="CUSTOMER")
    page.goto(f"/mappings/{customer.pk}/match/")
    page.check("input[name^=use_] >> nth=0")
    with page.expect_navigation():
        page.click("button[value=preview]")
    page.wait_for_selector("section.preview")
    if violations := axe_violations(page):
        found["match-based coupling preview"] = violations
    page.context.clear_cookies()
    page.goto("/accounts/login/")
    if violations := axe_violations(page):
        found["/accounts/login/"] = violations
    report = "\n".join(
        f"{path}: [{v['impact']}] {v['id']} ({v['help']}): {', '.join(v['targets'][:8])}"
        + (f" … and {len(v['targets']) - 8} more" if len(v["targets"]) > 8 else "")
        for path, violations in found.items() for v in violations
    )
    assert not found, "axe-core found critical or serious violations:\n" + report
