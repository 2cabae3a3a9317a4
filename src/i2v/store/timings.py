"""Measured stage times, kept as exponentially weighted averages for ETAs and deadlines.

The worker records how long each stage (and each step) took under a key that
names everything that changes the time: engine, model, size, frames, steps,
memory plan and host. The same numbers drive the ETA users see and the
deadlines the worker enforces, so the two never disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from i2v.jobs import JobSpec
from i2v.store import schema
from i2v.store.database import upsert_insert
from i2v.store.priors import prior_seconds

if TYPE_CHECKING:
    from i2v.store.base import StoreBase
else:
    StoreBase = object

#: Weight of the newest sample: recent jobs matter most, one odd job does not dominate.
EWMA_ALPHA = 0.3
#: Name under which a whole job's run time is recorded for its request key.
TOTAL = "total"
#: Name under which seconds per denoising step are recorded.
STEP = "step"

# Built once: both run on every submit (its ETA) and every deadline a worker sets.
_TIMINGS_OF_KEY = sa.select(schema.timings).where(schema.timings.c.key == sa.bindparam("key"))
_LIVE_ENGINES = (
    sa.select(schema.workers.c.engine, schema.workers.c.model)
    .where(
        schema.workers.c.heartbeat_at >= sa.bindparam("live_since", type_=sa.Float),
        schema.workers.c.engine.is_not(None),
    )
    .order_by(schema.workers.c.heartbeat_at.desc())
)


@dataclass(frozen=True)
class Timing:
    """An average with its spread."""

    mean: float
    std: float
    samples: int

    @property
    def p95(self) -> float:
        """An upper estimate that 95 % of normal samples stay under (mean + 1.645 sd)."""
        return self.mean + 1.645 * self.std


def request_key(spec: JobSpec) -> str:
    """The key for what a front end knows before a worker sees the photo (queue ETAs)."""
    size = (
        f"{spec.width}x{spec.height}"
        if spec.width and spec.height
        else (spec.resolution.value if spec.resolution else "default")
    )
    return "|".join(
        str(part)
        for part in (
            "request",
            spec.engine or "default",
            spec.model or "default",
            size,
            f"{spec.duration_seconds or 0:g}s",
            spec.fps or "-",
            spec.steps or "-",
        )
    )[:255]


class TimingStats(StoreBase):
    """Record and read stage timings."""

    def record_timing(self, key: str, name: str, seconds: float) -> Timing:
        """Fold one measurement into the average for (key, name); return the new average."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"a timing must be a non-negative number of seconds, got {seconds}")
        key = key[:255]
        t = schema.timings
        which = sa.and_(t.c.key == key, t.c.name == name)
        with self._write() as conn:
            query = sa.select(t.c.samples, t.c.mean, t.c.var).where(which)
            if self.dialect == "postgresql":
                query = query.with_for_update()
            row = conn.execute(query).first()
            if row is None:
                mean, var, samples = seconds, 0.0, 1
                # A racing first sample from another host wins; losing one sample is harmless.
                conn.execute(
                    upsert_insert(self.dialect, t)
                    .values(
                        key=key, name=name, samples=1, mean=mean, var=var, updated_at=self._clock()
                    )
                    .on_conflict_do_nothing()
                )
            else:
                diff = seconds - row.mean
                increment = EWMA_ALPHA * diff
                mean = row.mean + increment
                var = (1 - EWMA_ALPHA) * (row.var + diff * increment)
                samples = row.samples + 1
                conn.execute(
                    t.update()
                    .where(which)
                    .values(samples=samples, mean=mean, var=var, updated_at=self._clock())
                )
        return Timing(mean=mean, std=math.sqrt(max(var, 0.0)), samples=samples)

    def timings(self, key: str) -> dict[str, Timing]:
        """Return every recorded average for ``key``, by name (stage, ``step`` or ``total``)."""
        with self._read() as conn:
            rows = conn.execute(_TIMINGS_OF_KEY, {"key": key[:255]}).mappings().all()
        return {
            row["name"]: Timing(
                mean=row["mean"], std=math.sqrt(max(row["var"], 0.0)), samples=row["samples"]
            )
            for row in rows
        }

    def expected_job_seconds(
        self, spec: JobSpec, *, engine: str | None = None, model: str | None = None
    ) -> float:
        """How long a job like this usually runs.

        Measured jobs like it come first; before any, the prior for the engine and
        model that will run it (``engine``/``model``, else what a live worker
        serves), scaled by frames, pixels and steps; for an unknown family, the
        configured ``I2V_ETA_PRIOR_SECONDS``.
        """
        total = self.timings(request_key(spec)).get(TOTAL)
        if total is not None:
            return total.mean
        if engine is None:
            engine, model = self._serving(spec)
        prior = prior_seconds(spec, engine, model)
        return self.eta_prior_seconds if prior is None else prior

    def _serving(self, spec: JobSpec) -> tuple[str | None, str | None]:
        """The engine and model of a live worker that would take ``spec`` (None, None if none)."""
        live_since = self._clock() - self.lease_seconds
        with self._read() as conn:
            rows = conn.execute(_LIVE_ENGINES, {"live_since": live_since}).all()
        for row in rows:
            if not spec.model or row.model == spec.model:
                return row.engine, row.model
        return None, None
