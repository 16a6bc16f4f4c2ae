"""URLs of the mappings app (namespace `mappings`)."""
from __future__ import annotations

from django.urls import path

from mappings import views
from syncjobs import views_progress

app_name = "mappings"

urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.mapping_create, name="mapping-create"),
    path("reset/<uuid:connection_pk>/", views.configuration_reset, name="configuration-reset"),
    path("<uuid:pk>/", views.mapping_detail, name="mapping-detail"),
    path("<uuid:pk>/edit/", views.mapping_update, name="mapping-update"),
    path("<uuid:pk>/reset/", views.mapping_reset, name="mapping-reset"),
    path("<uuid:pk>/fields/add/", views.fieldmapping_create, name="fieldmapping-create"),
    path("fields/<int:pk>/", views.fieldmapping_update, name="fieldmapping-update"),
    path("<uuid:pk>/couplings/", views.coupling_list, name="coupling-list"),
    path("<uuid:pk>/couplings/couple/", views.coupling_create_view, name="coupling-create"),
    path("<uuid:pk>/couplings/delete/", views.couplings_delete, name="couplings-delete"),
    path("couplings/<int:pk>/uncouple/", views.coupling_delete_view, name="coupling-delete"),
    path("<uuid:pk>/match/", views.match_based_coupling, name="matchbasedcoupling-start"),
    path("<uuid:pk>/coupling-log/", views.couplinglog_list, name="couplinglog-list"),
    path("<uuid:pk>/coupling-log/progress/", views_progress.couplinglog_progress, name="couplinglog-progress"),
    path("import-bc/<uuid:connection_pk>/", views.bc_import, name="bc-import"),
    path("salespeople/<uuid:connection_pk>/", views.salespeople, name="salesperson-list"),
    path("salespeople/<uuid:connection_pk>/couple/", views.salesperson_couple, name="salesperson-couple"),
    path("salespeople/<uuid:connection_pk>/create/", views.salesperson_create, name="salesperson-create"),
]
