"""``i2v generate``: one photo in, one video out, waiting for it with a progress bar.

The job goes through the store like every job. When no worker is alive, one runs
in this process for the job (the same supervisor and child process as
``i2v worker``) and stops once the job is over.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

from i2v.cli.context import CliContext, JsonOption, get_context, print_json
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
from i2v.cli.render import STAGE_WORDS, failure_line, format_estimate
from i2v.errors import InputError
from i2v.jobs import Job, JobStatus, Resolution
from i2v.store import VIDEO, JobStore
from i2v.worker import Worker, WorkerOptions

#: How often the job is read back while waiting.
POLL_SECONDS = 0.2


def generate(
    ctx: typer.Context,
    image: Path = typer.Argument(..., help="The photo to animate."),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Where to save the MP4 (default: next to you, named after the photo).",
    ),
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
    as_json: bool = JsonOption,
) -> None:
    """Make a video from a photo and wait for it (runs a worker here if none is running)."""
    cli = get_context(ctx)
    options = VideoOptions(
        prompt, resolution, duration, width, height, fps, steps, seed, engine, model
    )
    data, info = read_photo(image, cli.video)
    spec = build_spec(options, cli.video, image_name=image.name)
    target = output or _default_output(image)
    if target.is_dir():
        raise InputError(f"{target} is a folder; give a file name for the video")
    _check_writable(target)
    store = cli.store
    job = store.submit(spec, data, content_type=info.content_type)
    with _worker_if_none_alive(cli, job):
        try:
            job = _wait(store, job.id, show_bar=not as_json and sys.stderr.isatty())
        except KeyboardInterrupt:
            # Stop the job rather than leave it to run unwatched; it lands within one step.
            store.request_cancel(job.id)
            deadline = time.monotonic() + cli.settings.cancel_grace_seconds
            while not store.get(job.id).status.is_terminal and time.monotonic() < deadline:
                time.sleep(POLL_SECONDS)
            raise
    saved = _save(store, job, target)
    _report(job, saved, as_json)
    if job.status is not JobStatus.SUCCEEDED:
        raise typer.Exit(1)


def _default_output(image: Path) -> Path:
    target = Path(f"{image.stem}.mp4")
    index = 2
    while target.exists():
        target = Path(f"{image.stem}-{index}.mp4")
        index += 1
    return target


def _check_writable(target: Path) -> None:
    """Fail before the video is made if it could not be saved at ``target``.

    The video is saved the way this checks: a new file in the target's folder (made if
    missing), renamed into place. Only trying tells, since permissions, read-only disks
    and network shares each have their own rules.
    """
    folder = target.absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", dir=folder)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(
            f"cannot save the video to {target}: {folder} is not writable ({reason}); "
            "choose another place with -o"
        ) from None
    os.close(fd)
    Path(probe).unlink(missing_ok=True)


@contextlib.contextmanager
def _worker_if_none_alive(cli: CliContext, job: Job) -> Iterator[None]:
    """Run a worker for this job on a thread of this process while waiting, unless one is alive.

    It serves this job only, with the engine and model the job asks for: other people's
    queued jobs wait for a real worker.
    """
    if cli.store.live_worker_count() > 0:
        yield
        return
    if cli.settings.log_level != "DEBUG":
        # The worker's progress lines would tear the progress bar; its warnings still show.
        logging.getLogger("i2v.worker").setLevel(logging.WARNING)
    asked = {"engine": job.spec.engine, "model": job.spec.model}
    settings = cli.settings.model_copy(update={k: v for k, v in asked.items() if v is not None})
    worker = Worker(cli.store, settings, WorkerOptions(burst=True, job_id=job.id))
    thread = threading.Thread(target=worker.run, name="i2v-worker", daemon=True)
    thread.start()
    try:
        yield
    finally:
        # Our job is over (or abandoned): hand anything else it took straight back.
        worker.stop(immediately=True)
        thread.join()


def _wait(store: JobStore, job_id: str, *, show_bar: bool) -> Job:
    """Read the job back until it ends, drawing a progress bar on a terminal."""
    if not show_bar:
        while not (job := store.get(job_id)).status.is_terminal:
            time.sleep(POLL_SECONDS)
        return job
    columns = (
        TextColumn("{task.description:<14}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[eta]}"),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("queued", total=1.0, eta="")
        while not (job := store.get(job_id)).status.is_terminal:
            bar.update(
                task, completed=job.progress, description=_stage_words(job), eta=_eta_words(job)
            )
            time.sleep(POLL_SECONDS)
    return job


def _stage_words(job: Job) -> str:
    if job.status is JobStatus.QUEUED:
        return "queued"
    return STAGE_WORDS.get(job.stage.value, job.stage.value) if job.stage else "starting"


def _eta_words(job: Job) -> str:
    return "" if job.eta_seconds is None else f"about {format_estimate(job.eta_seconds)} left"


def _save(store: JobStore, job: Job, target: Path) -> Path | None:
    if job.status is not JobStatus.SUCCEEDED:
        return None
    try:
        store.save_media(job.id, VIDEO, target)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(
            f"the video is made but could not be saved to {target} ({reason}); it is kept "
            f"as job {job.id}: save it with `i2v result {job.id} -o FILE.mp4`"
        ) from None
    return target


def _report(job: Job, saved: Path | None, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "id": job.id,
                "status": job.status.value,
                "output": None if saved is None else str(saved),
                "metadata": dict(job.result),
                "warnings": list(job.warnings),
                "error": None
                if job.error_code is None
                # The CLI's user is the local admin: the detail (exception, traceback) too.
                else {
                    "code": job.error_code.value,
                    "message": failure_line(job),
                    "detail": job.error_detail,
                },
            }
        )
    elif saved is not None:
        typer.echo(str(saved))
    for warning in job.warnings:
        sys.stderr.write(f"note: {warning}\n")
    if job.status is JobStatus.FAILED:
        code = job.error_code.value if job.error_code else "failed"
        sys.stderr.write(f"i2v: job {job.id} failed ({code}): {failure_line(job)}\n")
        if job.error_detail:
            sys.stderr.write(f"i2v: the details are in: i2v job {job.id}\n")
    elif job.status is JobStatus.CANCELED:
        sys.stderr.write(f"i2v: job {job.id} was canceled\n")


def register(app: typer.Typer) -> None:
    """Add the generate command to the app."""
    app.command()(generate)
