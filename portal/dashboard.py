"""What the dashboard shows; each app contributes through small query functions."""
from __future__ import annotations

from typing import Any


def dashboard_context() -> dict[str, Any]:
    """Return the dashboard's template context: the connection setups."""
    from connections.models import ConnectionSetup

    return {"connections": list(ConnectionSetup.objects.order_by("name"))}
