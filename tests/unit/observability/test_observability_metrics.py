"""Metrics exposition, per process and summed across processes."""

import os
import subprocess
import sys
from pathlib import Path

from shared.observability import (
    HTTP_LATENCY,
    HTTP_REQUESTS,
    JOB_STATS,
    JOBS_BY_STATUS,
    render_latest,
)

METRIC_NAMES = (
    "ghostpen_http_requests_total",
    "ghostpen_http_request_duration_seconds",
    "ghostpen_jobs_finished_total",
    "ghostpen_job_duration_seconds",
    "ghostpen_job_attempts_retried_total",
    "ghostpen_model_call_duration_seconds",
    "ghostpen_model_tokens_total",
    "ghostpen_model_cost_usd_total",
    "ghostpen_jobs",
    "ghostpen_queue_depth",
    "ghostpen_live_workers",
    "ghostpen_rate_limit_fail_open_total",
)


def test_render_exposes_every_metric_with_route_labels() -> None:
    HTTP_REQUESTS.labels("GET", "/api/v1/metrics-test/{job_id}", "200").inc()
    HTTP_LATENCY.labels("GET", "/api/v1/metrics-test/{job_id}").observe(0.03)
    JOBS_BY_STATUS.labels("queued").set(4)
    JOB_STATS.snapshot = {
        "jobs|succeeded|x": "3",
        "duration_bucket|succeeded|1.0": "2",
        "duration_bucket|succeeded|5.0": "1",
        "duration_sum|succeeded": "3.5",
        "tokens|gpt-4o-mini|prompt": "120",
        "cost|gpt-4o-mini": "0.000042",
    }

    body, content_type = render_latest()

    text = body.decode()
    assert content_type.startswith("text/plain")
    for name in METRIC_NAMES:
        assert f"# TYPE {name} " in text
    assert (
        'ghostpen_http_requests_total{method="GET",route="/api/v1/metrics-test/{job_id}",'
        'status="200"} 1.0'
    ) in text
    assert (
        'ghostpen_http_request_duration_seconds_bucket{le="0.05",method="GET",'
        'route="/api/v1/metrics-test/{job_id}"} 1.0'
    ) in text
    assert 'ghostpen_jobs{status="queued"} 4.0' in text
    assert 'ghostpen_jobs_finished_total{platform="x",status="succeeded"} 3.0' in text
    assert 'ghostpen_job_duration_seconds_bucket{le="1.0",status="succeeded"} 2.0' in text
    assert 'ghostpen_job_duration_seconds_bucket{le="+Inf",status="succeeded"} 3.0' in text
    assert 'ghostpen_model_tokens_total{kind="prompt",model="gpt-4o-mini"} 120.0' in text
    assert 'ghostpen_model_cost_usd_total{model="gpt-4o-mini"} 4.2e-05' in text


def test_multiprocess_mode_sums_counters_of_all_processes(tmp_path: Path) -> None:
    # prometheus_client picks its storage at import, so each "process" is a real one.
    env = os.environ | {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    count = (
        "from shared.observability import HTTP_REQUESTS\n"
        "HTTP_REQUESTS.labels('GET', '/health/live', '200').inc()\n"
    )
    render = "import sys\nfrom shared.observability import render_latest\n"
    render += "sys.stdout.write(render_latest()[0].decode())\n"

    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], env=env, check=True, timeout=30)
    scrape = subprocess.run(
        [sys.executable, "-c", render],
        env=env,
        check=True,
        timeout=30,
        capture_output=True,
        text=True,
    )

    assert 'ghostpen_http_requests_total{method="GET",route="/health/live",status="200"} 2.0' in (
        scrape.stdout
    )
