"""Settings as a user meets them: a settings file that cannot be read is one clear line."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from i2v.cli.app import main

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _no_permission(env: Path) -> None:
    env.write_text("I2V_LOG_LEVEL=INFO\n")
    env.chmod(0)


def _not_text(env: Path) -> None:
    env.write_bytes(b"I2V_LOG_LEVEL=\xff\xfe\n")


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(
            _no_permission,
            marks=pytest.mark.skipif(ROOT, reason="root reads a file whatever its mode"),
        ),
        _not_text,
    ],
)
def test_an_unreadable_env_file_is_one_line_and_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    spoil: Callable[[Path], None],
) -> None:
    monkeypatch.setenv("I2V_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    spoil(tmp_path / ".env")
    with pytest.raises(SystemExit) as exit_info:
        main(["jobs"])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2 and out == ""
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "cannot read the settings file" in err and ".env" in err
