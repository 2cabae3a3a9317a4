"""Diffusers engine: tiny random-weight pipelines load through from_pretrained and make real MP4s."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from i2v.encoding import encode_mp4, probe_mp4
from i2v.engine.diffusers_engine import DiffusersEngine
from i2v.errors import Canceled, EngineError, ErrorCode
from i2v.jobs import JobSpec, Resolution, Stage
from tiny_pipelines import FAMILIES, RecordingProgress, build_tiny_pipeline

pytest.importorskip("diffusers")

DATA = Path(__file__).parent / "data"

#: (width, height, frames) each tiny model renders; CogVideoX's learned embeddings fix its size.
EXPECTED = {"ltx": (32, 32, 9), "wan": (32, 32, 9), "cogvideox": (16, 16, 9), "svd": (32, 32, 25)}


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    return {family: build_tiny_pipeline(family, root / family) for family in FAMILIES}


@pytest.fixture(scope="session")
def photo() -> bytes:
    return (DATA / "coffee.png").read_bytes()


def tiny_spec(family: str, **changes: object) -> JobSpec:
    width, height, _ = EXPECTED[family]
    values: dict[str, object] = {
        "prompt": "a cup of coffee, steam rising",
        "width": width,
        "height": height,
        "duration_seconds": 1.0,
        "fps": 8,
        "steps": 2,
        "seed": 1,
    }
    values.update(changes)
    return JobSpec(**values)  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_tiny_pipeline_loads_from_its_folder_and_makes_a_valid_mp4(
    family: str, tiny_models: dict[str, Path], photo: bytes, tmp_path: Path
) -> None:
    engine = DiffusersEngine(str(tiny_models[family]), device="cpu")
    progress = RecordingProgress()
    engine.setup(progress)
    assert engine.preset.family == family
    assert progress.loads[-1] == 1.0

    spec = tiny_spec(family)
    plan = engine.plan(spec, (600, 400))
    frames = engine.generate(spec, photo, progress)

    width, height, count = EXPECTED[family]
    assert frames.pixels.shape == (count, height, width, 3)
    assert (plan.width, plan.height, plan.frames) == (width, height, count)
    assert progress.stages == [Stage.PREPROCESSING, Stage.GENERATING, Stage.DECODING]
    assert progress.steps == [(1, 2), (2, 2)]
    info = encode_mp4(frames.pixels, frames.fps, tmp_path / "out.mp4")
    probe = probe_mp4(tmp_path / "out.mp4")
    assert (probe.codec, probe.pix_fmt) == ("h264", "yuv420p")
    assert (probe.width, probe.height, probe.frames) == (width, height, count)
    assert abs(probe.duration_seconds - count / frames.fps) < 1 / frames.fps
    assert info.frames == count


@pytest.mark.slow
@pytest.mark.parametrize("family", ["ltx", "svd"])
def test_cancel_during_steps_stops_within_one_step_and_skips_decode(
    family: str, tiny_models: dict[str, Path], photo: bytes
) -> None:
    engine = DiffusersEngine(str(tiny_models[family]), device="cpu")
    engine.setup(RecordingProgress())
    progress = RecordingProgress(cancel_after=1)
    with pytest.raises(Canceled):
        engine.generate(tiny_spec(family, steps=4), photo, progress)
    assert progress.steps == [(1, 4)]
    assert Stage.DECODING not in progress.stages


@pytest.mark.slow
def test_same_seed_gives_the_same_frames(tiny_models: dict[str, Path], photo: bytes) -> None:
    engine = DiffusersEngine(str(tiny_models["ltx"]), device="cpu")
    engine.setup(RecordingProgress())
    first = engine.generate(tiny_spec("ltx"), photo, RecordingProgress()).pixels
    again = engine.generate(tiny_spec("ltx"), photo, RecordingProgress()).pixels
    assert (first == again).all()


def test_plan_snaps_frames_to_the_model_rule_and_upscales_past_its_native_size() -> None:
    # Planning needs no weights: presets alone say what a job will be.
    engine = DiffusersEngine("ltx-video")
    plan = engine.plan(JobSpec(duration_seconds=6.0), (4000, 3000))
    assert plan.frames == 145 and (plan.frames - 1) % 8 == 0
    assert (plan.width, plan.height, plan.fps) == (960, 704, 24)
    assert plan.upscaled_from is None
    big = engine.plan(JobSpec(duration_seconds=6.0, resolution=Resolution.P1080), (1080, 1920))
    assert (big.width, big.height) == (1080, 1920)
    assert big.upscaled_from == (704, 1280)

    wan = DiffusersEngine("wan2.2-ti2v-5b").plan(JobSpec(duration_seconds=3.0), (1920, 1080))
    assert (wan.frames - 1) % 4 == 0 and wan.frames == 73
    assert (wan.width, wan.height) == (1280, 704)
    capped = DiffusersEngine("wan2.2-ti2v-5b").plan(JobSpec(duration_seconds=10.0), (1920, 1080))
    assert capped.frames == 121


def test_missing_model_folder_is_a_clear_load_error(tmp_path: Path) -> None:
    with pytest.raises(EngineError) as caught:
        DiffusersEngine(str(tmp_path / "nowhere"))
    assert caught.value.code is ErrorCode.MODEL_LOAD_FAILED
    assert "does not exist" in caught.value.message
    assert "I2V_MODEL" in caught.value.message


def test_folder_without_model_index_says_how_to_download_one(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match=r"no model_index\.json") as caught:
        DiffusersEngine(str(tmp_path))
    assert "huggingface-cli download" in caught.value.message


def test_unsupported_pipeline_names_the_supported_ones(tmp_path: Path) -> None:
    (tmp_path / "model_index.json").write_text(
        json.dumps({"_class_name": "StableDiffusionPipeline"})
    )
    with pytest.raises(
        EngineError, match="StableDiffusionPipeline, which i2v cannot drive"
    ) as caught:
        DiffusersEngine(str(tmp_path))
    assert "LTXImageToVideoPipeline" in caught.value.message


def test_damaged_model_index_is_reported_as_damaged(tmp_path: Path) -> None:
    (tmp_path / "model_index.json").write_text("{not json")
    with pytest.raises(EngineError, match="damaged"):
        DiffusersEngine(str(tmp_path))


@pytest.mark.slow
def test_corrupt_weights_fail_at_setup_with_a_repair_command(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_models["ltx"], broken)
    for weights in (broken / "transformer").glob("*.safetensors"):
        weights.write_bytes(b"\x00" * 64)
    engine = DiffusersEngine(str(broken), device="cpu")
    with pytest.raises(EngineError) as caught:
        engine.setup(RecordingProgress())
    assert caught.value.code is ErrorCode.MODEL_LOAD_FAILED
    assert "huggingface-cli download" in caught.value.message


def test_repo_id_missing_offline_says_how_to_get_the_weights(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(EngineError) as caught:
        DiffusersEngine("someone/video-model-that-is-not-here")
    assert caught.value.code is ErrorCode.MODEL_LOAD_FAILED
    assert "huggingface-cli download someone/video-model-that-is-not-here" in caught.value.message
    assert "HF_HUB_OFFLINE" in caught.value.message
