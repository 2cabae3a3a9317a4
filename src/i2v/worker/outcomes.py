"""The last writes about a job: store the video, fail it, cancel it, or give it back; learn its times."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from i2v.errors import ErrorCode, StoreError
from i2v.store import STEP, TOTAL, JobStore, request_key
from i2v.worker.eta import STEP_MAX, plan_key
from i2v.worker.events import JobDone, JobFailed
from i2v.worker.jobrun import ActiveJob
from i2v.worker.spool import FinishedVideo

log = logging.getLogger(__name__)

OUT_OF_MEMORY_ADVICE = (
    "Try a lower resolution or a shorter video, or a lighter memory plan "
    "(I2V_MEMORY_PLAN=model_offload, group_offload or sequential_offload)."
)


def finished_video(job: ActiveJob, event: JobDone) -> FinishedVideo:
    """What the store needs to record the job's video: its files, result metadata and notes."""
    for note in event.notes:
        job.warn(note)
    summary = job.telemetry.summary()
    result = {**event.result, "stage_seconds": _rounded(event.stage_seconds)}
    if summary is not None:
        result["gpu"] = summary
    thumbnail = event.thumbnail_path
    return FinishedVideo(
        job.id,
        job.token,
        Path(event.video_path),
        Path(thumbnail) if thumbnail else None,
        result,
        list(job.warnings) if job.warnings_dirty else None,
    )


def store_video(store: JobStore, video: FinishedVideo) -> None:
    """Save the video and thumbnail and mark the job succeeded; then delete the files.

    On an outage (StoreUnavailable) the files stay, so the same call can be made again.
    """
    store.succeed(
        video.job_id,
        video.token,
        result=video.result,
        video=video.video,
        thumbnail=video.thumbnail.read_bytes() if video.thumbnail else None,
        warnings=video.warnings,
    )
    video.discard()


def learn_from(store: JobStore, job: ActiveJob, event: JobDone, *, engine: str, host: str) -> None:
    """Log the stored success and fold this job's times into the averages behind ETAs."""
    seconds = time.monotonic() - (job.started_at or job.claimed_at)
    log.info("job %s: succeeded in %.1f s (%s)", job.id, seconds, _describe(event))
    _learn(store, job, event, seconds, engine=engine, host=host)


def fail_job(store: JobStore, job: ActiveJob, event: JobFailed) -> None:
    """Mark the job failed with the child's code and message (plus advice for out-of-memory)."""
    message = event.message
    if event.code is ErrorCode.OUT_OF_MEMORY and "I2V_MEMORY_PLAN" not in message:
        message = f"{message.rstrip('.')}. {OUT_OF_MEMORY_ADVICE}"
    log.warning("job %s: failed (%s): %s", job.id, event.code.value, message)
    if event.traceback:
        log.debug("job %s: traceback from the GPU process:\n%s", job.id, event.traceback)
    store.fail(job.id, job.token, event.code, message)


def cancel_job(store: JobStore, job: ActiveJob) -> None:
    """The child stopped the job: canceled for the user, or given back after a deadline."""
    if job.verdict is None:
        log.info("job %s: canceled at the user's request", job.id)
        store.mark_canceled(job.id, job.token)
        return
    give_back(store, job, (job.verdict.code, job.verdict.message))


def give_back(store: JobStore, job: ActiveJob, error: tuple[ErrorCode, str] | None) -> None:
    """Return the job to the queue; with an error the attempt counts (and may be the last)."""
    after = store.release(job.id, job.token, error=error)
    if error is None:
        log.info("job %s: put back in the queue (attempt not counted)", job.id)
    else:
        log.warning(
            "job %s: %s; now %s after %d attempt(s)",
            job.id,
            error[1],
            after.status.value,
            after.attempts,
        )


def settle_killed(store: JobStore, job: ActiveJob) -> None:
    """The child holding the job was killed: end or requeue the job by why it was stopped."""
    if job.verdict is not None:
        give_back(store, job, (job.verdict.code, job.verdict.message))
    elif job.cancel_sent_at is not None:
        store.mark_canceled(job.id, job.token)
    else:
        # A bystander lost its work through no fault of its own: no attempt counted.
        give_back(store, job, None)


def discard_files(event: JobDone) -> None:
    """Delete the files of a result nobody will store (the job's lease was lost)."""
    Path(event.video_path).unlink(missing_ok=True)
    if event.thumbnail_path:
        Path(event.thumbnail_path).unlink(missing_ok=True)


def _learn(
    store: JobStore, job: ActiveJob, event: JobDone, seconds: float, *, engine: str, host: str
) -> None:
    """Fold this job's times into the averages behind ETAs and deadlines."""
    try:
        store.record_timing(request_key(job.spec), TOTAL, seconds)
        if job.plan is None:
            return
        key = plan_key(engine, str(event.result.get("model", "")), job.plan, host)
        for name, value in event.stage_seconds.items():
            store.record_timing(key, name, value)
        if event.step_seconds is not None:
            mean, slowest = event.step_seconds
            store.record_timing(key, STEP, mean)
            # The slowest step, not the mean, sizes the stall budget: a first step that
            # warms up caches must not look like a hang next time.
            store.record_timing(key, STEP_MAX, slowest)
    except StoreError as exc:
        log.warning("job %s: could not record timings: %s", job.id, exc)


def _rounded(seconds: dict[str, float]) -> dict[str, float]:
    return {name: round(value, 3) for name, value in seconds.items()}


def _describe(event: JobDone) -> str:
    r = event.result
    return f"{r.get('width')}x{r.get('height')}, {r.get('frames')} frames, {r.get('bytes')} bytes"
