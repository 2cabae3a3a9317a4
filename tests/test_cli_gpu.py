"""`i2v gpu`: readings per GPU, the i2v worker and job on each, and the spill warning."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from i2v.cli import gpu as gpu_command
from i2v.cli.app import main
from i2v.gpu import SPILL_ADVICE, GpuReading, NvmlStatus, nvml_status
from i2v.jobs import JobSpec, Stage, WorkerInfo, WorkerState
from i2v.store import open_store_url

BUSY_GPU = GpuReading(
    1,
    "NVIDIA GeForce RTX 4080 Laptop GPU",
    11900.0,
    12282.0,
    9.0,
    71.0,
    38.0,
    150.0,
    1200.0,
    8001.0,
)


def run_gpu_json(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    with pytest.raises(SystemExit) as exited:
        main(["gpu", "--json"])
    code = exited.value.code
    return (0 if code is None else int(code)), json.loads(capsys.readouterr().out)


def test_gpu_json_matches_what_nvml_says_about_this_machine(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("I2V_DATA_DIR", str(tmp_path))
    code, report = run_gpu_json(capsys)
    assert code == 0
    assert report["available"] is nvml_status().available


def test_without_an_nvidia_driver_gpu_says_so_and_exits_0(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = NvmlStatus(False, reason="no usable NVIDIA driver (NVML Shared Library Not Found)")
    monkeypatch.setattr(gpu_command, "nvml_status", lambda: missing)
    code, report = run_gpu_json(capsys)
    assert code == 0
    assert report == {"available": False, "gpus": [], "reason": missing.reason}
    with pytest.raises(SystemExit) as exited:
        main(["gpu"])
    assert exited.value.code in (0, None)
    assert "no NVIDIA GPU found" in capsys.readouterr().out


def test_the_report_names_the_worker_and_job_on_each_gpu_and_the_jobs_spill_warning(
    sqlite_url: str, photo_bytes: bytes
) -> None:
    store = open_store_url(sqlite_url)
    job = store.submit(JobSpec(width=64, height=48, duration_seconds=1), photo_bytes)
    worker = WorkerInfo(
        "host-1", socket.gethostname(), 4242, WorkerState.BUSY, gpu=BUSY_GPU.to_dict()
    )
    store.register_worker(worker)
    lease = store.claim(worker.id)
    assert lease is not None
    store.update_worker(
        worker.id, state=WorkerState.BUSY, job_id=job.id, memory_plan="fp8-dit-framewise"
    )
    store.report_progress(
        job.id, lease.token, stage=Stage.GENERATING, progress=0.3, warnings=[SPILL_ADVICE]
    )
    idle_gpu = GpuReading(0, "NVIDIA GeForce RTX 3060", 500.0, 12288.0, 0.0)

    report = gpu_command.gpu_report([idle_gpu, BUSY_GPU], store.list_workers(), store)

    assert [entry["index"] for entry in report] == [0, 1]
    assert report[0]["workers"] == [] and report[0]["spill"] is None
    assert report[1]["workers"] == [
        {"id": "host-1", "state": "busy", "job_id": job.id, "memory_plan": "fp8-dit-framewise"}
    ]
    assert report[1]["spill"] == SPILL_ADVICE
    assert report[1]["utilization_percent"] == 9.0
    assert report[1]["memory_total_mb"] == 12282.0
    store.close()
