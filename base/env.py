"""Small helpers that read settings from the environment and fail loudly on bad values.

Each helper raises :class:`django.core.exceptions.ImproperlyConfigured` with a message that names the
variable and says what a good value looks like (healthchecks ``envbool`` / ``envint`` style).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def envstr(name: str, default: str | None = None) -> str | None:
    """Return the variable's value stripped of surrounding blanks, or ``default`` when unset or empty."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def envbool(name: str, default: bool = False) -> bool:
    """Return the variable as a boolean: 1/true/yes/on or 0/false/no/off (any case).

    Raises ImproperlyConfigured for any other value.
    """
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use 1/true/yes/on or 0/false/no/off.")


def envint(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return the variable as an integer within [minimum, maximum] (inclusive) or ``default`` when unset.

    Raises ImproperlyConfigured when the value is not a whole number or is out of range.
    """
    value = envstr(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below the minimum {minimum}.")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name}={number} is above the maximum {maximum}.")
    return number


def envlist(name: str, default: list[str] | None = None) -> list[str]:
    """Return a comma-separated variable as a list of non-empty, stripped items."""
    value = envstr(name)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def database_config(name: str, *, default_sqlite_path: Path) -> dict[str, Any]:
    """Return a Django ``DATABASES['default']`` dict from a database URL.

    Accepts ``postgres://``/``postgresql://`` URLs (psycopg 3) and ``sqlite:///absolute/path`` (or
    ``sqlite:///relative/path``, taken from the working directory). When the variable is unset the SQLite
    file ``default_sqlite_path`` is used. Raises ImproperlyConfigured for any other scheme or a URL without
    a database name.
    """
    value = envstr(name)
    if value is None:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(default_sqlite_path),
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"},
        }
    scheme = urlsplit(value).scheme
    if scheme not in {"postgres", "postgresql", "pgsql", "sqlite"}:
        raise ImproperlyConfigured(
            f"{name} has the scheme {scheme or '(none)'!r}; use postgres://user:password@host:5432/dbname "
            "or sqlite:///path/to/file.sqlite3."
        )
    try:
        config = dj_database_url.parse(value, conn_max_age=60, conn_health_checks=True)
    except Exception as exc:  # dj-database-url raises several types for malformed URLs
        raise ImproperlyConfigured(f"{name} is not a valid database URL: {exc}") from None
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"{name} names no database: add it after the host, e.g. postgres://host/portal.")
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    return config


def redis_url(name: str, default: str) -> str:
    """Return a ``redis://`` or ``rediss://`` URL, or ``default`` when unset.

    Raises ImproperlyConfigured for another scheme or a URL without a host.
    """
    value = envstr(name, default)
    assert value is not None
    parts = urlsplit(value)
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(f"{name}={value!r} must start with redis://, rediss:// or unix://.")
    if parts.scheme != "unix" and not parts.hostname:
        raise ImproperlyConfigured(f"{name}={value!r} has no host: use redis://host:6379/0.")
    try:
        parts.port  # noqa: B018 - raises ValueError on a non-numeric port
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} has an invalid port.") from None
    return value


def load_env_file(path: Path) -> list[str]:
    """Set unset environment variables from a ``KEY=VALUE`` file (blank lines and ``#`` comments ignored).

    Variables already in the environment win. Returns the names that were set. ``make demo`` writes
    ``var/portal.env`` so that ``python manage.py ...`` run beside the demo uses the demo's keys and settings.
    Raises ImproperlyConfigured naming the file and line for a line without ``=``.
    """
    if not path.is_file():
        return []
    loaded = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise ImproperlyConfigured(f"{path}, line {number}: expected NAME=value.")
        if name.strip() not in os.environ:
            os.environ[name.strip()] = value.strip()
            loaded.append(name.strip())
    return loaded
