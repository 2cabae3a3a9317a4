"""The doctor's GPU and PyTorch checks, fed fake readings through the Probe interface."""

from __future__ import annotations

from pathlib import Path

from fake_probe import GTX_1650, FakeProbe
from i2v.config import Settings
from i2v.doctor import Finding, Status, TorchInfo, run_checks
from i2v.doctor.report import has_failures
from i2v.engine.presets import PRESETS
from i2v.gpu import GpuReading


def finding(settings: Settings, probe: FakeProbe, name: str) -> Finding:
    (found,) = [f for f in run_checks(settings, probe) if f.name == name]
    return found


def test_a_windows_driver_from_536_40_on_warns_about_the_sysmem_fallback_policy(
    settings: Settings,
) -> None:
    driver = finding(settings, FakeProbe(os_name="Windows", driver="552.22"), "nvidia driver")
    assert driver.status is Status.WARN
    assert "shared" in driver.summary
    assert "Prefer No Sysmem Fallback" in driver.fix
    assert "python.exe" in driver.fix


def test_the_sysmem_warning_starts_exactly_at_driver_536_40(settings: Settings) -> None:
    at = finding(settings, FakeProbe(os_name="Windows", driver="536.40"), "nvidia driver")
    before = finding(settings, FakeProbe(os_name="Windows", driver="536.25"), "nvidia driver")
    assert "Prefer No Sysmem Fallback" in at.fix
    assert "536.40 or newer" in before.fix


def test_the_same_driver_on_linux_passes_because_linux_has_no_sysmem_fallback(
    settings: Settings,
) -> None:
    assert finding(settings, FakeProbe(driver="570.133.07"), "nvidia driver").status is Status.PASS


def test_a_driver_too_old_for_pytorchs_cuda_fails(settings: Settings) -> None:
    driver = finding(settings, FakeProbe(driver="470.199.02"), "nvidia driver")
    assert driver.status is Status.FAIL
    assert "525.60" in driver.fix


def test_ltx_at_720p_fits_a_12_gb_laptop_gpu_with_an_offload_plan(settings: Settings) -> None:
    vram = finding(settings, FakeProbe(), "vram")
    assert vram.status is Status.PASS
    assert "RTX 4080 Laptop" in vram.summary
    assert "ltx-video at 720p x 6 s" in vram.summary
    assert "memory plan none" not in vram.summary


def test_too_little_vram_for_the_chosen_plan_fails_with_a_fix(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, model="wan2.2-ti2v-5b", memory_plan="none")
    vram = finding(settings, FakeProbe(gpu_readings=[GTX_1650]), "vram")
    assert vram.status is Status.FAIL
    assert "I2V_MEMORY_PLAN=none" in vram.summary
    assert "I2V_MEMORY_PLAN=auto" in vram.fix


def test_a_card_that_only_fits_sequential_offload_warns_that_it_is_slow(tmp_path: Path) -> None:
    rtx_3070 = GpuReading(0, "NVIDIA GeForce RTX 3070", 500.0, 8192.0)
    settings = Settings(data_dir=tmp_path, model="wan2.2-ti2v-5b", gpu_memory_fraction=0.85)
    vram = finding(settings, FakeProbe(gpu_readings=[rtx_3070]), "vram")
    assert vram.status is Status.WARN
    assert "-sequential-" in vram.summary and "slow" in vram.summary
    assert "480p" in vram.fix


def test_a_card_too_small_for_any_plan_fails(tmp_path: Path) -> None:
    tiny = GpuReading(0, "NVIDIA GeForce GT 710", 100.0, 1024.0)
    settings = Settings(data_dir=tmp_path, model="svd-xt")
    assert finding(settings, FakeProbe(gpu_readings=[tiny]), "vram").status is Status.FAIL


def test_the_smallest_of_several_gpus_decides_the_vram_verdict(tmp_path: Path) -> None:
    big = GpuReading(0, "NVIDIA H100", 0.0, 81559.0)
    small = GpuReading(1, "NVIDIA GeForce GTX 1650", 0.0, 4096.0)
    settings = Settings(data_dir=tmp_path, memory_plan="none")
    vram = finding(settings, FakeProbe(gpu_readings=[big, small]), "vram")
    assert vram.status is Status.FAIL
    assert "GPU 1" in vram.summary


def test_a_gpu_memory_cap_shrinks_what_counts_as_usable(tmp_path: Path) -> None:
    uncapped = Settings(data_dir=tmp_path, memory_plan="group_offload", gpu_memory_fraction=0)
    capped = Settings(data_dir=tmp_path, memory_plan="group_offload", gpu_memory_fraction=0.3)
    assert finding(uncapped, FakeProbe(), "vram").status is Status.PASS
    assert finding(capped, FakeProbe(), "vram").status is Status.FAIL


def test_a_cpu_build_of_pytorch_on_a_machine_with_an_nvidia_gpu_is_flagged(
    settings: Settings,
) -> None:
    cpu_torch = TorchInfo("2.7.1+cpu", cuda=None)
    torch = finding(settings, FakeProbe(torch_info=cpu_torch), "torch")
    assert torch.status is Status.WARN
    assert "download.pytorch.org/whl/cu" in torch.fix
    forced = Settings(data_dir=settings.data_dir, engine="diffusers")
    assert finding(forced, FakeProbe(torch_info=cpu_torch), "torch").status is Status.FAIL


def test_a_machine_without_a_gpu_or_torch_still_passes_with_kenburns(settings: Settings) -> None:
    probe = FakeProbe(driver=None, gpu_readings=[], torch_info=None)
    findings = run_checks(settings, probe)
    assert not has_failures(findings)
    by_name = {f.name: f for f in findings}
    assert by_name["nvidia driver"].status is Status.WARN
    assert "kenburns" in by_name["nvidia driver"].summary
    assert by_name["weights"].status is Status.PASS


def test_missing_weights_warn_that_the_first_job_downloads_them(settings: Settings) -> None:
    weights = finding(settings, FakeProbe(), "weights")
    assert weights.status is Status.WARN
    assert f"{PRESETS['ltx-video'].repo_id} is not downloaded yet" in weights.summary
    assert "I2V_MODEL_LOAD_TIMEOUT_SECONDS" in weights.fix


def test_cached_weights_with_every_component_pass(settings: Settings, tmp_path: Path) -> None:
    # The 50-step preset is one diffusers folder in the Lightricks/LTX-Video repo.
    settings = settings.model_copy(update={"model": "ltx-video-quality"})
    snapshot = tmp_path / "hub" / "models--Lightricks--LTX-Video" / "snapshots" / "abc123"
    for component in ("vae", "transformer"):
        (snapshot / component).mkdir(parents=True)
    (snapshot / "model_index.json").write_text(
        '{"_class_name": "LTXImageToVideoPipeline", "vae": ["diffusers", "AutoencoderKLLTXVideo"],'
        ' "transformer": ["diffusers", "LTXVideoTransformer3DModel"], "safety": [null, null]}'
    )
    probe = FakeProbe(cache=tmp_path / "hub")
    assert finding(settings, probe, "weights").status is Status.PASS
    (snapshot / "vae").rmdir()
    incomplete = finding(settings, probe, "weights")
    assert incomplete.status is Status.WARN
    assert "incomplete" in incomplete.summary


def test_a_local_model_folder_is_recognised_by_its_pipeline_class(tmp_path: Path) -> None:
    folder = tmp_path / "my-finetune"
    (folder / "unet").mkdir(parents=True)
    (folder / "model_index.json").write_text(
        '{"_class_name": "StableVideoDiffusionPipeline", "unet": ["diffusers", "UNet"]}'
    )
    settings = Settings(data_dir=tmp_path / "data", model=str(folder))
    assert finding(settings, FakeProbe(), "weights").status is Status.PASS
    assert "svd-xt" in finding(settings, FakeProbe(), "vram").summary


def test_too_little_disk_for_weights_that_must_still_be_downloaded_fails(
    settings: Settings,
) -> None:
    disk = finding(settings, FakeProbe(free_gb=12.0), "disk")
    assert disk.status is Status.FAIL
    assert "HF_HOME" in disk.fix


def test_the_distilled_default_needs_its_one_file_checkpoint_and_not_the_repos_transformer(
    settings: Settings, tmp_path: Path
) -> None:
    preset = PRESETS["ltx-video"]
    assert preset.single_file is not None
    hub = tmp_path / "hub"
    # What loading the distilled model leaves in the cache: the base repo's text encoder,
    # tokenizer and scheduler (its transformer and VAE come from the checkpoint file).
    base = hub / f"models--{preset.repo_id.replace('/', '--')}" / "snapshots" / "abc123"
    for component in ("text_encoder", "tokenizer", "scheduler"):
        (base / component).mkdir(parents=True)
    (base / "model_index.json").write_text(
        '{"_class_name": "LTXConditionPipeline", "vae": ["diffusers", "AutoencoderKLLTXVideo"],'
        ' "transformer": ["diffusers", "LTXVideoTransformer3DModel"],'
        ' "text_encoder": ["transformers", "T5EncoderModel"],'
        ' "tokenizer": ["transformers", "T5Tokenizer"],'
        ' "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"]}'
    )
    probe = FakeProbe(cache=hub)
    without_checkpoint = finding(settings, probe, "weights")
    assert without_checkpoint.status is Status.WARN
    assert "incomplete" in without_checkpoint.summary
    owner, repo, _blob, _revision, filename = preset.single_file.split("/", 3)[3].split("/", 4)
    checkpoint = hub / f"models--{owner}--{repo}" / "snapshots" / "def456" / filename
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"weights")
    assert finding(settings, probe, "weights").status is Status.PASS
