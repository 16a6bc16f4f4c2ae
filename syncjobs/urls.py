"""URLs of the syncjobs app (namespace `syncjobs`)."""
from __future__ import annotations

from django.urls import path

from syncjobs import views, views_alerts, views_dry_run, views_jobqueue_edit, views_log, views_progress

app_name = "syncjobs"

urlpatterns = [
    path("", views.index, name="index"),
    path("entries/", views.index, name="jobqueueentry-list"),
    path("entries/<uuid:entry_id>/log/", views.jobqueueentry_log, name="jobqueueentry-log"),
    path("entries/<uuid:entry_id>/set-ready/", views.jobqueueentry_set_ready, name="jobqueueentry-set-ready"),
    path("entries/<uuid:entry_id>/set-on-hold/", views.jobqueueentry_set_on_hold, name="jobqueueentry-set-on-hold"),
    path("entries/<uuid:entry_id>/run-now/", views.jobqueueentry_run_now, name="jobqueueentry-run-now"),
    path("entries/<uuid:entry_id>/edit/", views_jobqueue_edit.jobqueueentry_edit, name="jobqueueentry-edit"),
    path("alerts/", views_alerts.alert_list, name="alert-list"),
    path("alerts/rules/new/", views_alerts.alertrule_create, name="alertrule-create"),
    path("alerts/rules/<int:rule_id>/edit/", views_alerts.alertrule_update, name="alertrule-update"),
    path("alerts/rules/<int:rule_id>/delete/", views_alerts.alertrule_delete, name="alertrule-delete"),
    path("alerts/<int:alert_id>/resume/", views_alerts.alert_resume, name="alert-resume"),
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
    path("full-sync-review/<uuid:connection_id>/dry-run/", views_dry_run.dryrun_start, name="dryrun-start"),
    path("dry-runs/mapping/<uuid:mapping_id>/start/", views_dry_run.dryrun_start_mapping, name="dryrun-start-mapping"),
    path("dry-runs/<int:dry_run_id>/", views_dry_run.dryrun_detail, name="dryrun-detail"),
    path("dry-runs/<int:dry_run_id>/csv/", views_dry_run.dryrun_csv, name="dryrun-csv"),
    path("log/", views_log.synchronizationjob_list, name="synchronizationjob-list"),
    path("log/delete-old/", views_log.synchronizationjob_delete_old, name="synchronizationjob-delete-old"),
    path("log/<uuid:job_id>/", views_log.synchronizationjob_detail, name="synchronizationjob-detail"),
    path("log/<uuid:job_id>/progress/", views_progress.synchronizationjob_progress,
         name="synchronizationjob-progress"),
    path("skipped-records/", views_log.skippedrecord_list, name="skippedrecord-list"),
    path("skipped-records/action/", views_log.skippedrecord_action, name="skippedrecord-action"),
    path("couplings/<int:coupling_id>/synchronize/", views_log.coupling_synchronize, name="coupling-synchronize"),
]
