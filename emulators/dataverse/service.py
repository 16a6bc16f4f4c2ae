"""The Dataverse Web API emulator: :class:`Dataverse`, one organization's Web API, assembled from the mixins of this
package (each module holds one concern and cites its Microsoft Learn sources)."""

from __future__ import annotations

from .batch import BatchMixin
from .bulk import BulkMixin
from .metadata import MetadataMixin
from .optionsets import OptionSetsMixin
from .query import QueryMixin
from .records import RecordsMixin
from .relations import RelationsMixin
from .routing import RoutingMixin
from .rules import RulesMixin
from .security import SecurityMixin
from .solutions import SolutionsMixin
from .writes import WritesMixin


class Dataverse(RoutingMixin, SecurityMixin, QueryMixin, RecordsMixin, WritesMixin, RulesMixin, RelationsMixin,
                BulkMixin, BatchMixin, SolutionsMixin, MetadataMixin, OptionSetsMixin):
    """The Dataverse Web API emulator over one :class:`emulators.dataverse.store.OrgState`.

    ``Dataverse(state, settings)``; :meth:`handle` answers one HTTP request of an authenticated principal;
    :meth:`load` swaps the organization state (reset); ``origin`` is set once the server knows its URL."""
