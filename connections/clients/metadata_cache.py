"""Dataverse metadata shared by every process through Redis (:mod:`.shared_cache`), per environment: what
:class:`~connections.clients.dataverse.DataverseClient` learns from ``EntityDefinitions`` (a table's entity set and
primary columns; Microsoft Learn: "Query table definitions using the Web API") and from ``sdkmessagefilters`` (which
bulk operation messages a table offers; Microsoft Learn: "Use bulk operation messages").

A forked RQ work horse starts with empty in-process caches; without this each job asked the same questions again
(two ``sdkmessagefilters`` queries per table written). Values are JSON, kept for a TTL the caller gives (an hour for
metadata, which changes with a solution import or a platform update only), under a key of the environment URL and
the question. :func:`metadata_forget` drops an environment's answers (after the integration solution was imported).
When Redis is down, nothing is shared and the in-process caches work as before.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from connections.clients.shared_cache import SharedStore

_store = SharedStore("dataverse-metadata")


def _environment(environment_url: str) -> str:
    return hashlib.sha256(environment_url.strip().rstrip("/").lower().encode()).hexdigest()[:24]


def metadata_get(environment_url: str, name: str) -> Any | None:
    """The answer stored for ``name`` (e.g. ``"bulk:CreateMultiple:product"``) in the environment, or None."""
    raw = _store.get(f"{_environment(environment_url)}:{name}")
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def metadata_put(environment_url: str, name: str, value: Any, *, ttl: float) -> None:
    """Store the JSON-serialisable ``value`` for ``name`` in the environment for ``ttl`` seconds."""
    _store.set(f"{_environment(environment_url)}:{name}", json.dumps(value).encode(), ttl=ttl)


def metadata_forget(environment_url: str | None = None, prefix: str = "") -> int:
    """Forget the stored answers whose name starts with ``prefix``, of one environment or (None) of all; returns how
    many were dropped."""
    environment = "*" if environment_url is None else _environment(environment_url)
    return _store.delete_matching(f"{environment}:{prefix}*")
