"""Versioned schema migrations: each step takes the database from version N-1 to N.

Steps only add (tables, columns, indexes), so upgrading never loses a job. The
current version lives in ``i2v_schema_version``; an upgrade holds a lock so two
hosts starting at once do not both migrate.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa

from i2v.errors import SchemaError
from i2v.store import schema

Step = Callable[[sa.Connection], None]

#: Columns of ``jobs`` that later steps add; step 1 creates the table without them.
_JOBS_COLUMNS_ADDED_LATER = (
    "warnings",
    "delivery_holder",
    "delivery_until",
    "model",
    "error_detail",
)
#: Columns of ``workers`` that later steps add.
_WORKERS_COLUMNS_ADDED_LATER = ("memory_plan", "serves")
#: Indexes of ``jobs`` that later steps add.
_JOBS_INDEXES_ADDED_LATER = ("ix_jobs_owner_seq",)


def _step_1_jobs_media_workers(conn: sa.Connection) -> None:
    """First release: jobs, media in chunks, and the worker registry."""
    first = sa.MetaData()
    jobs = sa.Table(
        "jobs",
        first,
        *(c._copy() for c in schema.jobs.columns if c.name not in _JOBS_COLUMNS_ADDED_LATER),
    )
    for index in schema.jobs.indexes:
        if index.name not in _JOBS_INDEXES_ADDED_LATER:
            sa.Index(index.name, *(jobs.c[c.name] for c in index.columns))
    for table in (schema.media, schema.media_chunks):
        table.to_metadata(first)
    sa.Table(
        "workers",
        first,
        *(c._copy() for c in schema.workers.columns if c.name not in _WORKERS_COLUMNS_ADDED_LATER),
    )
    first.create_all(conn)


def _step_2_timings_settings_warnings(conn: sa.Connection) -> None:
    """Stage timings for ETAs, per-user settings, and user-facing job warnings."""
    json_type = sa.JSON().compile(dialect=conn.dialect)
    conn.execute(sa.text(f"ALTER TABLE jobs ADD COLUMN warnings {json_type}"))
    schema.timings.create(conn)
    schema.user_settings.create(conn)


def _step_3_delivery_lease_and_model(conn: sa.Connection) -> None:
    """A short lease on sending a result, and the job's model as a column for claiming."""
    for name, column_type in (
        ("delivery_holder", sa.String(128)),
        ("delivery_until", sa.Float()),
        ("model", sa.String(255)),
    ):
        compiled = column_type.compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE jobs ADD COLUMN {name} {compiled}"))
    # Jobs queued before this step keep their model inside the spec; copy it out.
    jobs = schema.jobs
    conn.execute(jobs.update().values(model=jobs.c.spec["model"].as_string()))


def _step_4_worker_memory_plan(conn: sa.Connection) -> None:
    """The memory plan each worker's model was loaded with (``i2v gpu``, ``i2v workers``)."""
    compiled = sa.String(64).compile(dialect=conn.dialect)
    conn.execute(sa.text(f"ALTER TABLE workers ADD COLUMN memory_plan {compiled}"))


def _step_5_worker_serves(conn: sa.Connection) -> None:
    """What each worker claims (engines, model names), so a front end can tell who serves a job."""
    json_type = sa.JSON().compile(dialect=conn.dialect)
    conn.execute(sa.text(f"ALTER TABLE workers ADD COLUMN serves {json_type}"))


def _step_6_error_detail(conn: sa.Connection) -> None:
    """An admin-only detail (exception, traceback) beside the error users read."""
    compiled = sa.Text().compile(dialect=conn.dialect)
    conn.execute(sa.text(f"ALTER TABLE jobs ADD COLUMN error_detail {compiled}"))


def _step_7_index_jobs_by_owner(conn: sa.Connection) -> None:
    """An index for each client's own jobs, newest first (API clients see only their own)."""
    [index] = [i for i in schema.jobs.indexes if i.name == "ix_jobs_owner_seq"]
    index.create(conn, checkfirst=True)


STEPS: tuple[Step, ...] = (
    _step_1_jobs_media_workers,
    _step_2_timings_settings_warnings,
    _step_3_delivery_lease_and_model,
    _step_4_worker_memory_plan,
    _step_5_worker_serves,
    _step_6_error_detail,
    _step_7_index_jobs_by_owner,
)
HEAD = len(STEPS)


def current_version(conn: sa.Connection) -> int:
    """Return the schema version of the database (0 when i2v has never written to it)."""
    if not sa.inspect(conn).has_table(schema.schema_version.name):
        return 0
    value = conn.execute(sa.select(sa.func.max(schema.schema_version.c.version))).scalar()
    return int(value or 0)


def upgrade(engine: sa.Engine, target: int = HEAD) -> tuple[int, int]:
    """Apply the missing steps up to ``target``; return (version before, version after)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Held until commit: a second host waits here, then finds nothing left to do.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(4242420001)"))
        schema.schema_version.create(conn, checkfirst=True)
        before = current_version(conn)
        if before > HEAD:
            raise SchemaError(
                f"the database is at schema version {before}, newer than this i2v knows "
                f"({HEAD}); upgrade i2v on this machine"
            )
        for version in range(before + 1, target + 1):
            STEPS[version - 1](conn)
            conn.execute(
                schema.schema_version.insert().values(version=version, applied_at=time.time())
            )
    return before, max(before, target)
