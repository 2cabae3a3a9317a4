"""`i2v job ID` and `i2v jobs`: quick on SQLite, and the same answers whichever path they take."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from i2v.errors import ErrorCode
from i2v.jobs import JobSpec, Stage
from i2v.store import migrations, open_store_url, schema_version
from i2v.store.database import create_db_engine

#: What the quick path never imports.
SLOW = ("sqlalchemy", "pydantic", "pydantic_settings", "psycopg")
#: A setting only Settings can check: it sends the commands down the full path.
FULL_PATH = {"I2V_TELEGRAM_ADMINS": "1,2"}

_PROBE = """
import json, os, sys
from i2v.cli.app import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
else:
    code = 0
sys.stdout.flush()
with open(os.environ["PROBE_REPORT"], "w") as report:
    json.dump({"code": code, "modules": sorted(sys.modules)}, report)
"""


def i2v(
    tmp_path: Path, *argv: str, database_url: str, **env: str
) -> tuple[int, str, str, set[str]]:
    """Run ``i2v ARGV`` in a fresh interpreter: exit code, stdout, stderr, modules imported."""
    report = tmp_path / "probe.json"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("I2V_")}
    environ.update(
        {
            "I2V_DATA_DIR": str(tmp_path / "data"),
            "I2V_DATABASE_URL": database_url,
            "PROBE_REPORT": str(report),
            **env,
        }
    )
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        env=environ,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    found = json.loads(report.read_text())
    return found["code"], done.stdout, done.stderr, set(found["modules"])


def slow_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in SLOW)


def _fill(url: str) -> dict[str, str]:
    store = open_store_url(url)
    ids = {
        name: store.submit(JobSpec(prompt=name), b"photo").id
        for name in ("queued", "running", "failed", "succeeded")
    }
    leases = {
        name: store.claim("w", job_id=ids[name]).token  # type: ignore[union-attr]
        for name in ("running", "failed", "succeeded")
    }
    store.report_progress(
        ids["running"], leases["running"], stage=Stage.GENERATING, progress=0.4, eta_seconds=30
    )
    store.fail(
        ids["failed"], leases["failed"], ErrorCode.OUT_OF_MEMORY, "", detail="Traceback: boom"
    )
    store.succeed(ids["succeeded"], leases["succeeded"], result={"frames": 9}, video=b"mp4")
    store.close()
    return ids


def test_job_and_jobs_print_the_same_through_the_quick_path_and_the_full_path(
    tmp_path: Path, sqlite_url: str
) -> None:
    ids = _fill(sqlite_url)
    commands = [
        ["jobs"],
        ["jobs", "--json"],
        ["jobs", "--status", "failed", "-n", "5"],
        ["jobs", "-s", "canceled"],
        *(["job", job_id] for job_id in ids.values()),
        *(["job", job_id, "--json"] for job_id in ids.values()),
        ["job", "nosuchjob"],
    ]
    for argv in commands:
        *quick, quick_modules = i2v(tmp_path, *argv, database_url=sqlite_url)
        *full, full_modules = i2v(tmp_path, *argv, database_url=sqlite_url, **FULL_PATH)
        assert quick == full, argv
        assert slow_in(quick_modules) == [], argv
        assert "sqlalchemy" in full_modules, argv
    code, out, err, _ = i2v(tmp_path, "job", ids["failed"], database_url=sqlite_url)
    assert code == 0 and "detail (for admins):" in out and "Traceback: boom" in out
    code, out, err, _ = i2v(tmp_path, "job", "nosuchjob", database_url=sqlite_url)
    assert (code, out, err) == (2, "", "i2v: error: no job with id 'nosuchjob'\n")


def test_a_missing_database_is_created_by_the_full_path_as_before(
    tmp_path: Path, sqlite_url: str
) -> None:
    code, out, _, modules = i2v(tmp_path, "jobs", database_url=sqlite_url)
    assert (code, out) == (0, "no jobs\n")
    assert "sqlalchemy" in modules
    assert Path(sqlite_url.removeprefix("sqlite:///")).is_file()
    # Now that the file is there, the next look takes the quick path.
    code, out, _, modules = i2v(tmp_path, "jobs", database_url=sqlite_url)
    assert (code, out, slow_in(modules)) == (0, "no jobs\n", [])


def test_an_older_schema_is_upgraded_by_the_full_path_as_before(
    tmp_path: Path, sqlite_url: str
) -> None:
    engine = create_db_engine(sqlite_url)
    migrations.upgrade(engine, target=migrations.HEAD - 1)
    engine.dispose()
    code, out, _, modules = i2v(tmp_path, "jobs", "--json", database_url=sqlite_url)
    assert (code, out) == (0, "[]\n")
    assert "sqlalchemy" in modules
    store = open_store_url(sqlite_url, migrate=False)
    assert schema_version(store) == migrations.HEAD
    store.close()


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("I2V_FPS", "abc", "i2v: error: invalid setting: I2V_FPS:"),
        ("I2V_WORKER_LEASE_SECONDS", "5", "i2v: error: invalid setting: I2V_WORKER_LEASE_SECONDS"),
        (
            "I2V_DATABASE_URL",
            "mysql://root@db/i2v",
            "i2v: error: invalid setting: I2V_DATABASE_URL",
        ),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2_as_before(
    tmp_path: Path, sqlite_url: str, name: str, value: str, said: str
) -> None:
    _fill(sqlite_url)
    for argv in (["jobs"], ["job", "nosuchjob"]):
        code, out, err, _ = i2v(tmp_path, *argv, database_url=sqlite_url, **{name: value})
        assert (code, out) == (2, "")
        assert err.startswith(said) and len(err.strip().splitlines()) == 1, err


def test_on_postgresql_both_commands_take_the_full_path_and_answer_as_before(
    tmp_path: Path, postgres_url: str
) -> None:
    ids = _fill(postgres_url)
    code, out, _, modules = i2v(tmp_path, "jobs", "--json", database_url=postgres_url)
    assert code == 0 and {job["id"] for job in json.loads(out)} == set(ids.values())
    assert "sqlalchemy" in modules
    code, out, _, _ = i2v(tmp_path, "job", ids["succeeded"], database_url=postgres_url)
    assert code == 0 and out.startswith(f"job {ids['succeeded']}: succeeded")
