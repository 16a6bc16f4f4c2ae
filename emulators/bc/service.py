"""The Business Central API emulator: :class:`BusinessCentral`, one tenant's environment, assembled from the mixins
of this package (each module holds one concern and cites its Microsoft Learn sources)."""

from __future__ import annotations

from .batch import BatchMixin
from .query import QueryMixin
from .routing import RoutingMixin
from .writes import WritesMixin


class BusinessCentral(RoutingMixin, QueryMixin, WritesMixin, BatchMixin):
    """The BC API emulator for one tenant and environment.

    ``BusinessCentral(state, settings)``; :meth:`handle` answers one request (path segments after
    ``/v2.0/{tenant}/{environment}/``); ``origin``, ``tenant_id`` and ``tenant_domain`` are set by the app."""
