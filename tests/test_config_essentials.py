"""The essentials `i2v jobs` reads without pydantic agree with Settings, or step aside."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from i2v.config import load_settings, settingkinds, settingkinds_build
from i2v.config.essentials import Essentials, read_essentials
from i2v.config.settings import Settings
from i2v.errors import ConfigError

#: Values people write (and mistakes they make), for settings of every kind.
VALUES: dict[str, list[str]] = {
    "I2V_DATA_DIR": ["{tmp}/data", "relative/data", "", "~/i2v"],
    "I2V_DATABASE_URL": [
        "",
        "  ",
        "sqlite:///{tmp}/other.db",
        "  sqlite:///spaced.db ",
        "postgresql://i2v:secret@db-host/i2v",
        "postgresql+psycopg://i2v@db-host/i2v",
        "mysql://root@localhost/i2v",
        "sqlite://",
    ],
    "I2V_LOG_LEVEL": ["DEBUG", "WARNING", "debug", "loud", ""],
    "i2v_log_level": ["ERROR", "quiet"],
    "I2V_FPS": ["24", "0", "61", "abc", "", "24.0", " 24", "007"],
    "I2V_KEEP_RESULTS_DAYS": ["7", "0", "1.5", "-1", "1e3", "inf"],
    "I2V_SEED": ["0", "-1", "123456789012345678901"],
    "I2V_MODEL": ["ltx-video", "", "Lightricks/LTX-Video"],
    "I2V_TELEGRAM_TOKEN": ["123:abc", ""],
    "I2V_TELEGRAM_ALLOWED_USERS": ["1,2", "x", ""],
    "I2V_WORKER_LEASE_SECONDS": ["30", "5", "x"],
    "I2V_WORKER_HEARTBEAT_SECONDS": ["10", "40"],
    "I2V_RESOLUTION": ["720p", "720P", "4k"],
    "I2V_ENGINE": ["kenburns", "Kenburns"],
    "I2V_MEMORY_PLAN": ["auto", "most"],
    "I2V_API_PORT": ["8000", "70000"],
    "I2V_SOMETHING_ELSE": ["whatever"],
    "OTHER": ["x"],
}
#: Ways a line of .env can say ``KEY=value``.
LINE_FORMS = ["{k}={v}", "export {k}={v}", '{k}="{v}"', "{k}='{v}'", "{k} = {v}  # note"]


def _compare(fast: Essentials | None) -> tuple[Settings | None, bool]:
    try:
        full = load_settings()
    except ConfigError:
        full = None
    if fast is not None:
        assert full is not None, "the quick reader answered where Settings refuses"
        assert fast.data_dir == full.data_dir
        assert fast.database_url == full.database_url
        assert fast.database_url_resolved == full.database_url_resolved
        assert fast.log_level == full.log_level
        assert fast.worker_lease_seconds == full.worker_lease_seconds
    return full, fast is not None


def test_the_quick_reader_agrees_with_settings_over_many_environments_and_env_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chooser = random.Random(13)
    answered = accepted = 0
    for case in range(400):
        with monkeypatch.context() as patch:
            folder = tmp_path / f"case{case}"
            folder.mkdir()
            patch.chdir(folder)
            lines = []
            for key in chooser.sample(sorted(VALUES), chooser.randint(0, 5)):
                value = chooser.choice(VALUES[key]).replace("{tmp}", str(tmp_path))
                where = chooser.choice(["env", "file", "both"])
                if where in ("env", "both"):
                    patch.setenv(key, value)
                if where in ("file", "both"):
                    other = chooser.choice(VALUES[key]).replace("{tmp}", str(tmp_path))
                    line = chooser.choice(LINE_FORMS).format(k=key, v=other)
                    lines.append(line)
            if chooser.random() < 0.2:
                lines.append("I2V_FPS")  # a name without a value: unset, for pydantic-settings
            if lines or chooser.random() < 0.5:
                (folder / ".env").write_text("# settings\n" + "\n".join(lines) + "\n")
            full, quick = _compare(read_essentials())
        accepted += full is not None
        answered += quick
    # The reader must answer most workable configurations, or it would never be quick.
    assert accepted > 100 and answered > accepted * 0.6, (answered, accepted)


@pytest.mark.parametrize(
    "env_file",
    [
        "I2V_TELEGRAM_TOKEN=123:abc\nI2V_MODEL=ltx-video\nI2V_API_PORT=8080\n",
        "export I2V_LOG_LEVEL=DEBUG\nI2V_DATABASE_URL='sqlite:///{tmp}/jobs.db'\n",
        "I2V_RESOLUTION=480p\nI2V_KEEP_RESULTS_DAYS=2.5\nSOMETHING_ELSE=1\n",
    ],
)
def test_a_usual_env_file_is_read_quickly_with_the_values_settings_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env_file: str
) -> None:
    monkeypatch.setenv("I2V_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / ".env").write_text(env_file.replace("{tmp}", str(tmp_path)))
    full, quick = _compare(read_essentials())
    assert full is not None and quick


def test_the_environment_wins_over_the_env_file_and_names_are_case_insensitive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(f"I2V_DATA_DIR={tmp_path / 'from-file'}\nI2V_LOG_LEVEL=ERROR\n")
    monkeypatch.setenv("i2v_data_dir", str(tmp_path / "from-env"))
    essentials = read_essentials()
    assert essentials is not None
    assert (essentials.data_dir, essentials.log_level) == (tmp_path / "from-env", "ERROR")
    _compare(essentials)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("I2V_FPS", "abc"),  # Settings refuses it: the command must say so
        ("I2V_TELEGRAM_ADMINS", "1,2"),  # a list: only Settings reads it
        ("I2V_WORKER_LEASE_SECONDS", "30"),  # checked against the heartbeat by Settings
        ("I2V_DATABASE_URL", "mysql://root@localhost/i2v"),
    ],
)
def test_a_setting_it_cannot_check_sends_the_command_to_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv("I2V_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv(name, value)
    assert read_essentials() is None


def test_overrides_and_an_env_folder_send_the_command_to_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("I2V_DATA_DIR", str(tmp_path / "data"))
    assert read_essentials() is not None
    assert read_essentials(model="other") is None
    (tmp_path / ".env").mkdir()
    assert read_essentials() is None


def test_the_setting_kinds_are_the_ones_settings_generates() -> None:
    wanted = settingkinds_build.render()
    assert settingkinds_build.MODULE.read_text(encoding="utf-8") == wanted, (
        "run: python scripts/update_fast_reads.py"
    )
    assert set(settingkinds.KINDS) == set(Settings.model_fields)
