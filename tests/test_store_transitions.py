"""The job store's transitions, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from i2v.errors import ErrorCode, InputError, JobNotFound, LeaseLost
from i2v.jobs import MAX_PRIORITY, JobSpec, JobStatus, Stage, WorkerInfo, WorkerState
from i2v.store import JobStore


def test_submit_queues_a_job_with_its_photo_and_a_short_url_safe_id(
    store: JobStore, photo_bytes: bytes
) -> None:
    job = store.submit(JobSpec(prompt="steam"), photo_bytes, content_type="image/png")
    assert job.status is JobStatus.QUEUED
    assert len(job.id) == 10 and job.id.isalnum() and job.id.islower()
    assert store.read_media(job.id, "photo") == photo_bytes
    assert store.media_info(job.id, "photo").content_type == "image/png"
    assert job.eta_seconds == store.eta_prior_seconds


def test_the_same_dedupe_key_twice_gives_the_same_job(store: JobStore) -> None:
    first = store.submit(JobSpec(dedupe_key="tg:1:2"), b"photo")
    second = store.submit(JobSpec(dedupe_key="tg:1:2", prompt="other"), b"other photo")
    assert second.id == first.id
    assert second.spec.prompt == ""
    assert store.count_jobs() == 1


def test_priorities_both_databases_store_are_accepted_and_others_refused(
    store: JobStore,
) -> None:
    for edge in (-MAX_PRIORITY, MAX_PRIORITY):
        assert store.submit(JobSpec(priority=edge), b"photo").spec.priority == edge
    for beyond in (MAX_PRIORITY + 1, 2**31, 99999999999999999999):
        with pytest.raises(InputError, match=r"priority .* out of range"):
            store.submit(JobSpec(priority=beyond), b"photo")
    assert store.count_jobs() == 2


def test_claim_takes_higher_priority_first_then_oldest(store: JobStore) -> None:
    old = store.submit(JobSpec(), b"p")
    new = store.submit(JobSpec(), b"p")
    urgent = store.submit(JobSpec(priority=5), b"p")
    claimed = [store.claim("w") for _ in range(3)]
    assert [c.job.id for c in claimed if c] == [urgent.id, old.id, new.id]
    assert store.claim("w") is None


def test_claim_marks_the_job_running_for_that_worker_and_counts_the_attempt(
    store: JobStore,
) -> None:
    job = store.submit(JobSpec(), b"p")
    lease = store.claim("worker-1")
    assert lease is not None and lease.job.id == job.id
    running = store.get(job.id)
    assert running.status is JobStatus.RUNNING
    assert running.worker_id == "worker-1"
    assert running.attempts == 1
    assert running.started_at is not None


def test_claim_only_takes_jobs_for_the_engines_the_worker_runs(store: JobStore) -> None:
    store.submit(JobSpec(engine="diffusers"), b"p")
    anyone = store.submit(JobSpec(), b"p")
    lease = store.claim("cpu-worker", engines=["kenburns"])
    assert lease is not None and lease.job.id == anyone.id
    assert store.claim("cpu-worker", engines=["kenburns"]) is None


def test_progress_is_recorded_and_never_moves_backwards(store: JobStore) -> None:
    job = store.submit(JobSpec(), b"p")
    lease = store.claim("w")
    assert lease is not None
    store.report_progress(job.id, lease.token, stage=Stage.GENERATING, progress=0.6, eta_seconds=30)
    store.report_progress(job.id, lease.token, stage=Stage.DECODING, progress=0.4, eta_seconds=10)
    seen = store.get(job.id)
    assert seen.stage is Stage.DECODING
    assert seen.progress == pytest.approx(0.6)
    assert seen.eta_seconds == 10


def test_succeed_stores_the_video_and_thumbnail_and_result(store: JobStore) -> None:
    job = store.submit(JobSpec(), b"p")
    lease = store.claim("w")
    assert lease is not None
    done = store.succeed(
        job.id, lease.token, result={"width": 64, "frames": 25}, video=b"mp4", thumbnail=b"jpg"
    )
    assert done.status is JobStatus.SUCCEEDED
    assert done.progress == 1.0
    assert done.result == {"width": 64, "frames": 25}
    assert store.read_media(job.id, "video") == b"mp4"
    assert store.read_media(job.id, "thumbnail") == b"jpg"


def test_fail_records_a_code_and_a_message(store: JobStore) -> None:
    job = store.submit(JobSpec(), b"p")
    lease = store.claim("w")
    assert lease is not None
    failed = store.fail(job.id, lease.token, ErrorCode.OUT_OF_MEMORY, "try 480p")
    assert failed.status is JobStatus.FAILED
    assert (failed.error_code, failed.error_message) == (ErrorCode.OUT_OF_MEMORY, "try 480p")


def test_cancel_of_a_queued_job_is_immediate(store: JobStore) -> None:
    job = store.submit(JobSpec(), b"p")
    assert store.request_cancel(job.id).status is JobStatus.CANCELED
    assert store.claim("w") is None


def test_cancel_of_a_running_job_is_seen_by_the_next_progress_report(store: JobStore) -> None:
    job = store.submit(JobSpec(), b"p")
    lease = store.claim("w")
    assert lease is not None
    assert not store.report_progress(job.id, lease.token, stage=Stage.GENERATING, progress=0.1)
    flagged = store.request_cancel(job.id)
    assert flagged.status is JobStatus.RUNNING and flagged.cancel_requested
    assert store.report_progress(job.id, lease.token, stage=Stage.GENERATING, progress=0.2)
    assert store.mark_canceled(job.id, lease.token).status is JobStatus.CANCELED


def test_cancel_of_a_finished_job_changes_nothing(store: JobStore) -> None:
    job = store.submit(JobSpec(), b"p")
    lease = store.claim("w")
    assert lease is not None
    store.succeed(job.id, lease.token, result={}, video=b"v")
    assert store.request_cancel(job.id).status is JobStatus.SUCCEEDED


def test_a_graceful_release_requeues_without_counting_the_attempt(store: JobStore) -> None:
    job = store.submit(JobSpec(), b"p")
    lease = store.claim("w")
    assert lease is not None
    released = store.release(job.id, lease.token)
    assert released.status is JobStatus.QUEUED and released.attempts == 0
    with pytest.raises(LeaseLost):
        store.report_progress(job.id, lease.token, stage=Stage.GENERATING, progress=0.5)


def test_a_release_with_an_error_retries_until_attempts_run_out(store: JobStore) -> None:
    job = store.submit(JobSpec(), b"p")
    for attempt in range(1, store.max_attempts + 1):
        lease = store.claim("w")
        assert lease is not None and lease.job.attempts == attempt
        after = store.release(
            job.id, lease.token, error=(ErrorCode.STALLED, "no progress for 3 min")
        )
    assert after.status is JobStatus.FAILED
    assert after.error_code is ErrorCode.STALLED
    assert after.error_message == "no progress for 3 min"


def test_unknown_job_ids_raise_job_not_found(store: JobStore) -> None:
    with pytest.raises(JobNotFound):
        store.get("nope")
    with pytest.raises(JobNotFound):
        store.request_cancel("nope")
    assert store.find("nope") is None


def test_queue_position_counts_jobs_ahead_and_divides_their_time_by_live_workers(
    store: JobStore,
) -> None:
    jobs = [store.submit(JobSpec(), b"p") for _ in range(3)]
    assert store.queue_position(jobs[2].id).position == 3
    for n in range(2):
        store.register_worker(WorkerInfo(id=f"w{n}", host="h", pid=n, state=WorkerState.IDLE))
    wait = store.queue_position(jobs[2].id)
    assert wait.live_workers == 2
    assert wait.wait_seconds == pytest.approx(2 * store.eta_prior_seconds / 2)
    assert store.queue_position(jobs[0].id).wait_seconds == 0


def test_queued_job_eta_comes_from_measured_totals_once_there_are_any(store: JobStore) -> None:
    from i2v.store import TOTAL, request_key

    spec = JobSpec(engine="kenburns", duration_seconds=2.0)
    store.record_timing(request_key(spec), TOTAL, 7.0)
    assert store.submit(spec, b"p").eta_seconds == pytest.approx(7.0)


def test_mark_delivered_is_true_only_for_the_first_caller(store: JobStore) -> None:
    job = store.submit(JobSpec(), b"p")
    assert store.mark_delivered(job.id)
    assert not store.mark_delivered(job.id)
    assert store.get(job.id).delivered


def test_notify_data_and_user_settings_round_trip(store: JobStore) -> None:
    job = store.submit(JobSpec(source="telegram", notify={"chat_id": 5}), b"p")
    store.set_notify(job.id, {"chat_id": 5, "status_message_id": 9})
    assert store.get(job.id).notify == {"chat_id": 5, "status_message_id": 9}
    store.put_user_settings("42", {"resolution": "480p"})
    store.put_user_settings("42", {"resolution": "1080p", "lang": "ru"})
    assert store.get_user_settings("42") == {"resolution": "1080p", "lang": "ru"}
    assert store.get_user_settings("43") == {}


def test_list_jobs_filters_by_status_source_owner_and_delivery(store: JobStore) -> None:
    tg = store.submit(JobSpec(source="telegram", owner="7"), b"p")
    store.submit(JobSpec(source="cli"), b"p")
    store.request_cancel(tg.id)
    assert [j.id for j in store.list_jobs(source="telegram", owner="7")] == [tg.id]
    assert [j.id for j in store.list_jobs(statuses=[JobStatus.CANCELED])] == [tg.id]
    assert len(store.list_jobs(undelivered=True)) == 2
    assert store.count_jobs(statuses=[JobStatus.QUEUED]) == 1


def test_queued_jobs_past_the_ttl_expire_with_a_clear_reason(store_url: str) -> None:
    from i2v.store import open_store_url

    now = [1000.0]
    clocked = open_store_url(store_url, clock=lambda: now[0])
    job = clocked.submit(JobSpec(), b"p")
    now[0] += 3601
    assert clocked.expire_queued(3600) == [job.id]
    expired = clocked.get(job.id)
    assert expired.status is JobStatus.FAILED and expired.error_code is ErrorCode.EXPIRED
    assert "1 hours" in (expired.error_message or "")
    clocked.close()


def test_find_by_dedupe_key_returns_the_job_or_none(store: JobStore) -> None:
    job = store.submit(JobSpec(dedupe_key="tg:5:77"), b"p")
    found = store.find_by_dedupe_key("tg:5:77")
    assert found is not None and found.id == job.id
    assert store.find_by_dedupe_key("tg:5:78") is None


def test_only_one_holder_at_a_time_may_deliver_a_result(store_url: str) -> None:
    from i2v.store import open_store_url

    now = [100.0]
    clocked = open_store_url(store_url, clock=lambda: now[0])
    job = clocked.submit(JobSpec(), b"p")
    assert clocked.claim_delivery(job.id, "bot-a", ttl_seconds=60)
    assert not clocked.claim_delivery(job.id, "bot-b", ttl_seconds=60)
    assert clocked.claim_delivery(job.id, "bot-a", ttl_seconds=60), "the holder may renew"
    now[0] += 61
    assert clocked.claim_delivery(job.id, "bot-b", ttl_seconds=60), "an expired claim is free"
    clocked.mark_delivered(job.id)
    assert not clocked.claim_delivery(job.id, "bot-b", ttl_seconds=60)
    clocked.close()


def test_count_jobs_without_filters_counts_every_job(store: JobStore) -> None:
    assert store.count_jobs() == 0
    for _ in range(3):
        store.submit(JobSpec(), b"p")
    assert store.count_jobs() == 3


def test_claim_can_be_limited_to_one_job_or_to_the_models_a_worker_serves(store: JobStore) -> None:
    wan = store.submit(JobSpec(model="wan2.2-ti2v-5b"), b"p")
    mine = store.submit(JobSpec(), b"p")
    assert store.claim("w", models=["ltx-video"], job_id=wan.id) is None
    only = store.claim("w", job_id=mine.id)
    assert only is not None and only.job.id == mine.id
    assert store.claim("ltx-worker", models=["ltx-video"]) is None
    wan_lease = store.claim("wan-worker", models=["wan2.2-ti2v-5b"])
    assert wan_lease is not None and wan_lease.job.id == wan.id


def test_a_released_job_whose_cancel_was_requested_ends_canceled(store: JobStore) -> None:
    for error in (None, (ErrorCode.STALLED, "stalled")):
        job = store.submit(JobSpec(), b"p")
        lease = store.claim("w")
        assert lease is not None
        store.request_cancel(job.id)
        assert store.release(job.id, lease.token, error=error).status is JobStatus.CANCELED
    assert store.claim("w") is None


def test_succeed_can_record_the_jobs_warnings(store: JobStore) -> None:
    job = store.submit(JobSpec(), b"p")
    lease = store.claim("w")
    assert lease is not None
    done = store.succeed(job.id, lease.token, result={}, video=b"v", warnings=["upscaled"])
    assert done.warnings == ("upscaled",)


def test_a_requeued_job_starts_over_and_a_finished_one_has_no_stage(store: JobStore) -> None:
    job = store.submit(JobSpec(), b"p", content_type="image/png")
    lease = store.claim("w")
    assert lease is not None
    store.report_progress(job.id, lease.token, stage=Stage.GENERATING, progress=0.32, eta_seconds=9)
    again = store.release(job.id, lease.token, error=(ErrorCode.STALLED, "it stalled"))
    assert (again.status, again.progress, again.stage) == (JobStatus.QUEUED, 0.0, None)
    lease = store.claim("w")
    assert lease is not None
    store.report_progress(job.id, lease.token, stage=Stage.ENCODING, progress=0.9, eta_seconds=1)
    done = store.succeed(job.id, lease.token, result={}, video=b"mp4")
    assert done.stage is None and done.progress == 1.0


def test_a_job_that_succeeds_on_a_retry_shows_no_earlier_error(store: JobStore) -> None:
    job = store.submit(JobSpec(), b"p")
    lease = store.claim("w")
    assert lease is not None
    retried = store.release(job.id, lease.token, error=(ErrorCode.STALLED, "it stalled"))
    assert retried.error_code is ErrorCode.STALLED
    lease = store.claim("w")
    assert lease is not None
    done = store.succeed(job.id, lease.token, result={}, video=b"mp4")
    assert (done.error_code, done.error_message) == (None, None)


def test_reads_and_cancels_with_an_owner_touch_only_that_owners_job(store: JobStore) -> None:
    job = store.submit(JobSpec(source="api", owner="api:boris"), b"photo")

    assert store.find(job.id, owner="api:alice") is None
    with pytest.raises(JobNotFound):
        store.get_with_position(job.id, owner="api:alice")
    with pytest.raises(JobNotFound):
        store.request_cancel(job.id, owner="api:alice")
    assert store.get(job.id).status is JobStatus.QUEUED
    assert store.get(job.id, owner="api:boris").id == job.id
    assert store.request_cancel(job.id, owner="api:boris").status is JobStatus.CANCELED
    assert store.list_jobs(owner="api:alice") == []
    assert store.count_jobs(statuses=set(JobStatus), owner="api:boris") == 1
