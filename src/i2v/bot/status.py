"""What the status message says about a job, in the current locale.

Every function here is pure: given a job (and its queue position) it returns
text, so the notifier can compare the new text with the last one it sent and
skip edits that would change nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _

from i2v import messages
from i2v.jobs import Job, JobStatus, QueuePosition, Stage
from i2v.messages import formats

BAR_CELLS = 10
#: "Well past its ETA": this many times the expected run time, and at least this much more.
SLOW_FACTOR = 1.5
SLOW_MARGIN_SECONDS = 30.0
#: A queue wait shorter than this is said as "starts now".
START_NOW_SECONDS = 5.0


def current_language() -> str:
    """The language of the update (or job) being handled; English outside any."""
    try:
        return str(get_i18n().current_locale)
    except LookupError:
        return "en"


def format_duration(seconds: float) -> str:
    """A measured duration in the current language: "45 s", "3 мин 12 с", "2 min"."""
    return formats.duration(seconds, current_language())


def format_estimate(seconds: float) -> str:
    """An estimate in the current language, rounded as a person says it: "45 s", "3 мин"."""
    return formats.about(seconds, current_language())


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
    return "❌ " + failure_reason(job)


def failure_reason(job: Job) -> str:
    """Why a job failed, in the user's language, with its code and id; never an exception's text."""
    return messages.job_failure_of(job, current_language())


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
            ready = format_estimate(position.wait_seconds + (job.eta_seconds or 0.0))
            if position.wait_seconds < START_NOW_SECONDS:
                lines.append(_("Starts now, ready in about {ready}.").format(ready=ready))
            else:
                lines.append(
                    _("Starts in about {wait}, ready in about {ready}.").format(
                        wait=format_estimate(position.wait_seconds), ready=ready
                    )
                )
    if job.cancel_requested:
        lines.append(_("Canceling…"))
    return "\n".join(lines)


def _running_text(job: Job, expected_seconds: Any) -> str:
    lines = [f"🎬 {stage_label(job.stage)}", progress_bar(job.progress)]
    if job.eta_seconds is not None:
        lines.append(_("About {eta} left.").format(eta=format_estimate(job.eta_seconds)))
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
        seconds = round(float(result["duration_seconds"]), 1)
        lang = current_language()
        number = formats.number(seconds, lang, 0 if seconds.is_integer() else 1)
        parts.append(f"{number} {formats.units(lang)['s']}")
    if job.elapsed_seconds is not None:
        parts.append(_("made in {time}").format(time=format_duration(job.elapsed_seconds)))
    caption = " · ".join(parts)
    if job.spec.prompt:
        caption += "\n" + job.spec.prompt[:200]
    return caption
