"""URLs of the connections app (namespace `connections`)."""
from __future__ import annotations

from django.urls import path

from connections import views

app_name = "connections"

urlpatterns = [
    path("", views.index, name="index"),
]
