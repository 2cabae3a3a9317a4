"""/metrics: Prometheus text that parses, with gauges from the store and counters that move."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from i2v.api import create_app
from i2v.config import Settings
from i2v.errors import ErrorCode
from i2v.jobs import JobSpec, Stage, WorkerInfo, WorkerState
from i2v.store import JobStore, open_store_url

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def store(sqlite_url: str) -> Iterator[JobStore]:
    opened = open_store_url(sqlite_url)
    yield opened
    opened.close()


@pytest.fixture
def client(store: JobStore, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(store, settings)) as test_client:
        yield test_client


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def run_job(store: JobStore, photo: bytes, *, fail_with: ErrorCode | None = None) -> str:
    job = store.submit(JobSpec(duration_seconds=2), photo)
    lease = store.claim("w1")
    assert lease is not None and lease.job.id == job.id
    store.report_progress(job.id, lease.token, stage=Stage.GENERATING, progress=0.5)
    if fail_with is not None:
        store.fail(job.id, lease.token, fail_with, "it went wrong")
    else:
        result = {"stage_seconds": {"preprocessing": 0.2, "generating": 3.0, "encoding": 0.7}}
        store.succeed(job.id, lease.token, result=result, video=b"mp4", thumbnail=b"jpg")
    return job.id


def test_queue_depth_and_jobs_by_status_come_from_the_store(
    client: TestClient, store: JobStore, photo_bytes: bytes
) -> None:
    for _ in range(3):
        store.submit(JobSpec(), photo_bytes)
    store.claim("w1")

    samples = scrape(client)

    assert samples[("i2v_jobs", (("status", "queued"),))] == 2
    assert samples[("i2v_jobs", (("status", "running"),))] == 1
    assert samples[("i2v_jobs", (("status", "succeeded"),))] == 0
    assert samples[("i2v_queue_depth", ())] == 2
    assert samples[("i2v_queue_oldest_age_seconds", ())] >= 0


def test_live_workers_are_counted_by_state_with_their_gpu_readings(
    client: TestClient, store: JobStore
) -> None:
    reading = {"index": 0, "name": "RTX", "memory_used_mb": 9000.0, "memory_total_mb": 12288.0}
    store.register_worker(
        WorkerInfo(
            id="box-1",
            host="box",
            pid=1,
            state=WorkerState.BUSY,
            gpu={**reading, "utilization_percent": 97.0},
        )
    )
    store.register_worker(WorkerInfo(id="box-2", host="box", pid=2, state=WorkerState.IDLE))

    samples = scrape(client)

    assert samples[("i2v_workers", (("state", "busy"),))] == 1
    assert samples[("i2v_workers", (("state", "idle"),))] == 1
    labels = (("gpu", "0"), ("worker", "box-1"))
    assert samples[("i2v_gpu_utilization_ratio", labels)] == pytest.approx(0.97)
    assert samples[("i2v_gpu_memory_used_bytes", labels)] == 9000 * 1024 * 1024
    assert samples[("i2v_gpu_memory_total_bytes", labels)] == 12288 * 1024 * 1024
    assert not any(
        name.startswith("i2v_gpu") and ("worker", "box-2") in key for name, key in samples
    )


def test_after_a_job_its_counters_and_stage_histogram_moved(
    client: TestClient, store: JobStore, photo_bytes: bytes
) -> None:
    before = scrape(client)
    run_job(store, photo_bytes)

    after = scrape(client)

    assert ("i2v_jobs_finished_total", (("code", ""), ("status", "succeeded"))) not in before
    assert after[("i2v_jobs_finished_total", (("code", ""), ("status", "succeeded")))] == 1
    assert after[("i2v_job_attempts_total", ())] == before[("i2v_job_attempts_total", ())] + 1
    assert after[("i2v_stage_duration_seconds_count", (("stage", "running"),))] == 1
    assert after[("i2v_stage_duration_seconds_count", (("stage", "queued"),))] == 1
    assert after[("i2v_stage_duration_seconds_sum", (("stage", "generating"),))] == 3.0
    generating_le_5 = (
        "i2v_stage_duration_seconds_bucket",
        (("le", "5.0"), ("stage", "generating")),
    )
    generating_le_2 = (
        "i2v_stage_duration_seconds_bucket",
        (("le", "2.5"), ("stage", "generating")),
    )
    assert after[generating_le_5] == 1
    assert after[generating_le_2] == 0


def test_each_finished_job_is_counted_once_across_scrapes(
    client: TestClient, store: JobStore, photo_bytes: bytes
) -> None:
    run_job(store, photo_bytes)
    scrape(client)
    run_job(store, photo_bytes, fail_with=ErrorCode.STALLED)
    scrape(client)

    samples = scrape(client)

    assert samples[("i2v_jobs_finished_total", (("code", ""), ("status", "succeeded")))] == 1
    assert samples[("i2v_jobs_finished_total", (("code", "stalled"), ("status", "failed")))] == 1
    assert samples[("i2v_job_stalls_total", ())] == 1
    assert samples[("i2v_job_timeouts_total", ())] == 0
    assert samples[("i2v_stage_duration_seconds_count", (("stage", "running"),))] == 2


def test_http_requests_are_counted_by_route_and_status_with_latency_and_429s(
    store: JobStore, settings: Settings
) -> None:
    limited = settings.model_copy(
        update={"api_rate_limit_per_second": 0.01, "api_rate_limit_burst": 3}
    )
    with TestClient(create_app(store, limited)) as client:
        client.get("/v1/jobs/abc")
        client.get("/v1/jobs/zzz")
        client.get("/v1/jobs")
        client.get("/v1/jobs")  # over the burst: 429
        client.get("/no/such/page")
        client.request("BREW", "/v1/jobs")

        samples = scrape(client)

    def count(route: str, status: str) -> float:
        key = (("method", "GET"), ("route", route), ("status", status))
        return samples.get(("i2v_http_requests_total", key), 0)

    assert count("/v1/jobs/{job_id}", "404") == 2
    assert count("/v1/jobs", "200") == 1
    assert count("/v1/jobs", "429") == 1
    assert count("unmatched", "404") == 1
    # A made-up method is counted, but never becomes a label value of its own.
    brew = (("method", "other"), ("route", "/v1/jobs"), ("status", "405"))
    assert samples[("i2v_http_requests_total", brew)] == 1
    assert samples[("i2v_http_rate_limited_total", (("route", "/v1/jobs"),))] == 1
    assert samples[("i2v_http_request_duration_seconds_count", (("route", "/v1/jobs"),))] == 3
    assert samples[("i2v_http_open_streams", ())] == 0
    # The standard process metrics come along (on Linux, where /proc tells them).
    if sys.platform.startswith("linux"):
        assert samples[("process_resident_memory_bytes", ())] > 0


def test_a_read_only_metrics_token_scrapes_without_a_rate_limit_and_nothing_else(
    store: JobStore, settings: Settings
) -> None:
    scraper = "scrape-token-0123456789abcdefghijklmn"
    configured = settings.model_copy(
        update={
            "api_token": SecretStr("api-token-0123456789abcdefghijklmnopq"),
            "api_metrics_token": SecretStr(scraper),
            "api_rate_limit_per_second": 0.01,
            "api_rate_limit_burst": 3,
        }
    )
    with TestClient(create_app(store, configured)) as client:
        auth = {"Authorization": f"Bearer {scraper}"}
        answers = [client.get("/metrics", headers=auth).status_code for _ in range(5)]

        assert answers == [200] * 5
        assert client.get("/metrics").status_code == 401
        assert client.get("/v1/jobs", headers=auth).status_code == 401
