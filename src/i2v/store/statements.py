"""The store's hot statements, each built once per shape and reused.

Building a SQLAlchemy statement costs more CPU than SQLite or PostgreSQL take to
run a small one, and a statement object used again keeps its cache key. So the
claim, the UPDATE that finishes a job and the submit INSERT are built here once,
with bound parameters for everything that changes between calls.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from i2v.jobs import JobStatus
from i2v.store import schema
from i2v.store.database import upsert_insert

J = schema.jobs
_QUEUED = JobStatus.QUEUED.value
_RUNNING = JobStatus.RUNNING.value


@functools.lru_cache(maxsize=32)
def claim_update(postgresql: bool, by_engine: bool, by_model: bool, by_job: bool) -> sa.UpdateBase:
    """The claim UPDATE for one combination of filters, built once (it costs a lot of CPU)."""
    candidate = sa.select(J.c.seq).where(J.c.status == _QUEUED)
    if by_engine:
        engines: sa.BindParameter[list[str]] = sa.bindparam("claim_engines", expanding=True)
        candidate = candidate.where(sa.or_(J.c.engine.is_(None), J.c.engine.in_(engines)))
    if by_model:
        models: sa.BindParameter[list[str]] = sa.bindparam("claim_models", expanding=True)
        candidate = candidate.where(sa.or_(J.c.model.is_(None), J.c.model.in_(models)))
    if by_job:
        candidate = candidate.where(J.c.id == sa.bindparam("claim_job"))
    candidate = candidate.order_by(J.c.priority.desc(), J.c.seq.asc()).limit(1)
    if postgresql:
        candidate = candidate.with_for_update(skip_locked=True)
    now = sa.bindparam("claim_now", type_=sa.Float)
    return (
        J.update()
        .where(J.c.seq == candidate.scalar_subquery(), J.c.status == _QUEUED)
        .values(
            status=_RUNNING,
            worker_id=sa.bindparam("claim_worker", type_=sa.String),
            lease_token=sa.bindparam("claim_token", type_=sa.String),
            lease_expires_at=sa.bindparam("claim_expires", type_=sa.Float),
            attempts=J.c.attempts + 1,
            started_at=now,
            stage=None,
            progress=0.0,
            updated_at=now,
        )
        .returning(*J.c)
    )


@functools.lru_cache(maxsize=32)
def finish_update(keys: tuple[str, ...]) -> sa.Update:
    """The UPDATE that ends a held job, also setting the columns ``keys``, built once.

    Parameters: ``held_job``, ``held_lease``, ``finish_status``, ``finish_now`` and
    ``set_<column>`` for each of ``keys``.
    """
    now = sa.bindparam("finish_now", type_=sa.Float)
    also = {key: sa.bindparam(f"set_{key}", type_=J.c[key].type) for key in keys}
    return (
        J.update()
        .where(
            J.c.id == sa.bindparam("held_job", type_=sa.String),
            J.c.lease_token == sa.bindparam("held_lease", type_=sa.String),
            J.c.status == _RUNNING,
        )
        .values(
            status=sa.bindparam("finish_status", type_=sa.String),
            finished_at=now,
            updated_at=now,
            lease_expires_at=None,
            stage=None,
            **also,
        )
        .returning(*J.c)
    )


#: The columns a submit sets (the rest keep their defaults).
SUBMITTED = (
    "id",
    "status",
    "priority",
    "spec",
    "source",
    "owner",
    "engine",
    "model",
    "dedupe_key",
    "eta_key",
    "eta_seconds",
    "progress",
    "attempts",
    "max_attempts",
    "cancel_requested",
    "created_at",
    "updated_at",
    "notify",
    "delivered",
    "warnings",
)


def finish_params(
    job_id: str, lease: str, status: JobStatus, now: float, values: Mapping[str, Any]
) -> dict[str, Any]:
    """The parameters of :func:`finish_update` for one job, setting ``values`` too."""
    params = {f"set_{key}": value for key, value in values.items()}
    params.update(held_job=job_id, held_lease=lease, finish_status=status.value, finish_now=now)
    return params


@functools.lru_cache(maxsize=4)
def submit_insert(dialect: str) -> sa.Insert:
    """The submit INSERT (RETURNING the row, or nothing for a known dedupe key), built once.

    Parameters: ``new_<column>`` for each of ``SUBMITTED``.
    """
    insert: sa.Insert = (
        upsert_insert(dialect, J)
        .values({c: sa.bindparam(f"new_{c}", type_=J.c[c].type) for c in SUBMITTED})
        .on_conflict_do_nothing()
        .returning(*J.c)
    )
    return insert
