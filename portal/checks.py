"""System checks for settings the portal cannot run without."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register


@register()
def check_encryption_key(app_configs: Any, **kwargs: Any) -> list[Error]:
    """The encryption key for secrets at rest must be set (settings fall back to a generated one only in DEBUG)."""
    if not getattr(settings, "PORTAL_ENCRYPTION_KEY", None):
        return [Error("PORTAL_ENCRYPTION_KEY is not set.", hint="Set it to a Fernet key.", id="portal.E001")]
    return []
