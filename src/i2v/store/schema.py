"""The current database schema, as SQLAlchemy Core tables.

Migrations (``migrations.py``) build this schema step by step; these table
objects are what queries use. Times are Unix seconds (float, UTC) from the
writing host's clock, so hosts sharing a database must keep their clocks in
sync (NTP); leases tolerate a few seconds of skew.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

#: BIGINT on PostgreSQL, INTEGER on SQLite (where only INTEGER PRIMARY KEY autoincrements).
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("seq", BigId, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(16), nullable=False, unique=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("priority", sa.Integer, nullable=False, default=0),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("owner", sa.String(128)),
    sa.Column("engine", sa.String(32)),
    sa.Column("model", sa.String(255)),
    sa.Column("dedupe_key", sa.String(255), unique=True),
    sa.Column("eta_key", sa.String(255)),
    sa.Column("stage", sa.String(32)),
    sa.Column("progress", sa.Float, nullable=False, default=0.0),
    sa.Column("eta_seconds", sa.Float),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, default=False),
    sa.Column("error_code", sa.String(32)),
    sa.Column("error_message", sa.Text),
    #: For admins only: the exception and traceback behind a failure.
    sa.Column("error_detail", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float),
    sa.Column("finished_at", sa.Float),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("worker_id", sa.String(128)),
    sa.Column("lease_token", sa.String(32)),
    sa.Column("lease_expires_at", sa.Float),
    sa.Column("result", sa.JSON),
    sa.Column("notify", sa.JSON),
    sa.Column("delivered", sa.Boolean, nullable=False, default=False),
    sa.Column("warnings", sa.JSON),
    sa.Column("delivery_holder", sa.String(128)),
    sa.Column("delivery_until", sa.Float),
    sa.Index("ix_jobs_queue", "status", "priority", "seq"),
    sa.Index("ix_jobs_updated", "source", "updated_at"),
    sa.Index("ix_jobs_owner", "owner", "created_at"),
    # A client's own jobs, newest first (the API's and the bot's lists).
    sa.Index("ix_jobs_owner_seq", "owner", "seq"),
)

media = sa.Table(
    "media",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(16), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("content_type", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("job_id", "kind", name="uq_media_job_kind"),
)

#: Media bytes in chunks, so a 40 MB video never sits in one value and Range reads touch only what they need.
media_chunks = sa.Table(
    "media_chunks",
    metadata,
    sa.Column("media_id", BigId, sa.ForeignKey("media.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

workers = sa.Table(
    "workers",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("child_pid", sa.Integer),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("job_id", sa.String(16)),
    sa.Column("engine", sa.String(32)),
    sa.Column("model", sa.String(255)),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("heartbeat_at", sa.Float, nullable=False),
    sa.Column("gpu", sa.JSON),
    sa.Column("memory_plan", sa.String(64)),
    #: What the worker claims: {"engines": [...] | null, "models": [...] | null, "job_id": ...}.
    sa.Column("serves", sa.JSON),
)

timings = sa.Table(
    "timings",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("samples", sa.Integer, nullable=False),
    sa.Column("mean", sa.Float, nullable=False),
    sa.Column("var", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

user_settings = sa.Table(
    "user_settings",
    metadata,
    sa.Column("owner", sa.String(128), primary_key=True),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

schema_version = sa.Table(
    "i2v_schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", sa.Float, nullable=False),
)
