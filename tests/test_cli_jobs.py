"""The job commands, run as a user runs them: exit codes, one-line errors, stable JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import fake_engines
from conftest import DATA
from i2v.cli.app import main
from i2v.errors import ErrorCode
from i2v.jobs import JobStatus
from i2v.store import open_store, open_store_url
from worker_harness import FAST, fast_settings, wait_for, worker_thread


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run `i2v ARGS` in this process; return (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("I2V_DATA_DIR", str(data))
    return data


def test_submit_prints_id_status_and_queue_position_as_json(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "submit", str(DATA / "coffee.png"), "--prompt", "steam", "--json")
    assert code == 0
    first = json.loads(out)
    assert set(first) == {"id", "status", "queue_position", "serving_workers"}
    assert (first["status"], first["queue_position"]) == ("queued", 1)
    code, out, _ = run(capsys, "submit", str(DATA / "rocket.jpg"), "--json")
    assert json.loads(out)["queue_position"] == 2


@pytest.mark.parametrize("priority", ["99999999999999999999", "1001", "-1001"])
def test_submit_refuses_a_priority_out_of_range_in_one_line(
    env: Path, capsys: pytest.CaptureFixture[str], priority: str
) -> None:
    code, out, err = run(capsys, "submit", str(DATA / "coffee.png"), "--priority", priority)
    assert code == 2 and out == ""
    said = " ".join(err.split())
    assert "--priority" in said and "1000" in said
    assert "Traceback" not in err
    assert (
        not (env / "i2v.db").exists()
        or open_store_url(f"sqlite:///{env / 'i2v.db'}").count_jobs() == 0
    )


def test_job_shows_status_stage_progress_eta_and_output(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run(capsys, "submit", str(DATA / "coffee.png"), "-r", "480p", "-d", "3", "--json")
    job_id = json.loads(out)["id"]
    code, out, _ = run(capsys, "job", job_id, "--json")
    shown = json.loads(out)
    assert code == 0
    for key in ("id", "status", "stage", "progress", "eta_seconds", "attempts", "error", "output"):
        assert key in shown
    assert shown["spec"]["resolution"] == "480p"
    assert shown["spec"]["duration_seconds"] == 3.0
    assert isinstance(shown["spec"]["seed"], int)
    assert shown["output"] is None


def test_a_failed_job_shows_its_plain_sentence_and_to_the_local_admin_the_exception(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run(capsys, "submit", str(DATA / "coffee.png"), "--json")
    job_id = json.loads(out)["id"]
    store = open_store_url(f"sqlite:///{(env / 'i2v.db').as_posix()}")
    lease = store.claim("w")
    assert lease is not None
    store.fail(
        job_id,
        lease.token,
        ErrorCode.INTERNAL,
        "Something went wrong while making this video; it was reported.",
        detail="ValueError: box offset can't be negative\nTraceback (most recent call last): ...",
    )
    store.close()
    code, out, _ = run(capsys, "job", job_id)
    assert code == 0
    assert (
        "  error (internal): Something went wrong while making this video; it was reported.\n"
        "  detail (for admins):\n"
        "    ValueError: box offset can't be negative\n"
        "    Traceback (most recent call last): ..."
    ) in out
    _, out, _ = run(capsys, "job", job_id, "--json")
    assert json.loads(out)["error"]["detail"].startswith("ValueError: box offset")


def test_cancel_then_jobs_lists_the_job_as_canceled(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run(capsys, "submit", str(DATA / "coffee.png"), "--json")
    job_id = json.loads(out)["id"]
    code, out, _ = run(capsys, "cancel", job_id)
    assert code == 0 and "canceled" in out
    _, out, _ = run(capsys, "jobs", "--status", "canceled", "--json")
    assert [j["id"] for j in json.loads(out)] == [job_id]


def test_result_saves_the_video_of_a_finished_job(
    env: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, out, _ = run(capsys, "submit", str(DATA / "coffee.png"), "--json")
    job_id = json.loads(out)["id"]
    code, _, err = run(capsys, "result", job_id, "-o", str(tmp_path / "early.mp4"))
    assert code == 2 and "queued" in err
    store = open_store_url(f"sqlite:///{(env / 'i2v.db').as_posix()}")
    lease = store.claim("w")
    assert lease is not None
    store.succeed(job_id, lease.token, result={}, video=b"fake mp4 bytes")
    store.close()
    code, out, _ = run(capsys, "result", job_id, "-o", str(tmp_path / "v.mp4"))
    assert code == 0
    assert (tmp_path / "v.mp4").read_bytes() == b"fake mp4 bytes"


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("I2V_WORKER_LEASE_SECONDS", "soon", "I2V_WORKER_LEASE_SECONDS"),
        ("I2V_DURATION_SECONDS", "60", "I2V_DURATION_SECONDS"),
        ("I2V_RESOLUTION", "4k", "I2V_RESOLUTION"),
        ("I2V_WORKER_LEASE_SECONDS", "5", "twice I2V_WORKER_HEARTBEAT_SECONDS"),
        ("I2V_DATABASE_URL", "mysql://x", "I2V_DATABASE_URL"),
        (
            "I2V_DATABASE_URL",
            "postgresql+psycopg://nobody@127.0.0.1:9/x",
            "cannot reach the database",
        ),
    ],
)
def test_bad_settings_and_databases_give_one_clear_line_and_exit_2(
    env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    named: str,
) -> None:
    monkeypatch.setenv(variable, value)
    code, _, err = run(capsys, "jobs")
    assert code == 2
    assert named in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such file"),
        (b"", "empty"),
        (b"hello, I am text", "not an image"),
        ((DATA / "rocket.jpg").read_bytes()[:5000], "damaged or incomplete"),
    ],
)
def test_a_missing_or_unusable_photo_gives_one_clear_line_and_exit_2(
    env: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    content: bytes | None,
    expected: str,
) -> None:
    photo = tmp_path / "photo.jpg"
    if content is not None:
        photo.write_bytes(content)
    code, _, err = run(capsys, "submit", str(photo))
    assert code == 2
    assert expected in err and len(err.strip().splitlines()) == 1


def test_bad_options_exit_2(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "submit", str(DATA / "coffee.png"), "--duration", "30")[0] == 2
    assert run(capsys, "submit", str(DATA / "coffee.png"), "--width", "640")[0] == 2
    assert run(capsys, "submit", str(DATA / "coffee.png"), "--engine", "magic")[0] == 2
    assert run(capsys, "submit", str(DATA / "coffee.png"), "--resolution", "4k")[0] == 2
    assert run(capsys, "job", "doesnotexist")[0] == 2


def test_config_masks_secrets(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("I2V_TELEGRAM_TOKEN", "123456:ABCdefGhIkl-tokenvalue")
    monkeypatch.setenv("I2V_DATABASE_URL", "postgresql+psycopg://i2v:hunter2@db/i2v")
    code, out, _ = run(capsys, "config", "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["I2V_TELEGRAM_TOKEN"] == "********"
    assert "hunter2" not in out and "tokenvalue" not in out
    assert shown["I2V_WORKER_LEASE_SECONDS"] == 60


def test_db_upgrade_creates_then_reports_up_to_date(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "db", "upgrade")
    assert code == 0 and "upgraded from schema version 0" in out
    code, out, _ = run(capsys, "db", "upgrade")
    assert code == 0 and "up to date" in out


def test_the_installed_program_exits_2_with_one_line_for_a_missing_file(tmp_path: Path) -> None:
    program = shutil.which("i2v", path=str(Path(sys.executable).parent))
    assert program is not None
    done = subprocess.run(
        [program, "submit", str(tmp_path / "missing.png")],
        capture_output=True,
        text=True,
        env={"I2V_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == f"i2v: error: no such file: {tmp_path / 'missing.png'}"
    assert JobStatus.QUEUED.value not in done.stdout


def test_submit_refuses_a_model_no_running_worker_serves_and_says_how_to_start_one(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_engines.configure(env, steps=2, step_seconds=0.01)
    store = open_store(fast_settings(env))
    wan = fast_settings(env, "fake_engines:ModelEngine", model="wan2.2-ti2v-5b")
    photo = str(DATA / "coffee.png")
    try:
        with worker_thread(store, wan) as worker:
            wait_for(lambda: worker.loads == 1, 60, "the wan model to load")
            code, out, err = run(capsys, "submit", photo, "--model", "ltx-video")
            assert (code, out) == (2, "")
            said = " ".join(err.split())
            assert "no worker serves ltx-video right now" in said
            assert "i2v worker --model ltx-video" in said and "--wait-for-worker" in said
            assert store.count_jobs() == 0, "nothing was queued"

            # The running worker's model, by its repo id, is accepted.
            code, out, _ = run(
                capsys, "submit", photo, "--model", "Wan-AI/Wan2.2-TI2V-5B-Diffusers", "--json"
            )
            assert code == 0 and json.loads(out)["serving_workers"] == 1

            code, out, _ = run(capsys, "submit", photo, "--model", "ltx-video", "--wait-for-worker")
            assert code == 0
            assert "no worker serves ltx-video right now" in out
            assert "start one with: i2v worker --model ltx-video" in out
            job_id = out.split()[2].rstrip(":")
            code, out, _ = run(capsys, "job", job_id)
            assert code == 0 and "queued" in out and "starts in" not in out
            assert "no worker serves ltx-video right now" in out
            code, out, _ = run(capsys, "job", job_id, "--json")
            assert json.loads(out)["serving_workers"] == 0
    finally:
        store.close()


def test_a_worker_started_with_model_serves_the_job_that_waited_for_it(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_engines.configure(env, steps=2, step_seconds=0.01)
    monkeypatch.setenv("I2V_ENGINE_FACTORY", "fake_engines:ModelEngine")
    for name, value in FAST.items():
        monkeypatch.setenv(f"I2V_{name.upper()}", str(value))
    photo = str(DATA / "coffee.png")
    code, out, _ = run(
        capsys, "submit", photo, "--model", "wan2.2-ti2v-5b", "--wait-for-worker", "--json"
    )
    assert code == 0
    job_id = json.loads(out)["id"]
    code, _, err = run(capsys, "worker", "--burst", "--model", "wan2.2-ti2v-5b")
    assert code == 0, err
    store = open_store_url(f"sqlite:///{env / 'i2v.db'}")
    try:
        done = store.get(job_id)
        assert done.status is JobStatus.SUCCEEDED
        assert done.result["model"] == "wan2.2-ti2v-5b"
    finally:
        store.close()
