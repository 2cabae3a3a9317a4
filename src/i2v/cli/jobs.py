"""Commands that change jobs or save their files: submit, cancel, result.

``i2v job`` and ``i2v jobs`` only read; they are in :mod:`i2v.cli.show`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from i2v.cli.context import JsonOption, get_context, print_json
from i2v.cli.options import (
    DurationOption,
    EngineOption,
    FpsOption,
    HeightOption,
    ModelOption,
    PromptOption,
    ResolutionOption,
    SeedOption,
    StepsOption,
    VideoOptions,
    WidthOption,
    build_spec,
    read_photo,
)
from i2v.cli.render import describe_unserved, describe_wait
from i2v.errors import InputError, MediaNotFound
from i2v.jobs import MAX_PRIORITY, JobStatus, Resolution
from i2v.store import THUMBNAIL, VIDEO


def submit(
    ctx: typer.Context,
    image: Path = typer.Argument(..., help="The photo to animate."),
    prompt: str = PromptOption,
    resolution: Resolution | None = ResolutionOption,
    duration: float | None = DurationOption,
    width: int | None = WidthOption,
    height: int | None = HeightOption,
    fps: int | None = FpsOption,
    steps: int | None = StepsOption,
    seed: int | None = SeedOption,
    engine: str | None = EngineOption,
    model: str | None = ModelOption,
    priority: int = typer.Option(
        0, "--priority", min=-MAX_PRIORITY, max=MAX_PRIORITY, help="Higher runs first."
    ),
    wait_for_worker: bool = typer.Option(
        False,
        "--wait-for-worker",
        help="Queue it even if no running worker makes this model; it waits until one starts.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Queue a photo for a worker and return at once."""
    cli = get_context(ctx)
    options = VideoOptions(
        prompt, resolution, duration, width, height, fps, steps, seed, engine, model
    )
    data, info = read_photo(image, cli.video)
    spec = build_spec(options, cli.video, image_name=image.name, priority=priority)
    names_a_worker = spec.model is not None or spec.engine not in (None, "auto")
    if (
        names_a_worker
        and not wait_for_worker
        and cli.store.serving_worker_count(spec.engine, spec.model) == 0
    ):
        # Otherwise the job would sit in the queue until it expires, saying "starts soon".
        raise InputError(
            f"{describe_unserved(spec.engine, spec.model)}; "
            "or add --wait-for-worker to queue it until one does"
        )
    job = cli.store.submit(spec, data, content_type=info.content_type)
    position = cli.store.queue_position(job.id)
    if as_json:
        print_json(
            {
                "id": job.id,
                "status": job.status.value,
                "queue_position": position.position,
                "serving_workers": position.serving_workers,
            }
        )
        return
    typer.echo(f"queued job {job.id}: {describe_wait(position, spec)}")


def cancel(
    ctx: typer.Context,
    job_id: str = typer.Argument(..., help="Job id."),
    as_json: bool = JsonOption,
) -> None:
    """Cancel a job: at once if queued, within one step if running."""
    found = get_context(ctx).store.request_cancel(job_id)
    if as_json:
        print_json(found.to_dict())
    elif found.status is JobStatus.CANCELED:
        typer.echo(f"job {job_id} canceled")
    elif found.status is JobStatus.RUNNING:
        typer.echo(f"job {job_id}: cancel requested; the worker stops it at its next step")
    else:
        typer.echo(f"job {job_id} already {found.status.value}; nothing to cancel")


def result(
    ctx: typer.Context,
    job_id: str = typer.Argument(..., help="Job id."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to save the file."),
    thumbnail: bool = typer.Option(False, "--thumbnail", help="Save the JPEG thumbnail instead."),
) -> None:
    """Save a finished job's video (or thumbnail) to a file."""
    store = get_context(ctx).store
    found = store.get(job_id)
    if found.status is not JobStatus.SUCCEEDED:
        raise InputError(f"job {job_id} is {found.status.value}; only a succeeded job has a video")
    try:
        info = store.save_media(job_id, THUMBNAIL if thumbnail else VIDEO, output)
    except MediaNotFound:
        raise InputError(
            f"job {job_id}'s files were purged (kept for I2V_KEEP_RESULTS_DAYS)"
        ) from None
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc.strerror}") from None
    typer.echo(f"saved {output} ({info.size} bytes)")


def register(app: typer.Typer) -> None:
    """Add the job commands to the app."""
    for command in (submit, cancel, result):
        app.command()(command)
