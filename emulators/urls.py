"""URL routing of the emulators on werkzeug's router (``werkzeug.routing.Map``, ``Rule``, converters).

Each service declares its URLs as a :class:`Router` of rules; a request is matched on its decoded path segments
(:attr:`emulators.httpcore.Request.segments`), which :func:`route_path` joins again with ``/`` after escaping ``%``
and ``/`` inside a segment. So static rule text matches the decoded text (``$count``, ``WhoAmI()`` and ``(`` may
arrive percent-encoded, RFC 3986 section 2.4), a key such as ``(name='a/b')`` stays inside its segment, and the
converters below hand their value back decoded. Empty segments are dropped (``//x/`` is ``/x``), as the services
always did. Rules carry no methods: each service answers a wrong method with its own error body.

Converters (names usable in rules):

* ``segment`` - one whole path segment;
* ``name`` - a name without a key (an entity set, a property, a navigation property): no parentheses;
* ``key`` - a parenthesised key right after a name, ``(<guid>)`` or ``(name='value',...)``; the value is the text
  between the parentheses, to be read with :func:`emulators.odata.parse_key`;
* :func:`one_of` makes a converter for a segment from a fixed set (a tenant id or domain, ignoring case).

Werkzeug's own ``path`` converter (the rest of the path) keeps the escaping of :func:`route_path`: split it on ``/``
and unquote each part.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter, Map, RuleFactory


class SegmentConverter(BaseConverter):
    """One whole path segment (decoded)."""

    regex = r"[^/]+"
    part_isolating = True

    def to_python(self, value: str) -> str:
        return urllib.parse.unquote(value)


class NameConverter(SegmentConverter):
    """A name without a key: no ``(``/``)``."""

    regex = r"[^/()]+"
    part_isolating = True


class KeyConverter(SegmentConverter):
    """``(...)`` after a name; the value is what stands between the parentheses (decoded)."""

    regex = r"\([^/]*\)"
    part_isolating = True

    def to_python(self, value: str) -> str:
        return urllib.parse.unquote(value[1:-1])


def one_of(*values: str) -> type[BaseConverter]:
    """A converter for one segment equal, ignoring case, to one of ``values`` (tried before ``segment``)."""
    pattern = "(?i:" + "|".join(re.escape(v) for v in values if v) + ")"
    return type("OneOfConverter", (SegmentConverter,), {"regex": pattern, "part_isolating": True, "weight": 50})


CONVERTERS: dict[str, type[BaseConverter]] = {"segment": SegmentConverter, "name": NameConverter,
                                              "key": KeyConverter}


def route_path(segments: list[str]) -> str:
    """The path a :class:`Router` matches: the decoded segments with ``%`` and ``/`` escaped, joined by ``/``."""
    return "/" + "/".join(s.replace("%", "%25").replace("/", "%2F") for s in segments)


class Router:
    """A werkzeug URL map (with :data:`CONVERTERS` and the service's own ``converters``) bound once; :meth:`match`
    answers ``(endpoint, values)`` or ``None``."""

    def __init__(self, rules: list[RuleFactory], converters: dict[str, type[BaseConverter]] | None = None) -> None:
        self.map = Map(rules, converters={**CONVERTERS, **(converters or {})}, strict_slashes=False,
                       merge_slashes=False, redirect_defaults=False)
        self.adapter = self.map.bind("emulators")

    def match(self, segments: list[str]) -> tuple[str, dict[str, Any]] | None:
        """The endpoint and converted values of the rule that matches ``segments``, ``None`` when none does."""
        try:
            endpoint, values = self.adapter.match(route_path(segments))
        except NotFound:
            return None
        return str(endpoint), values


__all__ = ["CONVERTERS", "KeyConverter", "NameConverter", "Router", "SegmentConverter", "one_of", "route_path"]
