"""Run every doctor check in order and hand back the findings."""

from __future__ import annotations

from i2v.config import Settings
from i2v.doctor.findings import Finding, Probe, Status
from i2v.doctor.hardware import check_driver, check_python, check_torch
from i2v.doctor.memoryplan import check_host_ram, check_vram
from i2v.doctor.models import find_weights
from i2v.doctor.services import check_database, check_encoder, check_telegram
from i2v.doctor.storage import check_data_dir, check_disk, check_weights


def run_checks(settings: Settings, probe: Probe) -> list[Finding]:
    """Every check, in the order a person would fix things."""
    nvml = probe.nvml()
    gpus = probe.gpus() if nvml.available else []
    torch = probe.torch()
    weights = find_weights(settings.model, probe.hf_cache_dir())
    free_ram = probe.free_ram_gb()
    capabilities = torch.capabilities if torch else ()
    return [
        check_python(probe),
        check_driver(probe.system(), nvml, torch),
        check_torch(settings, torch, nvml),
        check_vram(settings, gpus, weights, free_ram, capabilities),
        check_host_ram(settings, gpus, weights, free_ram, capabilities),
        check_data_dir(settings),
        check_disk(settings, probe, weights, bool(gpus)),
        check_weights(settings, weights, bool(gpus)),
        check_database(settings),
        check_telegram(settings, probe),
        check_encoder(),
    ]


def has_failures(findings: list[Finding]) -> bool:
    """True when any check failed."""
    return any(f.status is Status.FAIL for f in findings)
