"""Commands that only read jobs: ``i2v job ID`` and ``i2v jobs``, quick to start.

On the default SQLite store they read through :mod:`i2v.store.sqlitereads` (the standard
library's sqlite3 running the store's own statements) with the few settings
:mod:`i2v.config.essentials` reads, so they start without SQLAlchemy or pydantic. Where
either is unsure (a setting only Settings can check, no database file yet, another
schema version, a read that fails) they take the full path: Settings and the JobStore,
with the same output, errors and exit codes. On PostgreSQL they always take the full
path: its driver alone takes longer to import than the SQLite path takes to run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from i2v.cli.coercion import QuickCommand
from i2v.cli.context import JsonOption, get_context, print_json
from i2v.cli.render import describe_job, job_table
from i2v.errors import MediaNotFound
from i2v.jobs import Job, JobStatus, QueuePosition
from i2v.store.rows import VIDEO

if TYPE_CHECKING:
    from i2v.store.sqlitereads import JobReader


def _job_data(reader: JobReader, job_id: str) -> tuple[Job, QueuePosition, dict[str, Any]]:
    """Everything `i2v job` shows, read before anything is printed."""
    found, position = reader.get_with_position(job_id)
    # The CLI runs on the machine with the database: its user is the local admin.
    data = found.to_dict(admin=True)
    data["queue_position"] = position.position
    data["serving_workers"] = position.serving_workers if position.position else None
    try:
        info = reader.media_info(job_id, VIDEO)
        data["output"] = {
            "content_type": info.content_type,
            "bytes": info.size,
            "sha256": info.sha256,
        }
    except MediaNotFound:
        data["output"] = None
    return found, position, data


def job(
    ctx: typer.Context,
    job_id: str = typer.Argument(..., help="Job id."),
    as_json: bool = JsonOption,
) -> None:
    """Show one job: status, stage, progress, ETA, error and output."""
    found, position, data = get_context(ctx).read(lambda reader: _job_data(reader, job_id))
    if as_json:
        print_json(data)
        return
    typer.echo(describe_job(found, position, admin=True))
    if data["output"]:
        typer.echo(
            f"video: {data['output']['bytes']} bytes; save it with: i2v result {job_id} -o video.mp4"
        )


def jobs(
    ctx: typer.Context,
    status: JobStatus | None = typer.Option(
        None, "--status", "-s", help="Only jobs with this status."
    ),
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=1000, help="How many to show."),
    as_json: bool = JsonOption,
) -> None:
    """List recent jobs, newest first."""
    statuses = [status] if status else None
    found = get_context(ctx).read(lambda reader: reader.list_jobs(statuses=statuses, limit=limit))
    if as_json:
        print_json([j.to_dict() for j in found])
        return
    if not found:
        typer.echo("no jobs")
        return
    job_table(found)


def register(app: typer.Typer) -> None:
    """Add the read-only job commands to the app."""
    for command in (job, jobs):
        app.command(cls=QuickCommand)(command)
