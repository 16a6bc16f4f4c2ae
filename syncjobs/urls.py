"""URLs of the syncjobs app (namespace `syncjobs`)."""
from __future__ import annotations

from django.urls import path

from syncjobs import views

app_name = "syncjobs"

urlpatterns = [
    path("", views.index, name="index"),
]
