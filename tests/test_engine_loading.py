"""Loading pipelines: precision per part, SVD's fp16 files, single-file checkpoints, no warnings."""

from __future__ import annotations

import dataclasses
import logging
import warnings
from pathlib import Path

import pytest

from i2v.engine import loading
from i2v.engine.loading import ModelSource
from i2v.engine.presets import PRESETS
from tiny_pipelines import LTX_DISTILLED, build_tiny_pipeline, tiny_ltx_transformer

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")


def folder_source(name: str, folder: Path, **changes: object) -> ModelSource:
    preset = dataclasses.replace(PRESETS[name], repo_id=str(folder), **changes)  # type: ignore[arg-type]
    return ModelSource(preset, str(folder), local=True)


@pytest.mark.slow
def test_wans_vae_loads_in_float32_while_the_transformer_stays_bf16(tmp_path: Path) -> None:
    folder = build_tiny_pipeline("wan", tmp_path / "wan")
    pipe = loading.load_pipeline(folder_source("wan2.2-ti2v-5b", folder), torch.bfloat16)
    assert pipe.vae.dtype == torch.float32
    assert pipe.transformer.dtype == torch.bfloat16


@pytest.mark.slow
def test_svd_loads_its_fp16_variant_files(tmp_path: Path) -> None:
    # A folder holding only fp16 files loads only if variant="fp16" is asked for.
    folder = build_tiny_pipeline("svd", tmp_path / "svd", variant="fp16")
    assert list((folder / "unet").glob("*.fp16.safetensors"))
    pipe = loading.load_pipeline(folder_source("svd-xt", folder), torch.float16)
    assert pipe.unet.dtype == torch.float16


@pytest.mark.slow
def test_loading_says_nothing_about_a_deprecated_torch_dtype(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = build_tiny_pipeline("ltx", tmp_path / "ltx")
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        loading.load_pipeline(folder_source("ltx-video-quality", folder), torch.float32)
    said = [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]
    assert not [line for line in said if "torch_dtype" in line], said


#: diffusers key -> the original LTX-Video checkpoint's name (inverse of diffusers' conversion).
ORIGINAL_NAMES = {
    "proj_in": "patchify_proj",
    "time_embed": "adaln_single",
    "norm_q": "q_norm",
    "norm_k": "k_norm",
}


@pytest.mark.slow
def test_a_single_file_checkpoint_loads_through_from_single_file(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    base = build_tiny_pipeline(LTX_DISTILLED, tmp_path / "base")
    torch.manual_seed(3)
    distilled = tiny_ltx_transformer()
    original = {}
    for key, value in distilled.state_dict().items():
        name = key
        for new, old in ORIGINAL_NAMES.items():
            name = name.replace(new, old)
        original[f"model.diffusion_model.{name}"] = value.contiguous()
    checkpoint = tmp_path / "ltxv-tiny-distilled.safetensors"
    save_file(original, str(checkpoint))

    source = folder_source("ltx-video", base, single_file=str(checkpoint))
    pipe = loading.load_pipeline(source, torch.bfloat16)
    assert pipe.transformer.dtype == torch.bfloat16
    for key, value in distilled.state_dict().items():
        assert torch.equal(pipe.transformer.state_dict()[key], value.to(torch.bfloat16)), key
    assert type(pipe).__name__ == "LTXConditionPipeline"


def test_the_default_ltx_preset_is_the_2b_distilled_single_file_on_ltx_condition_pipeline() -> None:
    preset = PRESETS["ltx-video"]
    assert preset.pipeline_class == "LTXConditionPipeline"
    assert preset.single_file is not None and "ltxv-2b-0.9.8-distilled" in preset.single_file
    assert preset.guidance == 1.0 and len(preset.timesteps or ()) == 8
    quality = PRESETS["ltx-video-quality"]
    assert (quality.steps, quality.pipeline_class) == (50, "LTXImageToVideoPipeline")


def test_ltx_video_is_the_distilled_model_up_to_16_gb_and_the_50_step_one_above() -> None:
    source = loading.resolve_model("ltx-video")
    assert loading.for_card(source, "ltx-video", 12.0).preset.steps == 8
    assert loading.for_card(source, "ltx-video", 16.0).preset.steps == 8
    big = loading.for_card(source, "ltx-video", 24.0)
    assert big.preset.steps == 50 and big.preset.name == "ltx-video"
    pinned = loading.resolve_model("ltx-video-distilled")
    assert loading.for_card(pinned, "ltx-video-distilled", 80.0).preset.steps == 8
