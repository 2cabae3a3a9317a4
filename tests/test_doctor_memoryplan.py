"""i2v doctor reads free RAM and says whether the memory plan a worker will pick fits in it."""

from __future__ import annotations

from pathlib import Path

from fake_probe import CUDA_TORCH, FakeProbe
from i2v.config import Settings
from i2v.doctor import Finding, Status, TorchInfo, run_checks
from i2v.doctor.system import SystemProbe


def with_capability(capability: tuple[int, int]) -> TorchInfo:
    return TorchInfo("2.7.1+cu128", "12.8", True, ("RTX",), capabilities=(capability,))


def host_ram(settings: Settings, probe: FakeProbe) -> Finding:
    (found,) = [f for f in run_checks(settings, probe) if f.name == "host ram"]
    return found


def test_the_default_model_on_a_12_gb_laptop_with_16_gb_of_ram_fits_and_pins_nothing(
    tmp_path: Path,
) -> None:
    found = host_ram(Settings(data_dir=tmp_path), FakeProbe(free_ram=16.0))
    assert found.status is Status.PASS
    assert found.summary.startswith("GPU 0: memory plan ")
    assert "ltx-video at 720p x 6 s" in found.summary and "16.0 GB is free" in found.summary
    assert "pinned" not in found.summary


def test_group_offload_forced_on_16_gb_of_ram_warns_about_its_pinned_copies(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path, memory_plan="group_offload")
    short = host_ram(settings, FakeProbe(free_ram=16.0))
    plenty = host_ram(settings, FakeProbe(free_ram=64.0))
    assert short.status is Status.WARN
    assert "-group-" in short.summary and "pinned" in short.summary
    assert "page to disk" in short.summary
    assert "I2V_MEMORY_PLAN=auto" in short.fix
    assert plenty.status is Status.PASS and "pinned" in plenty.summary


def test_wan_with_too_little_ram_for_any_plan_says_so_and_how_to_free_some(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path, model="wan2.2-ti2v-5b")
    found = host_ram(settings, FakeProbe(free_ram=12.0))
    assert found.status is Status.WARN
    assert "close programs" in found.fix and "I2V_MEMORY_PLAN" not in found.fix


def test_a_card_without_bf16_compute_is_never_planned_with_fp8_weights(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, model="wan2.2-ti2v-5b")
    ada = FakeProbe(free_ram=16.0, torch_info=with_capability((8, 9)))
    turing = FakeProbe(free_ram=16.0, torch_info=with_capability((7, 5)))
    assert "memory plan fp8-" in host_ram(settings, ada).summary
    assert "memory plan fp8-" not in host_ram(settings, turing).summary


def test_ram_that_cannot_be_read_is_a_warning_not_a_guess(tmp_path: Path) -> None:
    found = host_ram(Settings(data_dir=tmp_path), FakeProbe(free_ram=None))
    assert found.status is Status.WARN and "cannot read" in found.summary


def test_without_a_gpu_or_with_kenburns_there_is_nothing_to_check(tmp_path: Path) -> None:
    kenburns = Settings(data_dir=tmp_path, engine="kenburns")
    assert host_ram(kenburns, FakeProbe(free_ram=1.0)).status is Status.PASS
    no_gpu = FakeProbe(free_ram=1.0, gpu_readings=[], torch_info=CUDA_TORCH)
    assert host_ram(Settings(data_dir=tmp_path), no_gpu).status is Status.PASS


def test_this_machine_reports_a_real_amount_of_free_ram() -> None:
    free = SystemProbe().free_ram_gb()
    assert free is not None and free > 0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total_kib = next(
            int(line.split()[1])
            for line in meminfo.read_text().splitlines()
            if line.startswith("MemTotal:")
        )
        assert free <= total_kib * 1024 / 1e9


def test_the_vram_and_ram_checks_name_the_same_plan_a_worker_would_load(tmp_path: Path) -> None:
    for model, ram in (("ltx-video", 16.0), ("wan2.2-ti2v-5b", 16.0), ("wan2.2-ti2v-5b", 64.0)):
        settings = Settings(data_dir=tmp_path, model=model)
        by_name = {f.name: f for f in run_checks(settings, FakeProbe(free_ram=ram))}
        vram_plan = by_name["vram"].summary.split("memory plan ")[1].split()[0]
        ram_plan = by_name["host ram"].summary.split("memory plan ")[1].split()[0]
        assert vram_plan == ram_plan, (model, ram)
