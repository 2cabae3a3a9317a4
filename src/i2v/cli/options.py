"""Options shared by `submit` and `generate`, and turning them into a checked JobSpec."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from i2v.config import VideoConfig
from i2v.errors import InputError
from i2v.jobs import JobSpec, Resolution

if TYPE_CHECKING:
    # Pillow is imported only by commands that read a photo, not by `i2v jobs`.
    from i2v.intake import PhotoInfo


@dataclass(frozen=True)
class VideoOptions:
    """What the user asked for on the command line."""

    prompt: str = ""
    resolution: Resolution | None = None
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    fps: int | None = None
    steps: int | None = None
    seed: int | None = None
    engine: str | None = None
    model: str | None = None


PromptOption = typer.Option("", "--prompt", "-p", help="What should happen in the video.")
ResolutionOption = typer.Option(
    None, "--resolution", "-r", help="480p, 720p or 1080p (short side)."
)
DurationOption = typer.Option(None, "--duration", "-d", help="Length in seconds (1-10).")
WidthOption = typer.Option(None, "--width", help="Exact width in pixels (with --height).")
HeightOption = typer.Option(None, "--height", help="Exact height in pixels (with --width).")
FpsOption = typer.Option(None, "--fps", help="Frames per second.")
StepsOption = typer.Option(None, "--steps", help="Denoising steps.")
SeedOption = typer.Option(None, "--seed", help="Random seed, for a repeatable video.")
EngineOption = typer.Option(None, "--engine", help="auto, kenburns or diffusers.")
ModelOption = typer.Option(
    None, "--model", help="Model preset, Hugging Face repo id or local folder."
)


def read_photo(path: Path, video: VideoConfig) -> tuple[bytes, PhotoInfo]:
    """Read and check a photo file; raise InputError with a clear reason if unusable."""
    from i2v.intake import check_photo

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder, not a photo") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return data, check_photo(data, video)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


def build_spec(
    options: VideoOptions, video: VideoConfig, *, image_name: str, priority: int = 0
) -> JobSpec:
    """Turn command-line options into a complete, checked JobSpec."""
    if options.engine is not None and options.engine not in ("auto", "kenburns", "diffusers"):
        raise InputError(f"unknown engine {options.engine!r}; choose auto, kenburns or diffusers")
    spec = JobSpec(
        prompt=options.prompt,
        resolution=options.resolution,
        width=options.width,
        height=options.height,
        duration_seconds=options.duration,
        fps=options.fps,
        steps=options.steps,
        seed=options.seed,
        engine=options.engine,
        model=options.model,
        source="cli",
        image_name=image_name,
        priority=priority,
    )
    return video.complete(spec)
