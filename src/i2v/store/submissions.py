"""The front-end side of the store: submitting, reading, listing and canceling jobs."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from i2v.errors import InputError, JobNotFound, StoreError
from i2v.jobs import MAX_PRIORITY, Job, JobSpec, JobStatus, QueuePosition, new_job_id
from i2v.store import pgwrites, schema, statements, wakeups
from i2v.store.media import PHOTO, write_media
from i2v.store.rows import job_from_row, position_from_row
from i2v.store.timings import request_key

if TYPE_CHECKING:
    from i2v.store.timings import TimingStats
    from i2v.store.workers import WorkerRegistry

    class _Base(WorkerRegistry, TimingStats): ...
else:
    _Base = object

J = schema.jobs
_QUEUED = JobStatus.QUEUED.value
_RUNNING = JobStatus.RUNNING.value

# The one statement behind get_with_position (every GET of a job), built once: building
# aliased subqueries costs more CPU than SQLite takes to run them. Queue figures are
# computed only for a queued job (CASE evaluates its subqueries only when it needs them).
_AHEAD = J.alias("ahead")
_RUNNING_JOBS = J.alias("running")
_IS_AHEAD = sa.and_(
    _AHEAD.c.status == _QUEUED,
    sa.or_(
        _AHEAD.c.priority > J.c.priority,
        sa.and_(_AHEAD.c.priority == J.c.priority, _AHEAD.c.seq < J.c.seq),
    ),
)
_IS_QUEUED = J.c.status == _QUEUED
_JOB_WITH_POSITION = sa.select(
    J,
    sa.select(sa.func.count())
    .select_from(schema.workers)
    .where(schema.workers.c.heartbeat_at >= sa.bindparam("live_since"))
    .scalar_subquery()
    .label("live_workers"),
    sa.case(
        (
            _IS_QUEUED,
            sa.select(sa.func.count()).select_from(_AHEAD).where(_IS_AHEAD).scalar_subquery(),
        ),
        else_=0,
    ).label("ahead_count"),
    sa.case(
        (
            _IS_QUEUED,
            sa.select(sa.func.coalesce(sa.func.sum(_AHEAD.c.eta_seconds), 0.0))
            .where(_IS_AHEAD)
            .scalar_subquery(),
        ),
        else_=0.0,
    ).label("ahead_seconds"),
    sa.case(
        (
            _IS_QUEUED,
            sa.select(sa.func.coalesce(sa.func.sum(_RUNNING_JOBS.c.eta_seconds), 0.0))
            .where(_RUNNING_JOBS.c.status == _RUNNING)
            .scalar_subquery(),
        ),
        else_=0.0,
    ).label("running_seconds"),
).where(J.c.id == sa.bindparam("job_id"))
_OWNERS_JOB_WITH_POSITION = _JOB_WITH_POSITION.where(J.c.owner == sa.bindparam("owner"))


def _one(job_id: str, owner: str | None) -> list[sa.ColumnElement[bool]]:
    """The conditions naming one job, and its owner when one is given."""
    conditions = [J.c.id == job_id]
    if owner is not None:
        conditions.append(J.c.owner == owner)
    return conditions


class Submissions(_Base):
    """What front ends (CLI, bot, API) do with jobs."""

    def submit(self, spec: JobSpec, photo: bytes, *, content_type: str = "image/jpeg") -> Job:
        """Queue a job with its photo; the same ``dedupe_key`` twice returns the first job."""
        if not -MAX_PRIORITY <= spec.priority <= MAX_PRIORITY:
            raise InputError(
                f"priority {spec.priority} is out of range; "
                f"use a whole number from {-MAX_PRIORITY} to {MAX_PRIORITY}"
            )
        now = self._clock()
        job_id = new_job_id()
        values = {
            "id": job_id,
            "status": _QUEUED,
            "priority": spec.priority,
            "spec": spec.to_dict(),
            "source": spec.source,
            "owner": spec.owner,
            "engine": spec.engine,
            "model": spec.model,
            "dedupe_key": spec.dedupe_key,
            "eta_key": request_key(spec),
            "eta_seconds": self.expected_job_seconds(spec),
            "progress": 0.0,
            "attempts": 0,
            "max_attempts": self.max_attempts,
            "cancel_requested": False,
            "created_at": now,
            "updated_at": now,
            "notify": dict(spec.notify) if spec.notify is not None else None,
            "delivered": False,
            "warnings": [],
        }
        params = {f"new_{column}": value for column, value in values.items()}
        if self.dialect == "postgresql" and pgwrites.fits_one_statement(self.media_blobs, [photo]):
            # One statement, one round trip (see pgwrites); its commit waits for the disk.
            kinds, photo_params = pgwrites.small_files([(PHOTO, photo, content_type)], now)
            statement = pgwrites.submit(statements.submit_insert(self.dialect), kinds)
            inserted = pgwrites.run_one(self._engine, self._url, statement, params | photo_params)
        else:
            with self._write() as conn:
                inserted = (
                    conn.execute(statements.submit_insert(self.dialect), params).mappings().first()
                )
                if inserted is not None:
                    write_media(conn, job_id, PHOTO, photo, content_type, now)
                    wakeups.notify(conn, wakeups.QUEUED, job_id)
        if inserted is not None:
            # The new row as inserted: no second transaction to read it back.
            return job_from_row(inserted)
        existing = self.find_by_dedupe_key(spec.dedupe_key) if spec.dedupe_key else None
        if existing is None:  # not a known dedupe key: the random id was taken
            raise StoreError(f"job id {job_id} is already taken; submit again")
        return existing

    def get(self, job_id: str, *, owner: str | None = None) -> Job:
        """Return the job; raise JobNotFound if there is none with that id (and ``owner``)."""
        job = self.find(job_id, owner=owner)
        if job is None:
            raise JobNotFound(f"no job with id {job_id!r}")
        return job

    def find(self, job_id: str, *, owner: str | None = None) -> Job | None:
        """Return the job, or None; with ``owner``, only if that owner submitted it."""
        with self._read() as conn:
            row = conn.execute(sa.select(J).where(*_one(job_id, owner))).mappings().first()
        return None if row is None else job_from_row(row)

    def find_by_dedupe_key(self, key: str) -> Job | None:
        """Return the job submitted with this dedupe key, or None."""
        with self._read() as conn:
            row = conn.execute(sa.select(J).where(J.c.dedupe_key == key)).mappings().first()
        return None if row is None else job_from_row(row)

    def list_jobs(
        self,
        *,
        statuses: Collection[JobStatus] | None = None,
        source: str | None = None,
        owner: str | None = None,
        updated_after: float | None = None,
        undelivered: bool = False,
        limit: int = 50,
        offset: int = 0,
        oldest_first: bool = False,
    ) -> list[Job]:
        """Return jobs matching every filter given, newest first unless ``oldest_first``."""
        query = sa.select(J).where(
            *self._filters(statuses, source, owner, updated_after, undelivered)
        )
        order = J.c.seq.asc() if oldest_first else J.c.seq.desc()
        query = query.order_by(order).limit(limit).offset(offset)
        with self._read() as conn:
            return [job_from_row(row) for row in conn.execute(query).mappings()]

    def count_jobs(
        self,
        *,
        statuses: Collection[JobStatus] | None = None,
        source: str | None = None,
        owner: str | None = None,
        created_after: float | None = None,
    ) -> int:
        """Count jobs matching every filter given."""
        conditions = self._filters(statuses, source, owner, None, False)
        if created_after is not None:
            conditions.append(J.c.created_at >= created_after)
        with self._read() as conn:
            query = sa.select(sa.func.count()).select_from(J).where(*conditions)
            return int(conn.execute(query).scalar_one())

    @staticmethod
    def _filters(
        statuses: Collection[JobStatus] | None,
        source: str | None,
        owner: str | None,
        updated_after: float | None,
        undelivered: bool,
    ) -> list[sa.ColumnElement[bool]]:
        conditions: list[sa.ColumnElement[bool]] = []
        if statuses is not None:
            conditions.append(J.c.status.in_([s.value for s in statuses]))
        if source is not None:
            conditions.append(J.c.source == source)
        if owner is not None:
            conditions.append(J.c.owner == owner)
        if updated_after is not None:
            conditions.append(J.c.updated_at > updated_after)
        if undelivered:
            conditions.append(J.c.delivered.is_(False))
        return conditions

    def queue_position(self, job_id: str) -> QueuePosition:
        """Where a queued job stands and how long until it starts (0 if it is not queued)."""
        return self.get_with_position(job_id)[1]

    def get_with_position(
        self, job_id: str, *, owner: str | None = None
    ) -> tuple[Job, QueuePosition]:
        """The job (only ``owner``'s, if given) and its queue position, read in one statement."""
        live_since = self._clock() - self.lease_seconds
        statement, params = _JOB_WITH_POSITION, {"job_id": job_id, "live_since": live_since}
        if owner is not None:
            statement, params = _OWNERS_JOB_WITH_POSITION, {**params, "owner": owner}
        with self._read() as conn:
            row = conn.execute(statement, params).mappings().first()
            if row is None:
                raise JobNotFound(f"no job with id {job_id!r}")
            serving = None
            if row["status"] == _QUEUED:
                # No live worker at all: none serves it, and the second read is not needed.
                live = int(row["live_workers"]) > 0
                serving = self._count_serving(conn, row["engine"], row["model"]) if live else 0
        return job_from_row(row), position_from_row(row, serving)

    def request_cancel(self, job_id: str, *, owner: str | None = None) -> Job:
        """Cancel a queued job at once; flag a running one for its worker; leave finished ones.

        With ``owner``, only that owner's job: another's raises JobNotFound and is untouched.
        """
        now = self._clock()
        mine = _one(job_id, owner)
        with self._write() as conn:
            if owner is not None and conn.execute(sa.select(J.c.id).where(*mine)).first() is None:
                raise JobNotFound(f"no job with id {job_id!r}")
            conn.execute(
                J.update()
                .where(*mine, J.c.status == _QUEUED)
                .values(
                    status=JobStatus.CANCELED.value,
                    cancel_requested=True,
                    finished_at=now,
                    updated_at=now,
                )
            )
            conn.execute(
                J.update()
                .where(*mine, J.c.status == _RUNNING, J.c.cancel_requested.is_(False))
                .values(cancel_requested=True, updated_at=now)
            )
            wakeups.notify(conn, wakeups.CANCEL, job_id)
            wakeups.notify(conn, wakeups.CHANGED, job_id)
        return self.get(job_id, owner=owner)

    def set_notify(self, job_id: str, notify: Mapping[str, Any]) -> None:
        """Replace the front end's notify data (e.g. after sending the status message)."""
        with self._write() as conn:
            conn.execute(J.update().where(J.c.id == job_id).values(notify=dict(notify)))

    def claim_delivery(self, job_id: str, holder: str, ttl_seconds: float) -> bool:
        """Take (or renew) the right to send this job's result for ``ttl_seconds``.

        True for the holder that may send now; False while another holder's claim is
        live or once the job is delivered. Two bot processes (a rolling restart) can
        then never both upload the same video.
        """
        now = self._clock()
        free = sa.or_(
            J.c.delivery_holder.is_(None),
            J.c.delivery_holder == holder,
            J.c.delivery_until < now,
        )
        with self._write() as conn:
            changed = conn.execute(
                J.update()
                .where(J.c.id == job_id, J.c.delivered.is_(False), free)
                .values(delivery_holder=holder, delivery_until=now + ttl_seconds)
            ).rowcount
        return bool(changed)

    def mark_delivered(self, job_id: str) -> bool:
        """Record that the result reached the user; True only for the call that recorded it."""
        with self._write() as conn:
            changed = conn.execute(
                J.update().where(J.c.id == job_id, J.c.delivered.is_(False)).values(delivered=True)
            ).rowcount
        return bool(changed)

    def get_user_settings(self, owner: str) -> dict[str, Any]:
        """Return a user's saved preferences (empty if none)."""
        t = schema.user_settings
        with self._read() as conn:
            data = conn.execute(sa.select(t.c.data).where(t.c.owner == owner)).scalar()
        return dict(data or {})

    def put_user_settings(self, owner: str, data: Mapping[str, Any]) -> None:
        """Save a user's preferences, replacing the old ones."""
        t = schema.user_settings
        with self._write() as conn:
            conn.execute(t.delete().where(t.c.owner == owner))
            conn.execute(t.insert().values(owner=owner, data=dict(data), updated_at=self._clock()))
