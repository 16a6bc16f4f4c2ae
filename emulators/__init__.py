"""Local emulators of Microsoft Entra ID, the Dataverse Web API v9.2 and the Business Central API v2.0.

Start them with ``python -m emulators serve --data-dir DIR`` (see ``emulators/README.md``) or from
tests with :func:`emulators.testing.start_emulators`.  ``shared/reference/protocols.md`` is the
specification; modules cite its sections (A = Entra ID/msal, B/C = Dataverse, D = Business Central).
"""

from __future__ import annotations

__all__ = ["__version__"]
__version__ = "1.0.0"
