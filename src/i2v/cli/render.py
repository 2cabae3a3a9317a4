"""How jobs and workers look on a terminal.

Rich (for the tables) and the message catalogue (for durations and failure sentences)
are imported where used, so `i2v job ID --json` and an empty `i2v jobs` start without them.
"""

from __future__ import annotations

from collections.abc import Sequence

from i2v.jobs import Job, JobSpec, JobStatus, QueuePosition, WorkerInfo, worker_command

#: A wait shorter than this is said as "starts now".
START_NOW_SECONDS = 5.0

STAGE_WORDS = {
    "loading_model": "loading model",
    "preprocessing": "preparing",
    "generating": "generating",
    "decoding": "decoding",
    "encoding": "encoding",
}


def format_duration(seconds: float | None) -> str:
    """Say a measured duration the way a person would: 45 s, 3 min 12 s, 2 min, 1 h 5 min."""
    from i2v.messages import formats

    return "unknown" if seconds is None else formats.duration(seconds, "en")


def format_estimate(seconds: float | None) -> str:
    """Say an estimate rounded as a person would: 45 s, 3 min, 1 h 5 min."""
    from i2v.messages import formats

    return "unknown" if seconds is None else formats.about(seconds, "en")


def describe_unserved(engine: str | None, model: str | None) -> str:
    """Say that no running worker makes what a job asks for, and how to start one."""
    wanted = model or engine or "this job"
    return f"no worker serves {wanted} right now; start one with: {worker_command(engine, model)}"


def describe_wait(position: QueuePosition, spec: JobSpec | None = None) -> str:
    """One line about a queued job's place and wait."""
    if position.position == 0:
        return "started"
    where = (
        "next in line" if position.position == 1 else f"position {position.position} in the queue"
    )
    engine, model = (spec.engine, spec.model) if spec is not None else (None, None)
    if position.live_workers == 0:
        return f"{where}; no worker is running (start one with: {worker_command(engine, model)})"
    if position.is_unserved:
        return f"{where}; {describe_unserved(engine, model)}"
    if position.wait_seconds < START_NOW_SECONDS:
        return f"{where}, starts now"
    return f"{where}, starts in about {format_estimate(position.wait_seconds)}"


def failure_line(job: Job) -> str:
    """Why a job failed: its stored summary, or the catalogue's sentence when it has none."""
    if job.error_message:
        return job.error_message
    from i2v import messages

    return messages.job_failure_of(job, "en")


def describe_job(job: Job, position: QueuePosition | None = None, *, admin: bool = False) -> str:
    """A few lines a person can read about one job; ``admin`` adds a failure's detail."""
    lines = [f"job {job.id}: {job.status.value}"]
    if job.status is JobStatus.QUEUED and position is not None and position.position:
        lines.append(f"  {describe_wait(position, job.spec)}")
    if job.status is JobStatus.RUNNING:
        stage = STAGE_WORDS.get(job.stage.value, job.stage.value) if job.stage else "starting"
        lines.append(
            f"  {stage}, {job.progress:.0%} done, about {format_estimate(job.eta_seconds)} left"
        )
    if job.error_code is not None:
        lines.append(f"  error ({job.error_code.value}): {failure_line(job)}")
        if admin and job.error_detail:
            detail = job.error_detail.strip().replace("\n", "\n    ")
            lines.append(f"  detail (for admins):\n    {detail}")
    if job.attempts > 1:
        lines.append(f"  attempt {job.attempts}")
    if job.status is JobStatus.SUCCEEDED and job.elapsed_seconds is not None:
        lines.append(f"  done in {format_duration(job.elapsed_seconds)}")
    lines.extend(f"  note: {warning}" for warning in job.warnings)
    return "\n".join(lines)


def job_table(jobs: Sequence[Job]) -> None:
    """Print jobs as a table."""
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "status", "stage", "progress", "created", "source", "error")
    for column in table.columns[:6]:
        column.no_wrap = True
    for job in jobs:
        table.add_row(
            job.id,
            job.status.value,
            STAGE_WORDS[job.stage.value] if job.stage and job.status is JobStatus.RUNNING else "",
            f"{job.progress:.0%}",
            job.created_at.astimezone().strftime("%m-%d %H:%M") if job.created_at else "",
            job.spec.source,
            job.error_code.value if job.error_code else "",
        )
    Console().print(table)


def worker_table(workers: Sequence[WorkerInfo], alive: Sequence[bool]) -> None:
    """Print workers as a table."""
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "host", "pid", "child", "state", "job", "model", "last seen")
    for worker, is_alive in zip(workers, alive, strict=True):
        state = worker.state.value if is_alive else f"{worker.state.value} (gone)"
        table.add_row(
            worker.id,
            worker.host,
            str(worker.pid),
            str(worker.child_pid or ""),
            state,
            worker.job_id or "",
            worker.model or "",
            worker.heartbeat_at.astimezone().strftime("%H:%M:%S") if worker.heartbeat_at else "",
        )
    Console().print(table)
