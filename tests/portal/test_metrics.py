"""/metrics: Prometheus text for a signed-in user or the METRICS_TOKEN bearer token, nothing for anyone else."""
from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from connections.clients.transport import THROTTLED


@pytest.mark.django_db
def test_metrics_needs_sign_in_or_the_token(client: Client, settings: Any) -> None:
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")


@pytest.mark.django_db
def test_metrics_lists_the_portal_series(admin_client: Client) -> None:
    THROTTLED.labels("dataverse").inc()
    response = admin_client.get("/metrics")
    assert response.status_code == 200
    families = {family.name: family for family in text_string_to_metric_families(response.content.decode())}
    for name in ("bcportal_http_throttled", "bcportal_http_retries", "bcportal_http_requests",
                 "bcportal_synchronization_runs", "bcportal_synchronization_records",
                 "bcportal_synchronization_errors", "bcportal_mapping_lag_seconds", "bcportal_job_queue_due_entries",
                 "bcportal_job_queue_oldest_due_age_seconds", "bcportal_rq_queue_depth"):
        assert name in families, name
    throttled = {s.labels["service"]: s.value for s in families["bcportal_http_throttled"].samples
                 if s.name.endswith("_total")}
    assert throttled["dataverse"] >= 1
    depth = {s.labels["queue"] for s in families["bcportal_rq_queue_depth"].samples}
    assert depth == {"default", "sync"}
