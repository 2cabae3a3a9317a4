"""``i2v generate``: through the store, with a worker in-process when none is alive; exit 0, 1 or 2.

The command runs for real: settings from I2V_* variables, a SQLite store in a temp
folder, the same supervisor and spawned child as ``i2v worker``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import fake_engines
from i2v.cli.app import main
from i2v.encoding import probe_mp4
from i2v.jobs import JobSpec, JobStatus
from i2v.store import open_store_url
from worker_harness import wait_for

PHOTO = Path(__file__).parent / "data" / "coffee.png"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("I2V_DATA_DIR", str(folder))
    monkeypatch.setenv("I2V_ENGINE_FACTORY", "fake_engines:SlowEngine")
    fake_engines.configure(folder, steps=3, step_seconds=0.02, size=[96, 64], frames=8)
    return folder


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", *args])
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def test_generate_writes_the_video_and_prints_its_path(
    data_dir: Path, tmp_path: Path, capsys
) -> None:
    code, out, _ = run(capsys, str(PHOTO), "-o", str(tmp_path / "clip.mp4"))
    assert code == 0
    assert out.strip() == str(tmp_path / "clip.mp4")
    probe = probe_mp4(tmp_path / "clip.mp4")
    assert (probe.width, probe.height, probe.frames) == (96, 64, 8)


def test_generate_json_has_id_status_output_and_metadata(
    data_dir: Path, tmp_path: Path, capsys
) -> None:
    code, out, _ = run(capsys, str(PHOTO), "--json", "--seed", "5", "--duration", "2")
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"id", "status", "output", "metadata", "warnings", "error"}
    assert data["status"] == "succeeded" and data["error"] is None
    assert data["output"] == "coffee.mp4" and (tmp_path / "coffee.mp4").exists()
    assert data["metadata"]["frames"] == 8 and data["metadata"]["engine"] == "fake"
    assert data["metadata"]["seed"] == 5
    store = open_store_url(f"sqlite:///{(data_dir / 'i2v.db').as_posix()}")
    job = store.get(data["id"])
    store.close()
    assert job.status is JobStatus.SUCCEEDED and job.spec.duration_seconds == 2.0


def test_generate_runs_only_its_own_job_and_leaves_someone_elses_queued_job_alone(
    data_dir: Path, tmp_path: Path, capsys
) -> None:
    store = open_store_url(f"sqlite:///{(data_dir / 'i2v.db').as_posix()}")
    other = store.submit(JobSpec(source="telegram", owner="42"), PHOTO.read_bytes())
    code, out, _ = run(capsys, str(PHOTO), "--json")
    assert code == 0
    assert json.loads(out)["status"] == "succeeded"
    waiting = store.get(other.id)
    store.close()
    assert waiting.status is JobStatus.QUEUED
    assert waiting.started_at is None and waiting.attempts == 0


def test_generate_with_a_model_runs_that_model_when_no_worker_is_alive(
    data_dir: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("I2V_ENGINE_FACTORY", "fake_engines:ModelEngine")
    code, out, _ = run(capsys, str(PHOTO), "--json", "--model", "Wan-AI/Wan2.2-TI2V-5B-Diffusers")
    assert code == 0
    assert json.loads(out)["metadata"]["model"] == "Wan-AI/Wan2.2-TI2V-5B-Diffusers"


def test_generate_retries_its_job_on_a_fresh_process_when_the_first_one_crashes(
    data_dir: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("I2V_ENGINE_FACTORY", "fake_engines:CrashingEngine")
    (data_dir / "crash_once").write_text("exit")
    code, out, _ = run(capsys, str(PHOTO), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["status"] == "succeeded"
    assert [words[0] for words in fake_engines.journal(data_dir)].count("setup") == 2


def test_a_failed_job_exits_1_and_says_why(data_dir: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("I2V_ENGINE_FACTORY", "fake_engines:OomEngine")
    code, out, err = run(capsys, str(PHOTO))
    assert code == 1
    assert out == ""
    assert "failed (out_of_memory)" in err and "lower resolution" in err


def test_a_failed_job_in_json_carries_the_error(data_dir: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("I2V_ENGINE_FACTORY", "fake_engines:FailingSetupEngine")
    (data_dir / "setup_fails").write_text("no weights in /models/x")
    code, out, _ = run(capsys, str(PHOTO), "--json")
    assert code == 1
    data = json.loads(out)
    assert data["status"] == "failed" and data["output"] is None
    assert data["error"]["code"] == "model_load_failed"
    assert data["error"]["message"] == "The video model could not be loaded; it was reported."
    assert "no weights in /models/x" in data["error"]["detail"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["missing.jpg"], "no such file"),
        ([str(PHOTO), "--width", "100"], "Give both the width and the height"),
        ([str(PHOTO), "--engine", "magic"], "unknown engine"),
        ([str(PHOTO), "--resolution", "4k"], "4k"),
        ([str(Path(__file__))], "test_cli_generate.py"),
    ],
)
def test_bad_arguments_or_input_exit_2_without_submitting(
    data_dir: Path, capsys, args, words
) -> None:
    code, out, err = run(capsys, *args)
    assert code == 2
    assert words in err
    assert out == ""
    assert not (data_dir / "journal.log").exists()


def test_generate_with_the_ken_burns_engine_makes_a_real_video(
    data_dir: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    pytest.importorskip("i2v.engine.factory")
    monkeypatch.delenv("I2V_ENGINE_FACTORY")
    monkeypatch.setenv("I2V_ENGINE", "kenburns")
    code, out, _ = run(capsys, str(PHOTO), "--json", "-r", "480p", "--duration", "1", "--fps", "12")
    assert code == 0
    data = json.loads(out)
    probe = probe_mp4(tmp_path / data["output"])
    assert (probe.width, probe.height, probe.frames) == (720, 480, 12)
    assert data["metadata"]["engine"] == "kenburns"


def _make_read_only(folder: Path) -> None:
    """Make ``folder`` read-only even for root (who ignores modes): immutable where it can."""
    folder.chmod(0o555)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        chattr = shutil.which("chattr")
        done = chattr and subprocess.run([chattr, "+i", str(folder)], check=False).returncode == 0
        if not done:
            folder.chmod(0o755)
            pytest.skip("root can write anywhere unless the folder is made immutable (chattr)")


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody can write to; writable again after the test."""
    if sys.platform == "win32":
        pytest.skip("a folder's mode does not stop writes on Windows")
    folder = tmp_path / "read-only"
    folder.mkdir()
    yield folder
    if shutil.which("chattr"):
        subprocess.run(["chattr", "-i", str(folder)], check=False, capture_output=True)
    folder.chmod(0o755)


def test_an_output_folder_that_cannot_be_written_fails_before_the_video_is_made(
    data_dir: Path, read_only: Path, capsys
) -> None:
    _make_read_only(read_only)
    code, out, err = run(capsys, str(PHOTO), "-o", str(read_only / "clip.mp4"))
    assert code == 2
    assert out == ""
    assert err.startswith(f"i2v: error: cannot save the video to {read_only / 'clip.mp4'}")
    assert len(err.strip().splitlines()) == 1
    assert not (data_dir / "journal.log").exists()
    assert list(read_only.iterdir()) == []


def test_a_video_that_cannot_be_saved_after_all_names_the_job_to_fetch_it_with(
    data_dir: Path, read_only: Path, tmp_path: Path, capsys
) -> None:
    # The folder was writable when the job started and is not when the video is ready
    # (a full disk behaves the same way): the video is kept, and the message says how to get it.
    fake_engines.configure(data_dir, steps=30, step_seconds=0.1, size=[96, 64], frames=8)

    def spoil_when_generating() -> None:
        wait_for(lambda: fake_engines.step_times(data_dir), 60, "the first step")
        _make_read_only(read_only)

    spoiler = threading.Thread(target=spoil_when_generating)
    spoiler.start()
    code, _, err = run(capsys, str(PHOTO), "-o", str(read_only / "clip.mp4"))
    spoiler.join()
    assert code == 2
    store = open_store_url(f"sqlite:///{(data_dir / 'i2v.db').as_posix()}")
    [job] = store.list_jobs()
    store.close()
    assert job.status is JobStatus.SUCCEEDED
    assert len(fake_engines.step_times(data_dir)) == 30
    assert f"it is kept as job {job.id}" in err
    assert f"i2v result {job.id} -o" in err
    with pytest.raises(SystemExit) as fetched:
        main(["result", job.id, "-o", str(tmp_path / "fetched.mp4")])
    assert fetched.value.code in (None, 0)
    assert probe_mp4(tmp_path / "fetched.mp4").frames == 8
