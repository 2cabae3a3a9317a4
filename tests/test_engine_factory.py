"""Engine choice and memory plans: auto falls back to Ken Burns plainly; plans fit free VRAM."""

from __future__ import annotations

from pathlib import Path

import pytest

from i2v.config import Settings
from i2v.engine.factory import build_engine, choose_engine
from i2v.engine.kenburns import KenBurnsEngine
from i2v.engine.memory import PLANS, choose_plan
from i2v.engine.presets import PRESETS
from i2v.errors import ConfigError


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path, **values)  # type: ignore[arg-type]


def test_auto_picks_kenburns_without_a_gpu_and_says_why_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    name, reason = choose_engine(settings(tmp_path, engine="auto"))
    assert name == "kenburns"
    assert "GPU" in reason and reason.startswith("Using the Ken Burns engine")
    with caplog.at_level("INFO", logger="i2v.engine.factory"):
        assert isinstance(build_engine(settings(tmp_path, engine="auto")), KenBurnsEngine)
    assert [r.getMessage() for r in caplog.records] == [reason]


def test_explicit_engine_is_built_as_asked(tmp_path: Path) -> None:
    assert isinstance(build_engine(settings(tmp_path, engine="kenburns")), KenBurnsEngine)
    engine = build_engine(settings(tmp_path, engine="diffusers", model="wan2.2-ti2v-5b"))
    assert (engine.name, engine.model) == ("diffusers", "wan2.2-ti2v-5b")
    with pytest.raises(ConfigError):
        build_engine(settings(tmp_path), engine="magic")


@pytest.mark.parametrize(
    ("free_gb", "expected"),
    [(80.0, "none"), (16.0, "model_offload"), (12.0, "group_offload"), (4.0, "sequential_offload")],
)
def test_ltx_at_720p_picks_the_fastest_plan_that_fits(free_gb: float, expected: str) -> None:
    assert choose_plan(PRESETS["ltx-video"], free_gb, (1280, 704), 145) == expected


def test_memory_plan_override_wins_and_unknown_plans_are_refused() -> None:
    preset = PRESETS["ltx-video"]
    assert choose_plan(preset, 80.0, (1280, 704), 145, override="sequential_offload") == (
        "sequential_offload"
    )
    with pytest.raises(ValueError, match="unknown memory plan"):
        choose_plan(preset, 80.0, (1280, 704), 145, override="magic")
    assert PLANS[0] == "none"


def test_every_preset_fits_12_gb_at_720p_under_some_plan() -> None:
    for preset in PRESETS.values():
        rendered, _ = preset.size_for((16, 9), 720)
        frames = preset.frames_for(6.0, preset.fps)
        plan = choose_plan(preset, 12.0, rendered, frames)
        assert preset.vram_needed_gb(plan, *rendered, frames) <= 12.0, preset.name
