"""The doctor's checks of the database, Telegram, data folder and encoder, and `i2v doctor` itself."""

from __future__ import annotations

import importlib.metadata
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

from fake_probe import FakeProbe
from i2v.cli.app import main
from i2v.config import Settings
from i2v.doctor import Status, SystemProbe, TelegramAnswer
from i2v.doctor.services import check_database, check_encoder, check_telegram
from i2v.doctor.storage import check_data_dir
from i2v.store import migrations, open_store_url

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"


def test_a_fresh_install_has_no_database_yet_and_that_is_fine(settings: Settings) -> None:
    found = check_database(settings)
    assert found.status is Status.PASS
    assert "created on first use" in found.summary
    assert not (settings.data_dir / "i2v.db").exists()


def test_a_migrated_database_passes(store_url: str, tmp_path: Path) -> None:
    open_store_url(store_url).close()
    found = check_database(Settings(data_dir=tmp_path, database_url=store_url))
    assert found.status is Status.PASS
    assert f"version {migrations.HEAD}" in found.summary


def test_a_database_behind_the_code_asks_for_an_upgrade(sqlite_url: str, tmp_path: Path) -> None:
    engine = sa.create_engine(sqlite_url)
    migrations.upgrade(engine, target=1)
    engine.dispose()
    found = check_database(Settings(data_dir=tmp_path, database_url=sqlite_url))
    assert found.status is Status.WARN
    assert "i2v db upgrade" in found.fix


def test_an_unreachable_postgresql_fails_without_showing_the_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://i2v:hunter2@127.0.0.1:1/i2v"
    found = check_database(Settings(data_dir=tmp_path, database_url=url))
    assert found.status is Status.FAIL
    assert "hunter2" not in found.summary
    assert "I2V_DATABASE_URL" in found.fix


def test_a_data_folder_that_is_really_a_file_fails(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    found = check_data_dir(Settings(data_dir=blocker))
    assert found.status is Status.FAIL
    assert "I2V_DATA_DIR" in found.fix


def test_the_bundled_pyav_has_the_h264_encoder() -> None:
    assert check_encoder().status is Status.PASS


def test_no_token_means_the_bot_is_off_and_telegram_is_not_called(settings: Settings) -> None:
    probe = FakeProbe()
    assert check_telegram(settings, probe).status is Status.PASS
    assert probe.get_me_calls == []


def test_a_malformed_token_fails_without_calling_telegram(tmp_path: Path) -> None:
    probe = FakeProbe()
    found = check_telegram(Settings(data_dir=tmp_path, telegram_token="12345:short"), probe)
    assert found.status is Status.FAIL
    assert "12345:short" not in found.summary + found.fix
    assert probe.get_me_calls == []


def test_a_revoked_token_fails_and_an_unreachable_api_only_warns(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, telegram_token=TOKEN)
    revoked = FakeProbe(telegram=TelegramAnswer(True, False, description="Unauthorized"))
    offline = FakeProbe(telegram=TelegramAnswer(False, description="timed out"))
    assert check_telegram(settings, revoked).status is Status.FAIL
    assert check_telegram(settings, offline).status is Status.WARN
    good = check_telegram(settings, FakeProbe())
    assert good.status is Status.PASS
    assert "@i2v_bot" in good.summary


class _BotApi(BaseHTTPRequestHandler):
    """Answers getMe like Telegram: ok for TOKEN, 401 for anything else."""

    def do_GET(self) -> None:
        if self.path == f"/bot{TOKEN}/getMe":
            status, body = 200, {"ok": True, "result": {"id": 1, "username": "local_bot"}}
        else:
            status, body = 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def bot_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BotApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_real_probe_calls_getme_on_the_configured_bot_api_server(bot_api: str) -> None:
    probe = SystemProbe()
    good = probe.telegram_get_me(bot_api, TOKEN)
    assert (good.reachable, good.ok, good.username) == (True, True, "local_bot")
    other = "987654321:" + "x" * 35
    refused = probe.telegram_get_me(bot_api, other)
    assert (refused.reachable, refused.ok) == (True, False)
    assert refused.description == "Unauthorized"
    closed = probe.telegram_get_me("http://127.0.0.1:1", TOKEN)
    assert not closed.reachable
    assert TOKEN not in closed.description


def test_the_real_probe_reports_the_installed_pytorch_without_importing_it_here() -> None:
    expected = importlib.metadata.version("torch")
    info = SystemProbe().torch()
    assert info is not None
    assert info.version.split("+")[0] == expected.split("+")[0]


def test_doctor_json_on_a_machine_without_a_gpu_answers_and_exits_0(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("I2V_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(SystemProbe, "torch", lambda self: None)
    with pytest.raises(SystemExit) as exited:
        main(["doctor", "--json"])
    report = json.loads(capsys.readouterr().out)
    names = [check["name"] for check in report["checks"]]
    assert names[:3] == ["python", "nvidia driver", "torch"]
    assert {"vram", "disk", "weights", "database", "telegram", "h264 encoder"} <= set(names)
    statuses = {check["status"] for check in report["checks"]}
    assert report["ok"] is ("FAIL" not in statuses)
    assert exited.value.code == (0 if report["ok"] else 1)


def test_doctor_exits_1_when_a_check_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("I2V_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("I2V_TELEGRAM_TOKEN", "not-a-token")
    monkeypatch.setattr(SystemProbe, "torch", lambda self: None)
    with pytest.raises(SystemExit) as exited:
        main(["doctor"])
    assert exited.value.code == 1
    out = capsys.readouterr().out
    assert "FAIL" in out
    assert "not-a-token" not in out
