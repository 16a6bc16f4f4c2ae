"""URLs of the mappings app (namespace `mappings`)."""
from __future__ import annotations

from django.urls import path

from mappings import views

app_name = "mappings"

urlpatterns = [
    path("", views.index, name="index"),
]
