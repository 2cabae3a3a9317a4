"""The job store: the only place a job's status changes, one guarded statement per transition.

It is assembled from parts, each in its own module: what front ends do
(:mod:`~i2v.store.submissions`), what workers do under a lease
(:mod:`~i2v.store.leases`), media (:mod:`~i2v.store.media`), the worker
registry (:mod:`~i2v.store.workers`) and stage timings (:mod:`~i2v.store.timings`).
"""

from __future__ import annotations

from i2v.store.base import StoreBase
from i2v.store.leases import Lease, Leases
from i2v.store.media import MediaStore
from i2v.store.submissions import Submissions
from i2v.store.timings import TimingStats
from i2v.store.workers import WorkerRegistry

__all__ = ["JobStore", "Lease"]


class JobStore(Leases, Submissions, MediaStore, WorkerRegistry, TimingStats, StoreBase):
    """Durable job queue on SQLite or PostgreSQL; build it with :func:`i2v.store.open_store`."""
