"""Engine choice: auto falls back to Ken Burns plainly (memory plans: test_engine_plans.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from i2v.config import Settings
from i2v.engine.factory import build_engine, choose_engine
from i2v.engine.kenburns import KenBurnsEngine
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
