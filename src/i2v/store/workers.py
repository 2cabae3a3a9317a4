"""The worker registry: who is running where, doing what, and when it last said so."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from i2v.jobs import WorkerInfo, WorkerState
from i2v.store import schema
from i2v.store.rows import worker_from_row, would_claim

if TYPE_CHECKING:
    from i2v.store.base import StoreBase
else:
    StoreBase = object

_UPDATABLE = frozenset(
    {"state", "child_pid", "job_id", "engine", "model", "gpu", "memory_plan", "serves"}
)
#: Dead workers' rows are kept this long, so `i2v workers` can show what recently died.
DEAD_WORKER_RETENTION_SECONDS = 24 * 3600.0

__all__ = ["DEAD_WORKER_RETENTION_SECONDS", "WorkerRegistry", "would_claim"]

#: What every live worker claims; built once, as it runs on every read of a queued job.
_LIVE_CLAIMS = sa.select(schema.workers.c.serves).where(
    schema.workers.c.heartbeat_at >= sa.bindparam("live_since", type_=sa.Float)
)


class WorkerRegistry(StoreBase):
    """Register, update and list workers."""

    def register_worker(self, worker: WorkerInfo, serves: Mapping[str, Any] | None = None) -> None:
        """Add a worker (or replace the row of one with the same id) and what it claims."""
        now = self._clock()
        values = {
            "id": worker.id,
            "host": worker.host,
            "pid": worker.pid,
            "child_pid": worker.child_pid,
            "state": worker.state.value,
            "job_id": worker.job_id,
            "engine": worker.engine,
            "model": worker.model,
            "started_at": now,
            "heartbeat_at": now,
            "gpu": dict(worker.gpu) or None,
            "memory_plan": worker.memory_plan,
            "serves": None if serves is None else dict(serves),
        }
        with self._write() as conn:
            conn.execute(schema.workers.delete().where(schema.workers.c.id == worker.id))
            conn.execute(schema.workers.insert().values(**values))
            conn.execute(
                schema.workers.delete().where(
                    schema.workers.c.heartbeat_at < now - DEAD_WORKER_RETENTION_SECONDS
                )
            )

    def update_worker(self, worker_id: str, **fields: Any) -> None:
        """Change some of a worker's fields (any of ``_UPDATABLE``).

        ``serves`` is what the worker claims, as ``claim`` takes it: ``{"engines": [...] or
        None, "models": [...] or None, "job_id": ... or None}``.
        """
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise TypeError(f"cannot update worker fields {sorted(unknown)}")
        values: dict[str, Any] = dict(fields)
        if isinstance(values.get("state"), WorkerState):
            values["state"] = values["state"].value
        for name in ("gpu", "serves"):
            if isinstance(values.get(name), Mapping):
                values[name] = dict(values[name])
        values["heartbeat_at"] = self._clock()
        with self._write() as conn:
            conn.execute(
                schema.workers.update().where(schema.workers.c.id == worker_id).values(**values)
            )

    def remove_worker(self, worker_id: str) -> None:
        """Forget a worker that stopped cleanly."""
        with self._write() as conn:
            conn.execute(schema.workers.delete().where(schema.workers.c.id == worker_id))

    def list_workers(self, *, alive_only: bool = False) -> list[WorkerInfo]:
        """Return workers, most recently seen first; ``alive_only`` keeps those within the lease."""
        query = sa.select(schema.workers).order_by(schema.workers.c.heartbeat_at.desc())
        if alive_only:
            query = query.where(schema.workers.c.heartbeat_at >= self._clock() - self.lease_seconds)
        with self._read() as conn:
            return [worker_from_row(row) for row in conn.execute(query).mappings()]

    def is_worker_alive(self, worker: WorkerInfo) -> bool:
        """True if the worker heartbeated within one lease."""
        if worker.heartbeat_at is None:
            return False
        return worker.heartbeat_at.timestamp() >= self._clock() - self.lease_seconds

    def live_worker_count(self) -> int:
        """Number of workers that heartbeated within one lease."""
        with self._read() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(schema.workers)
                    .where(schema.workers.c.heartbeat_at >= self._clock() - self.lease_seconds)
                ).scalar_one()
            )

    def serving_worker_count(self, engine: str | None, model: str | None) -> int:
        """Live workers that would claim a queued job naming ``engine`` and ``model``."""
        with self._read() as conn:
            return self._count_serving(conn, engine, model)

    def _count_serving(self, conn: sa.Connection, engine: str | None, model: str | None) -> int:
        live_since = self._clock() - self.lease_seconds
        claims = [row.serves for row in conn.execute(_LIVE_CLAIMS, {"live_since": live_since})]
        return sum(1 for claim in claims if would_claim(claim, engine, model))
