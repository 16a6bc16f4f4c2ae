"""Create the demo administrator ``admin`` (password from PORTAL_ADMIN_PASSWORD, or generated and printed once)."""
from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the superuser 'admin' if missing and print how to sign in."

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        password = os.environ.get("PORTAL_ADMIN_PASSWORD")
        user = user_model.objects.filter(username="admin").first()
        if user is None:
            generated = not password
            password = password or secrets.token_urlsafe(12)
            user_model.objects.create_superuser("admin", "admin@example.com", password)
            if generated:
                self.stdout.write(f"admin / {password}  (generated now and shown once: note it)")
            else:
                self.stdout.write("admin / the password in PORTAL_ADMIN_PASSWORD")
        elif password:
            user.set_password(password)
            user.save(update_fields=["password"])
            self.stdout.write("admin / the password in PORTAL_ADMIN_PASSWORD")
        else:
            self.stdout.write("admin / the password printed when it was created "
                              "(set PORTAL_ADMIN_PASSWORD to reset it)")
