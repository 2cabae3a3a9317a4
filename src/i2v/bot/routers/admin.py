"""/workers and /gpu: what the workers are doing, for admins only, from the store."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from i2v.bot.access import is_admin
from i2v.bot.status import format_duration
from i2v.config import Settings
from i2v.jobs import WorkerInfo
from i2v.store import JobStore


def _seen(worker: WorkerInfo) -> str:
    if worker.heartbeat_at is None:
        return "?"
    # Both sides are Unix times; skew between hosts shows as a small error, never a crash.
    age = datetime.now(timezone.utc).timestamp() - worker.heartbeat_at.timestamp()
    return _("{time} ago").format(time=format_duration(max(0.0, age)))


def worker_lines(workers: list[WorkerInfo], alive: list[bool]) -> list[str]:
    """One line per worker: id, host, state, job and last heartbeat."""
    lines = []
    for worker, is_alive in zip(workers, alive, strict=False):
        state = worker.state.value if is_alive else _("gone")
        job = _(", job {id}").format(id=worker.job_id) if worker.job_id else ""
        engine = worker.model or worker.engine or "-"
        lines.append(f"• {worker.id} @ {worker.host}: {state}{job} [{engine}], {_seen(worker)}")
    return lines


def gpu_line(gpu: Mapping[str, Any]) -> str:
    """A GPU reading in one line: name, use, VRAM, temperature and power where reported."""
    parts = [str(gpu.get("name", "GPU"))]
    if gpu.get("utilization_percent") is not None:
        parts.append(_("use {p:.0f}%").format(p=float(gpu["utilization_percent"])))
    used, total = gpu.get("memory_used_mb"), gpu.get("memory_total_mb")
    if used is not None and total:
        parts.append(
            _("VRAM {used:.1f}/{total:.1f} GB").format(used=used / 1024, total=total / 1024)
        )
    if gpu.get("temperature_c") is not None:
        parts.append(f"{float(gpu['temperature_c']):.0f}°C")
    if gpu.get("power_w") is not None:
        parts.append(f"{float(gpu['power_w']):.0f} W")
    return ", ".join(parts)


async def _workers(store: JobStore) -> tuple[list[WorkerInfo], list[bool]]:
    workers = await asyncio.to_thread(store.list_workers)
    return workers, [store.is_worker_alive(worker) for worker in workers]


async def on_workers(message: Message, store: JobStore, settings: Settings) -> None:
    """List workers and their states (admins only)."""
    if not is_admin(message.from_user, settings.telegram_admins):
        await message.answer(_("This command is for the bot's admins."))
        return
    workers, alive = await _workers(store)
    if not workers:
        await message.answer(_("No workers have registered. Start one with: i2v worker"))
        return
    await message.answer("\n".join([_("Workers:"), *worker_lines(workers, alive)]))


async def on_gpu(message: Message, store: JobStore, settings: Settings) -> None:
    """Show each live worker's latest GPU reading (admins only)."""
    if not is_admin(message.from_user, settings.telegram_admins):
        await message.answer(_("This command is for the bot's admins."))
        return
    workers, alive = await _workers(store)
    no_reading = _("no GPU reading")
    lines = [
        f"• {worker.id}: {gpu_line(worker.gpu) if worker.gpu else no_reading}"
        for worker, is_alive in zip(workers, alive, strict=False)
        if is_alive
    ]
    await message.answer("\n".join([_("GPUs:"), *lines]) if lines else _("No live workers."))


def build_router() -> Router:
    """A fresh router with this feature's handlers (a router can join only one dispatcher)."""
    router = Router(name="admin")
    router.message.register(on_workers, Command("workers"))
    router.message.register(on_gpu, Command("gpu"))
    return router
