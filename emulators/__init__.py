"""Local emulators of Microsoft Entra ID, the Dataverse Web API v9.2 and the Business Central API v2.0.

Start them with ``python -m emulators serve --data-dir DIR`` (see ``emulators/README.md``) or from
tests with :func:`emulators.testing.start_emulators`.  Each module cites the public documentation it follows
(Microsoft Learn pages of the Microsoft identity platform, the Dataverse Web API and the Business Central API, the
OData specifications, RFCs).

Layout: :mod:`.app` (one origin: routing between the services, authentication, limits, faults, persistence, control
endpoint), :mod:`.entra`, :mod:`.dataverse` (package), :mod:`.bc` (package), :mod:`.odata` (OData URL conventions,
``$filter`` on odata-query), :mod:`.urls` (werkzeug routing helpers), :mod:`.httpcore` (HTTPS server), :mod:`.certs`,
:mod:`.limits`, :mod:`.seed`, :mod:`.testing`.
"""

from __future__ import annotations

__all__ = ["__version__"]
__version__ = "1.0.0"
