"""URLs of the connections app (namespace `connections`)."""
from __future__ import annotations

from django.urls import path

from connections import views
from connections.wizard import ConnectionSetupWizard

app_name = "connections"

urlpatterns = [
    path("", views.index, name="index"),
    path("assisted-setup/", ConnectionSetupWizard.as_view(), name="connection-wizard"),
    path("new/", views.connection_edit, name="connection-create"),
    path("<uuid:pk>/", views.connection_detail, name="connection-detail"),
    path("<uuid:pk>/edit/", views.connection_edit, name="connection-edit"),
    path("<uuid:pk>/settings/", views.connection_settings, name="connection-settings"),
    path("<uuid:pk>/test/", views.connection_test, name="connection-test"),
    path("<uuid:pk>/enable/", views.connection_enable, name="connection-enable"),
    path("<uuid:pk>/disable/", views.connection_disable, name="connection-disable"),
    path("<uuid:pk>/solution/", views.connection_redeploy_solution, name="connection-redeploy-solution"),
    path("admin-sign-in/callback/", views.admin_signin_callback, name="admin-signin-callback"),
    path("<uuid:pk>/actions/<uuid:action_pk>/", views.connectionaction_detail, name="connectionaction-detail"),
    path("<uuid:pk>/actions/<uuid:action_pk>/status.json", views.connectionaction_status,
         name="connectionaction-status"),
    path("<uuid:pk>/default-setup/", views.connection_default_setup, name="connection-default-setup"),
    path("<uuid:pk>/synchronize-modified/", views.connection_synchronize_modified,
         name="connection-synchronize-modified"),
    path("<uuid:pk>/reset-web-client-url/", views.connection_reset_web_client_url,
         name="connection-reset-web-client-url"),
]
