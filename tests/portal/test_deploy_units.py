"""The systemd units under deploy/: restarted on failure, ordered after PostgreSQL and Redis, running commands that
exist, reading settings that portal/settings.py reads."""
from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import get_commands

DEPLOY = Path(settings.BASE_DIR) / "deploy"
UNITS = sorted(DEPLOY.glob("*.service"))


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return parser


def test_three_kinds_of_process() -> None:
    assert {p.name for p in UNITS} == {"bcportal-web.service", "bcportal-worker@.service",
                                       "bcportal-scheduler.service"}


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_unit_restarts_and_waits_for_its_services(path: Path) -> None:
    unit = _unit(path)
    assert unit["Service"]["Restart"] in ("always", "on-failure")
    after = unit["Unit"]["After"].split()
    assert "postgresql.service" in after and "redis-server.service" in after
    assert unit["Service"]["EnvironmentFile"] == "/etc/bcportal/bcportal.env"
    command = unit["Service"]["ExecStart"]
    managed = re.search(r"manage\.py (\S+)", command)
    if managed:
        assert managed.group(1) in get_commands(), command
    else:
        assert "gunicorn portal.wsgi" in command


def test_environment_template_names_only_real_settings() -> None:
    names = {line.lstrip("#").split("=", 1)[0] for line in (DEPLOY / "bcportal.env.example").read_text().splitlines()
             if "=" in line and re.match(r"#?[A-Z_]+=", line)}
    source = (Path(settings.BASE_DIR) / "portal" / "settings.py").read_text() + \
        (Path(settings.BASE_DIR) / "base" / "env.py").read_text()
    for name in names - {"PROMETHEUS_MULTIPROC_DIR"}:  # read by prometheus-client itself
        assert f'"{name}"' in source, name
