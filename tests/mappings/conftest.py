"""Fixtures of the mappings tests: a connection setup, and deselection of PostgreSQL-only tests on other databases."""
from __future__ import annotations

from typing import Any

import pytest


def _database_is_postgresql() -> bool:
    from django.conf import settings

    return settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect tests marked ``postgres`` when DATABASE_URL is not PostgreSQL (CI sets it; they run there)."""
    if _database_is_postgresql():
        return
    selected, deselected = [], []
    for item in items:
        if item.get_closest_marker("postgres") and "tests/mappings" in str(item.path):
            deselected.append(item)
        else:
            selected.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        message = (f"mappings: deselected {len(deselected)} PostgreSQL-only test(s): DATABASE_URL is not a "
                   "postgres:// URL")
        if reporter is not None:
            reporter.write_line(message)
        else:
            print(message)


@pytest.fixture
def connection(db: Any) -> Any:
    """A disabled connection setup with BC's defaults (Person ownership, unit group mapping on, no sales orders)."""
    from connections.models import ConnectionSetup

    return ConnectionSetup.objects.create(
        name="CRONUS",
        dataverse_url="https://crm.example.com",
        bc_web_client_url="https://businesscentral.example.com/BC",
        ownership_model=ConnectionSetup.OwnershipModel.PERSON,
        unit_group_mapping_enabled=True,
    )
