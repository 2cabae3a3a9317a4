"""What the status message says about a job, in the current locale.

Every function here is pure: given a job (and its queue position) it returns
text, so the notifier can compare the new text with the last one it sent and
skip edits that would change nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from aiogram.utils.i18n import gettext as _

from i2v.jobs import Job, JobStatus, QueuePosition, Stage

BAR_CELLS = 10
#: "Well past its ETA": this many times the expected run time, and at least this much more.
SLOW_FACTOR = 1.5
SLOW_MARGIN_SECONDS = 30.0


def format_duration(seconds: float) -> str:
    """Say a duration the short way: "45 s", "3 m 12 s", "1 h 5 m"."""
    total = max(0, math.ceil(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return _("{h} h {m} m").format(h=hours, m=minutes)
    if minutes:
        return _("{m} m {s} s").format(m=minutes, s=secs)
    return _("{s} s").format(s=secs)


def progress_bar(fraction: float) -> str:
    """A ten-cell bar with the percent after it."""
    fraction = min(1.0, max(0.0, fraction))
    filled = int(fraction * BAR_CELLS + 1e-9)
    return "▓" * filled + "░" * (BAR_CELLS - filled) + f" {int(fraction * 100)}%"


def stage_label(stage: Stage | None) -> str:
    """The stage in words."""
    labels = {
        Stage.LOADING_MODEL: _("Loading the model"),
        Stage.PREPROCESSING: _("Preparing the photo"),
        Stage.GENERATING: _("Generating"),
        Stage.DECODING: _("Decoding frames"),
        Stage.ENCODING: _("Encoding the video"),
    }
    return labels.get(stage, _("Starting")) if stage is not None else _("Starting")


def is_running_late(job: Job, expected_seconds: float | None) -> bool:
    """True when a running job is well past the time it was expected to take."""
    elapsed = job.elapsed_seconds
    if job.status is not JobStatus.RUNNING or elapsed is None or not expected_seconds:
        return False
    return elapsed > max(expected_seconds * SLOW_FACTOR, expected_seconds + SLOW_MARGIN_SECONDS)


def status_text(job: Job, position: QueuePosition | None = None) -> str:
    """The whole status message for a job in its current state."""
    notify: Mapping[str, Any] = job.notify or {}
    if job.status is JobStatus.QUEUED:
        return _queued_text(job, position)
    if job.status is JobStatus.RUNNING:
        return _running_text(job, notify.get("expected_seconds"))
    if job.status is JobStatus.SUCCEEDED:
        took = job.elapsed_seconds
        return _("✅ Done in {time}.").format(time=format_duration(took or 0.0))
    if job.status is JobStatus.CANCELED:
        return _("🚫 Canceled.")
    return _("❌ Failed: {reason}").format(reason=failure_reason(job))


def failure_reason(job: Job) -> str:
    """Why a job failed, in the user's language where i2v knows the reason."""
    code = job.error_code.value if job.error_code else None
    known = {
        "out_of_memory": _("the GPU ran out of memory; try a lower resolution or a shorter video"),
        "expired": _("no worker started it in time"),
        "worker_lost": _("the worker running it stopped responding"),
        "stalled": _("it stopped making progress"),
        "timeout": _("it took far longer than it should"),
    }
    if code in known:
        return known[code]
    return job.error_message or _("an unknown error")


def _queued_text(job: Job, position: QueuePosition | None) -> str:
    lines = [_("⏳ In the queue.")]
    if position is not None and position.position > 0:
        lines = [_("⏳ In the queue: number {n}.").format(n=position.position)]
        if position.live_workers == 0:
            lines.append(_("No worker is running right now; the job will start when one is."))
        elif position.is_unserved:
            lines.append(
                _(
                    "No worker for the model {model} is running right now, so the job waits "
                    "until one starts. You can cancel it, or choose another model in /settings."
                ).format(model=job.spec.model or job.spec.engine or "?")
            )
        else:
            lines.append(
                _("Starts in about {wait}, ready in about {ready}.").format(
                    wait=format_duration(position.wait_seconds),
                    ready=format_duration(position.wait_seconds + (job.eta_seconds or 0.0)),
                )
            )
    if job.cancel_requested:
        lines.append(_("Canceling…"))
    return "\n".join(lines)


def _running_text(job: Job, expected_seconds: Any) -> str:
    lines = [f"🎬 {stage_label(job.stage)}", progress_bar(job.progress)]
    if job.eta_seconds is not None:
        lines.append(_("About {eta} left.").format(eta=format_duration(job.eta_seconds)))
    expected = float(expected_seconds) if isinstance(expected_seconds, (int, float)) else None
    if is_running_late(job, expected):
        lines.append(_("This is taking longer than expected. It is still working."))
    if job.cancel_requested:
        lines.append(_("Canceling…"))
    return "\n".join(lines)


def video_caption(job: Job) -> str:
    """The short caption under a delivered video: size, length and time taken."""
    result = job.result
    parts = []
    if result.get("width") and result.get("height"):
        parts.append(f"{result['width']}×{result['height']}")
    if result.get("duration_seconds"):
        parts.append(_("{s:g} s").format(s=round(float(result["duration_seconds"]), 1)))
    if job.elapsed_seconds is not None:
        parts.append(_("made in {time}").format(time=format_duration(job.elapsed_seconds)))
    caption = " · ".join(parts)
    if job.spec.prompt:
        caption += "\n" + job.spec.prompt[:200]
    return caption
