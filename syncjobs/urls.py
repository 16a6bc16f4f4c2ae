"""URLs of the syncjobs app (namespace `syncjobs`)."""
from __future__ import annotations

from django.urls import path

from syncjobs import views, views_log

app_name = "syncjobs"

urlpatterns = [
    path("", views.index, name="index"),
    path("entries/", views.index, name="jobqueueentry-list"),
    path("entries/<uuid:entry_id>/log/", views.jobqueueentry_log, name="jobqueueentry-log"),
    path("entries/<uuid:entry_id>/set-ready/", views.jobqueueentry_set_ready, name="jobqueueentry-set-ready"),
    path("entries/<uuid:entry_id>/set-on-hold/", views.jobqueueentry_set_on_hold, name="jobqueueentry-set-on-hold"),
    path("entries/<uuid:entry_id>/run-now/", views.jobqueueentry_run_now, name="jobqueueentry-run-now"),
    path("full-sync-review/", views.fullsyncreview_index, name="fullsyncreview-index"),
    path("full-sync-review/<uuid:connection_id>/", views.fullsyncreview_detail, name="fullsyncreview-detail"),
    path("full-sync-review/<uuid:connection_id>/status/", views.fullsyncreview_status, name="fullsyncreview-status"),
    path("full-sync-review/<uuid:connection_id>/start/", views.fullsyncreview_start, name="fullsyncreview-start"),
    path("full-sync-review/<uuid:connection_id>/reset/", views.fullsyncreview_reset, name="fullsyncreview-reset"),
    path("full-sync-review/<uuid:connection_id>/reset/confirm/", views_log.fullsyncreview_reset_confirm,
         name="fullsyncreview-reset-confirm"),
    path("full-sync-review/lines/<int:line_id>/restart/", views.fullsyncreview_restart, name="fullsyncreview-restart"),
    path(
        "full-sync-review/lines/<int:line_id>/recommend-full/",
        views.fullsyncreview_recommend_full,
        name="fullsyncreview-recommend-full",
    ),
    path("full-sync-review/lines/<int:line_id>/remove/", views.fullsyncreview_remove, name="fullsyncreview-remove"),
    path("log/", views_log.synchronizationjob_list, name="synchronizationjob-list"),
    path("log/delete-old/", views_log.synchronizationjob_delete_old, name="synchronizationjob-delete-old"),
    path("log/<uuid:job_id>/", views_log.synchronizationjob_detail, name="synchronizationjob-detail"),
    path("skipped-records/", views_log.skippedrecord_list, name="skippedrecord-list"),
    path("skipped-records/action/", views_log.skippedrecord_action, name="skippedrecord-action"),
    path("couplings/<int:coupling_id>/synchronize/", views_log.coupling_synchronize, name="coupling-synchronize"),
]
