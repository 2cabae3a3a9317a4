"""``i2v gpu``: what ``nvidia-smi -l 1`` showed, plus which i2v worker and job use each GPU."""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from i2v.cli.context import JsonOption, get_context, print_json
from i2v.errors import I2VError
from i2v.gpu import SPILL_ADVICE, GpuReading, SpillDetector, nvml_status, read_gpus
from i2v.jobs import WorkerInfo
from i2v.store import JobStore

#: The marker the worker puts in a job's warnings when it saw VRAM spill.
SPILL_WORDS = "spilling"


def gpu_report(
    readings: Sequence[GpuReading], workers: Sequence[WorkerInfo], store: JobStore | None
) -> list[dict[str, Any]]:
    """Each GPU's reading with the live i2v workers that watch it and their jobs' spill notes."""
    report = []
    for reading in readings:
        users = [w for w in workers if w.gpu.get("index", 0) == reading.index]
        entry: dict[str, Any] = {**reading.to_dict(), "workers": [], "spill": None}
        for worker in users:
            entry["workers"].append(
                {
                    "id": worker.id,
                    "state": worker.state.value,
                    "job_id": worker.job_id,
                    "memory_plan": worker.memory_plan,
                }
            )
            if worker.job_id and store is not None:
                job = store.find(worker.job_id)
                notes = [n for n in (job.warnings if job else ()) if SPILL_WORDS in n]
                if notes:
                    entry["spill"] = notes[0]
        report.append(entry)
    return report


def _local_workers(store: JobStore | None) -> list[WorkerInfo]:
    if store is None:
        return []
    host = socket.gethostname()
    return [w for w in store.list_workers(alive_only=True) if w.host == host]


def gpu(
    ctx: typer.Context,
    watch: bool = typer.Option(False, "--watch", "-w", help="Refresh every second until Ctrl+C."),
    as_json: bool = JsonOption,
) -> None:
    """Show each GPU's use, VRAM, temperature, power and clocks, and the i2v worker on it."""
    status = nvml_status()
    if not status.available:
        if as_json:
            print_json({"available": False, "reason": status.reason, "gpus": []})
        else:
            typer.echo(f"no NVIDIA GPU found: {status.reason}; workers here use the CPU (kenburns)")
        return
    context = get_context(ctx)
    try:
        store: JobStore | None = context.store
    except I2VError:
        # The GPUs are worth showing even when the job database is down.
        store = None
    detectors: dict[int, SpillDetector] = {}
    while True:
        report = gpu_report(read_gpus(), _local_workers(store), store)
        for entry in report:
            # Live detection while watching: the same rule the worker applies during a job.
            detector = detectors.setdefault(entry["index"], SpillDetector())
            reading = GpuReading(
                **{k: v for k, v in entry.items() if k not in ("workers", "spill")}
            )
            if detector.observe(reading, time.monotonic()) and entry["spill"] is None:
                entry["spill"] = SPILL_ADVICE
        if as_json:
            print_json({"available": True, "driver_version": status.driver_version, "gpus": report})
        else:
            _print(report, status.driver_version, clear=watch)
        if not watch:
            return
        time.sleep(1.0)


def _print(report: list[dict[str, Any]], driver: str | None, *, clear: bool) -> None:
    console = Console(highlight=False)
    if clear:
        console.clear()
    table = Table(
        "gpu",
        "name",
        "use",
        "vram",
        "temp",
        "power",
        "clocks sm/mem",
        "i2v worker / job",
        title=f"NVIDIA driver {driver}",
    )
    for entry in report:
        workers = (
            ", ".join(
                f"{w['id']} {w['state']}"
                + (f" {w['job_id']}" if w["job_id"] else "")
                + (f" [{w['memory_plan']}]" if w["memory_plan"] else "")
                for w in entry["workers"]
            )
            or "-"
        )
        table.add_row(
            str(entry["index"]),
            entry["name"],
            _unit(entry["utilization_percent"], "%"),
            f"{entry['memory_used_mb'] / 1024:.1f} / {entry['memory_total_mb'] / 1024:.1f} GB",
            _unit(entry["temperature_c"], " C"),
            _unit(entry["power_w"], " W")
            + (f" / {entry['power_limit_w']:.0f} W" if entry["power_limit_w"] else ""),
            f"{_unit(entry['sm_clock_mhz'], '')}/{_unit(entry['memory_clock_mhz'], '')} MHz",
            workers,
        )
    console.print(table)
    for entry in report:
        if entry["spill"]:
            console.print(f"[bold yellow]GPU {entry['index']}: {entry['spill']}[/]")


def _unit(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{value:.0f}{unit}"


def register(app: typer.Typer) -> None:
    """Add ``gpu`` to the app."""
    app.command()(gpu)
