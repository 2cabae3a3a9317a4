"""The standard-library SQLite reads give what the store gives, or step aside."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from i2v.errors import ErrorCode, JobNotFound, MediaNotFound
from i2v.jobs import JobSpec, JobStatus, Stage, WorkerInfo, WorkerState
from i2v.store import VIDEO, JobStore, migrations, open_store_url, readsql_build
from i2v.store.database import create_db_engine
from i2v.store.sqlitereads import SQLiteReader, open_sqlite_reader


@pytest.fixture
def filled(sqlite_url: str) -> Iterator[tuple[JobStore, dict[str, str]]]:
    """A store with jobs in every state and workers alive, gone, and choosy."""
    store = open_store_url(sqlite_url)
    ids = {
        "queued": store.submit(JobSpec(prompt="first"), b"p").id,
        "queued_kenburns": store.submit(JobSpec(engine="kenburns", model="x"), b"p").id,
        "queued_urgent": store.submit(JobSpec(priority=5), b"p").id,
    }
    for name in ("running", "failed", "succeeded", "canceled"):
        ids[name] = store.submit(JobSpec(prompt=name), b"p").id
    leases = {
        name: store.claim("w-main", job_id=ids[name]).token  # type: ignore[union-attr]
        for name in ("running", "failed", "succeeded")
    }
    store.report_progress(
        ids["running"],
        leases["running"],
        stage=Stage.GENERATING,
        progress=0.4,
        eta_seconds=30,
        warnings=["the photo was upscaled"],
    )
    store.fail(
        ids["failed"],
        leases["failed"],
        ErrorCode.OUT_OF_MEMORY,
        "out of memory",
        detail="Traceback ...",
    )
    store.succeed(ids["succeeded"], leases["succeeded"], result={"frames": 9}, video=b"mp4 bytes")
    store.request_cancel(ids["canceled"])
    for worker_id, serves in (("kb", {"engines": ["kenburns"], "models": None}), ("any", None)):
        store.register_worker(
            WorkerInfo(id=worker_id, host="h", pid=1, state=WorkerState.IDLE), serves
        )
    gone = open_store_url(sqlite_url, clock=lambda: time.time() - 3600)
    gone.register_worker(WorkerInfo(id="gone", host="h", pid=2, state=WorkerState.IDLE))
    gone.close()
    yield store, ids
    store.close()


@pytest.fixture
def reader(sqlite_url: str, filled: tuple[JobStore, dict[str, str]]) -> Iterator[SQLiteReader]:
    opened = open_sqlite_reader(sqlite_url, lease_seconds=60.0)
    assert opened is not None
    yield opened
    opened.close()


def test_each_job_and_its_queue_position_read_the_same_as_through_the_store(
    filled: tuple[JobStore, dict[str, str]], reader: SQLiteReader
) -> None:
    store, ids = filled
    for name, job_id in ids.items():
        assert reader.get_with_position(job_id) == store.get_with_position(job_id), name
    job, position = reader.get_with_position(ids["queued_kenburns"])
    assert (job.status, position.position, position.live_workers) == (JobStatus.QUEUED, 3, 2)
    assert position.serving_workers == 2  # the kenburns worker and the one that takes anything


def test_lists_read_the_same_as_through_the_store_for_every_status_and_limit(
    filled: tuple[JobStore, dict[str, str]], reader: SQLiteReader
) -> None:
    store, _ = filled
    for statuses in (None, *([s] for s in JobStatus)):
        for limit in (1, 3, 100):
            assert reader.list_jobs(statuses=statuses, limit=limit) == store.list_jobs(
                statuses=statuses, limit=limit
            )
    assert len(reader.list_jobs(limit=100)) == 7


def test_media_and_missing_things_read_the_same_as_through_the_store(
    filled: tuple[JobStore, dict[str, str]], reader: SQLiteReader
) -> None:
    store, ids = filled
    assert reader.media_info(ids["succeeded"], VIDEO) == store.media_info(ids["succeeded"], VIDEO)
    for read in (reader, store):
        with pytest.raises(MediaNotFound, match=f"job {ids['queued']} has no video"):
            read.media_info(ids["queued"], VIDEO)
        with pytest.raises(JobNotFound, match="no job with id 'nosuchjob'"):
            read.get_with_position("nosuchjob")


def test_the_reader_steps_aside_for_urls_files_and_schemas_it_cannot_be_sure_of(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "missing.db"
    not_a_database = tmp_path / "junk.db"
    not_a_database.write_bytes(b"this is not SQLite" * 100)
    older = tmp_path / "older.db"
    engine = create_db_engine(f"sqlite:///{older.as_posix()}")
    migrations.upgrade(engine, target=migrations.HEAD - 1)
    engine.dispose()
    empty = tmp_path / "empty.db"
    create_db_engine(f"sqlite:///{empty.as_posix()}").connect().close()
    for url in (
        f"sqlite:///{missing.as_posix()}",
        f"sqlite:///{not_a_database.as_posix()}",
        f"sqlite:///{older.as_posix()}",
        f"sqlite:///{empty.as_posix()}",
        f"sqlite:///{older.as_posix()}?mode=ro",
        "sqlite://",
        "sqlite:///:memory:",
        "postgresql+psycopg://i2v@127.0.0.1/i2v",
    ):
        assert open_sqlite_reader(url, lease_seconds=60.0) is None, url
    assert not missing.exists()  # looking never creates a database


def test_the_reads_import_neither_sqlalchemy_nor_pydantic() -> None:
    code = (
        "import sys, i2v.store.sqlitereads, i2v.config.essentials, i2v.cli.show; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'pydantic', 'pydantic_settings', 'rich', 'babel')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_the_statements_are_the_ones_the_store_runs_now() -> None:
    """Fails when a store read changed and scripts/update_fast_reads.py was not run."""
    assert readsql_build.MODULE.read_text(encoding="utf-8") == readsql_build.render(), (
        "run: python scripts/update_fast_reads.py"
    )


def test_the_regeneration_script_finds_nothing_to_do() -> None:
    script = Path(__file__).resolve().parents[1] / "scripts" / "update_fast_reads.py"
    done = subprocess.run(
        [sys.executable, str(script), "--check"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stderr) == (0, "")
