"""Schema migrations: a database made by the first release upgrades with every job intact."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from i2v.errors import SchemaError
from i2v.jobs import JobSpec, JobStatus
from i2v.store import migrations, open_store_url
from i2v.store.database import create_db_engine


def _insert_v1_job(conn: sa.Connection, job_id: str) -> None:
    """Write a job the way the first release did (no warnings column yet)."""
    now = time.time()
    conn.execute(
        sa.text(
            "INSERT INTO jobs (id, status, priority, spec, source, progress, attempts, max_attempts,"
            " cancel_requested, created_at, updated_at, delivered)"
            " VALUES (:id, 'queued', 0, :spec, 'cli', 0, 0, 3, false, :now, :now, false)"
        ),
        {
            "id": job_id,
            "spec": '{"prompt": "from v1", "source": "cli", "model": "svd-xt"}',
            "now": now,
        },
    )
    conn.execute(
        sa.text(
            "INSERT INTO media (job_id, kind, content_type, size, sha256, created_at)"
            " VALUES (:id, 'photo', 'image/png', 5, 'x', :now)"
        ),
        {"id": job_id, "now": now},
    )


def test_a_database_made_by_the_first_migration_upgrades_with_its_jobs_intact(
    store_url: str,
) -> None:
    engine = create_db_engine(store_url)
    assert migrations.upgrade(engine, target=1) == (0, 1)
    with engine.begin() as conn:
        _insert_v1_job(conn, "oldjob0001")
        assert "warnings" not in {c["name"] for c in sa.inspect(conn).get_columns("jobs")}
    engine.dispose()

    store = open_store_url(store_url)
    old = store.get("oldjob0001")
    assert (old.status, old.spec.prompt, old.warnings) == (JobStatus.QUEUED, "from v1", ())
    assert store.claim("w", models=["ltx-video"]) is None, "the old job's model was carried over"
    lease = store.claim("w", models=["svd-xt"])
    assert lease is not None and lease.job.id == "oldjob0001"
    new = store.submit(JobSpec(prompt="from head"), b"p")
    store.record_timing("k", "total", 1.0)
    assert store.get(new.id).spec.prompt == "from head"
    with store._read() as conn:
        assert migrations.current_version(conn) == migrations.HEAD
    store.close()


def test_upgrading_twice_changes_nothing(sqlite_url: str) -> None:
    engine = create_db_engine(sqlite_url)
    assert migrations.upgrade(engine) == (0, migrations.HEAD)
    assert migrations.upgrade(engine) == (migrations.HEAD, migrations.HEAD)
    engine.dispose()


def test_opening_without_migrating_names_the_command_that_fixes_it(sqlite_url: str) -> None:
    with pytest.raises(SchemaError, match="i2v db upgrade"):
        open_store_url(sqlite_url, migrate=False)


def test_a_database_from_a_newer_i2v_is_refused(sqlite_url: str) -> None:
    engine = create_db_engine(sqlite_url)
    migrations.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO i2v_schema_version VALUES (999, 0)"))
    with pytest.raises(SchemaError, match="newer"):
        migrations.upgrade(engine)
    engine.dispose()
