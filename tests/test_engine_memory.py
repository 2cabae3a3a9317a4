"""Placing pipelines by plan: real VAE support, the diffusers floor, frames leaving the GPU."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import tomllib

from i2v.engine import families, memory
from i2v.engine.plans import FRAMEWISE_FRAMES, TILE_PIXELS
from i2v.engine.presets import PRESET_BY_FAMILY, PRESETS
from i2v.engine.prompts import PromptCache

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")

ROOT = Path(__file__).parent.parent


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_the_diffusers_floor_covers_every_api_the_engine_calls() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    [requirement] = [r for r in extras["optional-dependencies"]["diffusion"] if "diffusers" in r]
    floor = version(requirement.split(">=")[1])
    newest = max(memory.API_SINCE.values(), key=version)
    assert floor >= version(newest), f"diffusers>={newest} is needed for {memory.API_SINCE}"
    assert version(diffusers.__version__) >= floor


def test_svds_temporal_decoder_is_left_untiled_instead_of_crashing() -> None:
    vae = diffusers.AutoencoderKLTemporalDecoder(
        block_out_channels=[32, 64],
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        latent_channels=4,
    )
    # Since diffusers 0.36 it has enable_tiling, which raises NotImplementedError.
    assert hasattr(vae, "enable_tiling")
    memory.set_vae_mode(vae, "tiled")
    assert not getattr(vae, "use_tiling", False)


def test_vaes_that_can_tile_are_tiled_and_ltx_decodes_framewise_when_asked() -> None:
    from tiny_pipelines import tiny_ltx_vae

    vae = tiny_ltx_vae(timestep_conditioning=True)
    memory.set_vae_mode(vae, "tiled")
    assert vae.use_tiling and not vae.use_framewise_decoding
    # Tiles as large as the plan estimates assume, no larger.
    assert (vae.tile_sample_min_height, vae.tile_sample_min_width) == (TILE_PIXELS, TILE_PIXELS)
    assert vae.tile_sample_min_num_frames == FRAMEWISE_FRAMES
    memory.set_vae_mode(vae, "framewise")
    assert vae.use_framewise_decoding


class RecordingVideo:
    """A decoded clip that records which frames were moved off it, and in what dtype."""

    def __init__(self, video: object) -> None:
        self.video = video
        self.shape = video.shape  # type: ignore[attr-defined]
        self.moves: list[tuple[int, object]] = []

    def __getitem__(self, index: object) -> object:
        part = self.video[index]  # type: ignore[index]
        recorder = self

        class Part:
            def to(self, device: str) -> object:
                recorder.moves.append((int(part.shape[1]), part.dtype))
                return part.to(device)

        return Part()


def test_frames_reach_the_cpu_in_chunks_in_the_vaes_dtype_and_convert_exactly() -> None:
    generator = torch.Generator().manual_seed(0)
    video = (torch.rand(1, 3, 37, 8, 8, generator=generator) * 2.2 - 1.1).to(torch.bfloat16)
    recorder = RecordingVideo(video)
    pixels = families.to_uint8_frames(recorder, chunk=16)
    assert [count for count, _ in recorder.moves] == [16, 16, 5]
    assert {dtype for _, dtype in recorder.moves} == {torch.bfloat16}
    # The same numbers diffusers' own postprocessing gives: (x / 2 + 0.5) clamped, x 255.
    expected = ((video.float() / 2 + 0.5).clamp(0, 1) * 255 + 0.5).to(torch.uint8)
    assert np.array_equal(pixels, expected[0].permute(1, 2, 3, 0).numpy())


def test_each_family_gets_its_own_negative_prompt() -> None:
    negatives = {family: preset.negative_prompt for family, preset in PRESET_BY_FAMILY.items()}
    assert negatives["svd"] == ""
    assert negatives["wan"] != negatives["ltx"] != negatives["cogvideox"]
    assert "worst quality" in PRESETS["ltx-video"].negative_prompt
    assert "walking backwards" in PRESETS["wan2.2-ti2v-5b"].negative_prompt


class RecordingPipe:
    """The part of a pipeline the prompt cache uses: it records what it was asked to encode."""

    _execution_device = "cpu"

    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, max_sequence_length: int = 226) -> None:
        raise AssertionError("the cache never runs the pipeline")

    def encode_prompt(self, prompt: str, **_options: object) -> tuple[str, None]:
        self.texts.append(prompt)
        return f"embeds of {prompt!r}", None


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("wan2.2-ti2v-5b", ["", PRESETS["wan2.2-ti2v-5b"].negative_prompt]),
        ("ltx-video-quality", ["", PRESETS["ltx-video-quality"].negative_prompt]),
        # Guidance-distilled: no negative branch, so no negative prompt to encode.
        ("ltx-video", [""]),
    ],
)
def test_the_model_load_encodes_the_empty_prompt_and_that_models_own_negative(
    name: str, encoded: list[str]
) -> None:
    pipe = RecordingPipe()
    cache = PromptCache(PRESETS[name], pipe)
    cache.warm()
    assert pipe.texts == encoded
    arguments = cache.arguments("")
    assert pipe.texts == encoded
    if len(encoded) > 1:
        assert arguments["negative_prompt_embeds"] == f"embeds of {encoded[1]!r}"


def test_the_prompt_cache_is_bounded_and_keeps_the_recently_used() -> None:
    pipe = RecordingPipe()
    cache = PromptCache(PRESETS["ltx-video"], pipe, size=2)
    for text in ("a", "b", "a", "c", "a", "b"):
        cache.embed(text)
    assert pipe.texts == ["a", "b", "c", "b"]
