"""Root URL configuration.

``django_rq`` is installed for its ``rqworker`` and ``rqcron`` commands only: its dashboard (``django_rq.urls``) is
not mounted, since it let any staff user delete and requeue jobs behind the portal's job queue state machine.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from portal import views

portal_patterns = ([
    path("", views.dashboard, name="dashboard"),
    path("audit/", views.audit_log, name="audit-log"),
], "portal")

urlpatterns = [
    path("", include(portal_patterns)),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("connections/", include("connections.urls")),
    path("mappings/", include("mappings.urls")),
    path("syncjobs/", include("syncjobs.urls")),
]
