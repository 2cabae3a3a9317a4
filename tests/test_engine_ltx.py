"""LTX-Video on tiny random-weight models: the distilled line, frame rate, seeds, prompt cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from i2v.encoding import encode_mp4, probe_mp4
from i2v.engine.diffusers_engine import DiffusersEngine
from i2v.engine.presets import PRESETS
from i2v.jobs import JobSpec, Stage
from tiny_pipelines import LTX_DISTILLED, RecordingProgress, build_tiny_pipeline

pytest.importorskip("diffusers")

DATA = Path(__file__).parent / "data"
PHOTO = (DATA / "coffee.png").read_bytes()


@pytest.fixture(scope="module")
def distilled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_pipeline(LTX_DISTILLED, tmp_path_factory.mktemp("ltx") / "distilled")


@pytest.fixture(scope="module")
def classic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_pipeline("ltx", tmp_path_factory.mktemp("ltx") / "classic")


def spec(**changes: object) -> JobSpec:
    values: dict[str, object] = {
        "prompt": "a cup of coffee, steam rising",
        "width": 32,
        "height": 32,
        "duration_seconds": 1.0,
        "fps": 8,
        "seed": 7,
    }
    values.update(changes)
    return JobSpec(**values)  # type: ignore[arg-type]


def loaded(folder: Path, **options: Any) -> DiffusersEngine:
    engine = DiffusersEngine(str(folder), device="cpu", **options)
    engine.setup(RecordingProgress())
    return engine


def count_calls(module: Any) -> list[int]:
    calls: list[int] = []
    module.register_forward_hook(lambda *_: calls.append(1))
    return calls


@pytest.mark.slow
def test_a_distilled_ltx_folder_runs_its_8_timesteps_and_makes_a_valid_mp4(
    distilled: Path, tmp_path: Path
) -> None:
    engine = loaded(distilled)
    assert engine.preset.pipeline_class == "LTXConditionPipeline"
    calls = count_calls(engine._pipe.transformer)
    progress = RecordingProgress()
    frames = engine.generate(spec(), PHOTO, progress)
    # Guidance 1.0: one transformer pass per timestep, no negative branch.
    assert len(calls) == len(PRESETS["ltx-video"].timesteps or ()) == 8
    assert progress.steps[-1] == (8, 8)
    assert progress.stages == [Stage.PREPROCESSING, Stage.GENERATING, Stage.DECODING]
    assert frames.pixels.shape == (9, 32, 32, 3)
    encode_mp4(frames.pixels, frames.fps, tmp_path / "out.mp4")
    probe = probe_mp4(tmp_path / "out.mp4")
    assert (probe.codec, probe.width, probe.height, probe.frames) == ("h264", 32, 32, 9)


@pytest.mark.slow
def test_the_same_seed_gives_byte_identical_frames_with_a_timestep_conditioned_vae(
    distilled: Path,
) -> None:
    import torch

    engine = loaded(distilled)
    assert engine._pipe.vae.config.timestep_conditioning
    first = engine.generate(spec(steps=2), PHOTO, RecordingProgress()).pixels
    # Whatever else drew from the global RNG in between must not change the video.
    torch.manual_seed(12345)
    torch.randn(100)
    again = engine.generate(spec(steps=2), PHOTO, RecordingProgress()).pixels
    other = engine.generate(spec(steps=2, seed=8), PHOTO, RecordingProgress()).pixels
    assert first.tobytes() == again.tobytes()
    assert first.tobytes() != other.tobytes()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["classic", "distilled"])
def test_ltx_is_told_the_jobs_frame_rate(kind: str, request: pytest.FixtureRequest) -> None:
    engine = loaded(request.getfixturevalue(kind))
    seen: list[Any] = []

    def record(_module: Any, _args: Any, kwargs: dict[str, Any]) -> None:
        # LTXImageToVideoPipeline passes rope_interpolation_scale; LTXConditionPipeline
        # passes video_coords whose time axis is already divided by the frame rate.
        seen.append(kwargs.get("rope_interpolation_scale") or kwargs.get("video_coords"))

    engine._pipe.transformer.register_forward_pre_hook(record, with_kwargs=True)
    engine.generate(spec(steps=1, fps=8), PHOTO, RecordingProgress())
    engine.generate(spec(steps=1, fps=24), PHOTO, RecordingProgress())
    at_8, at_24 = seen[0], seen[-1]
    if kind == "classic":
        assert float(at_8[0]) == pytest.approx(3 * float(at_24[0]))
        assert float(at_24[0]) == pytest.approx(engine._pipe.vae_temporal_compression_ratio / 24)
    else:
        # The first latent frame after the photo sits one frame in: at 1 / frame_rate seconds.
        def first_step(coords: Any) -> float:
            times = coords[:, 0]
            return float(times[times > 0].min())

        assert first_step(at_8) == pytest.approx(1 / 8)
        assert first_step(at_24) == pytest.approx(1 / 24)


@pytest.mark.slow
def test_a_repeated_or_empty_prompt_costs_no_text_encoder_pass(distilled: Path) -> None:
    engine = loaded(distilled)
    calls = count_calls(engine._pipe.text_encoder)
    engine.generate(spec(steps=1, prompt=""), PHOTO, RecordingProgress())
    assert calls == [], "the empty prompt is encoded once when the model loads"
    engine.generate(spec(steps=1, prompt="a cat"), PHOTO, RecordingProgress())
    assert len(calls) == 1
    engine.generate(spec(steps=1, prompt="a cat"), PHOTO, RecordingProgress())
    engine.generate(spec(steps=1, prompt="a cat", seed=3), PHOTO, RecordingProgress())
    assert len(calls) == 1


@pytest.mark.slow
def test_the_fixed_negative_prompt_is_encoded_once_per_model_load(classic: Path) -> None:
    engine = loaded(classic)
    assert engine.prompts is not None and engine.prompts.uses_negative
    calls = count_calls(engine._pipe.text_encoder)
    engine.generate(spec(steps=1, prompt="a dog"), PHOTO, RecordingProgress())
    engine.generate(spec(steps=1, prompt="a dog"), PHOTO, RecordingProgress())
    assert len(calls) == 1, "only the new prompt; the negative was encoded at load"


@pytest.mark.slow
def test_long_clips_decode_framewise_under_a_framewise_plan(classic: Path) -> None:
    engine = loaded(classic, memory_plan="bf16-all-framewise")
    vae = engine._pipe.vae
    assert vae.use_tiling and vae.use_framewise_decoding
    assert engine.memory_plan == "bf16-all-framewise"
    frames = engine.generate(spec(steps=1), PHOTO, RecordingProgress())
    assert frames.pixels.shape == (9, 32, 32, 3)


@pytest.mark.slow
def test_fp8_storage_keeps_the_transformer_in_float8_and_still_makes_frames(
    classic: Path,
) -> None:
    import torch

    engine = loaded(classic, memory_plan="fp8-dit-tiled")
    weights = {p.dtype for p in engine._pipe.transformer.parameters()}
    assert torch.float8_e4m3fn in weights
    frames = engine.generate(spec(steps=1), PHOTO, RecordingProgress())
    assert frames.pixels.shape == (9, 32, 32, 3)


def decoded_frames(path: Path) -> list[bytes]:
    import av

    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24").tobytes() for frame in container.decode(video=0)]


@pytest.mark.slow
def test_i2v_generate_makes_a_valid_mp4_from_a_distilled_ltx_folder_and_repeats_it_exactly(
    distilled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    import json

    from i2v.cli.app import main

    monkeypatch.setenv("I2V_DATA_DIR", str(tmp_path / "data"))
    photo = DATA / "coffee.png"
    outputs = []
    for attempt in ("first", "again"):
        target = tmp_path / f"{attempt}.mp4"
        with pytest.raises(SystemExit) as exit_info:
            main(
                [
                    "generate", str(photo), "-o", str(target), "--json",
                    "--engine", "diffusers", "--model", str(distilled),
                    "--seed", "11", "--width", "32", "--height", "32",
                    "--duration", "1", "--fps", "8",
                ]
            )  # fmt: skip
        out, err = capsys.readouterr()
        assert exit_info.value.code in (0, None), err
        result = json.loads(out)
        assert result["status"] == "succeeded"
        assert result["metadata"]["model"] == str(distilled)
        assert result["metadata"]["steps"] == 8
        assert result["metadata"]["memory_plan"] == "none"
        probe = probe_mp4(target)
        assert (probe.codec, probe.width, probe.height, probe.frames) == ("h264", 32, 32, 9)
        outputs.append(decoded_frames(target))
    assert outputs[0] == outputs[1]
