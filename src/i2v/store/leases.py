"""The worker side of the store: claiming jobs and every write guarded by the lease token.

Every worker write carries the lease token it got from :meth:`Leases.claim`
(``WHERE id = ? AND lease_token = ?``). When no row changes, the worker has
lost the job (its lease expired and someone else took it): the store raises
:class:`~i2v.errors.LeaseLost` and the worker throws its output away. That is
what keeps "at least once" from becoming "delivered twice".
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from i2v.errors import ErrorCode, LeaseLost
from i2v.jobs import Job, JobStatus, Stage
from i2v.store import pgwrites, schema, statements, wakeups
from i2v.store.media import THUMBNAIL, VIDEO, write_media
from i2v.store.rows import job_from_row

if TYPE_CHECKING:
    from i2v.store.submissions import Submissions
else:
    Submissions = object

J = schema.jobs
_QUEUED = JobStatus.QUEUED.value
_RUNNING = JobStatus.RUNNING.value
#: Engine values a worker of any engine may take (the job did not ask for one).
_ANY_ENGINE = (None, "auto")


@dataclass(frozen=True)
class Lease:
    """A claimed job and the token that every write about it must carry."""

    job: Job
    token: str


class Leases(Submissions):
    """What workers do with jobs, each write guarded by the lease."""

    def claim(
        self,
        worker_id: str,
        *,
        engines: Collection[str] | None = None,
        models: Collection[str] | None = None,
        job_id: str | None = None,
    ) -> Lease | None:
        """Atomically take the next queued job (priority, then FIFO); None if there is none.

        ``engines`` and ``models`` limit the claim to jobs this worker can run (jobs that
        name none fit every worker); ``job_id`` claims that one job only, if still queued.
        """
        now = self._clock()
        token = secrets.token_hex(8)
        statement = statements.claim_update(
            self.dialect == "postgresql",
            engines is not None,
            models is not None,
            job_id is not None,
        )
        params: dict[str, Any] = {
            "claim_worker": worker_id,
            "claim_token": token,
            "claim_now": now,
            "claim_expires": now + self.lease_seconds,
        }
        if engines is not None:
            params["claim_engines"] = [e for e in _ANY_ENGINE if e is not None] + list(engines)
        if models is not None:
            params["claim_models"] = list(models)
        if job_id is not None:
            params["claim_job"] = job_id
        if self.dialect == "postgresql":
            # One statement, one round trip; its commit skips the disk flush (see pgwrites).
            row = pgwrites.run_one(self._engine, self._url, pgwrites.claim(statement), params)
        else:
            with self._write() as conn:
                row = conn.execute(statement, params).mappings().first()
                if row is not None:
                    conn.execute(
                        schema.workers.update()
                        .where(schema.workers.c.id == worker_id)
                        .values(job_id=row["id"], heartbeat_at=now)
                    )
        return None if row is None else Lease(job=job_from_row(row), token=token)

    def heartbeat(self, worker_id: str, job_ids: Collection[str] | None = None) -> set[str]:
        """Renew the lease of every job the worker holds (or of ``job_ids`` only); return those.

        A worker passes the jobs it knows it holds, so a job claimed by a write whose answer
        was lost (the connection dropped after the commit) is not renewed forever: its lease
        lapses and the job goes back to the queue.
        """
        now = self._clock()
        mine = [J.c.worker_id == worker_id, J.c.status == _RUNNING]
        if job_ids is not None:
            mine.append(J.c.id.in_(list(job_ids)))
        with self._write() as conn:
            held = (
                conn.execute(
                    J.update()
                    .where(*mine)
                    .values(lease_expires_at=now + self.lease_seconds)
                    .returning(J.c.id)
                )
                .scalars()
                .all()
            )
            conn.execute(
                schema.workers.update()
                .where(schema.workers.c.id == worker_id)
                .values(heartbeat_at=now)
            )
        return set(held)

    def report_progress(
        self,
        job_id: str,
        lease: str,
        *,
        stage: Stage,
        progress: float,
        eta_seconds: float | None = None,
        warnings: Sequence[str] | None = None,
    ) -> bool:
        """Record stage, progress (never backwards) and ETA; return True if cancel was requested."""
        now = self._clock()
        progress = min(1.0, max(0.0, progress))
        values: dict[str, Any] = {
            "stage": stage.value,
            "progress": sa.case((J.c.progress > progress, J.c.progress), else_=progress),
            "eta_seconds": eta_seconds,
            "updated_at": now,
        }
        if warnings is not None:
            values["warnings"] = list(warnings)
        with self._write() as conn:
            cancel = conn.execute(
                J.update()
                .where(*self._held(job_id, lease))
                .values(**values)
                .returning(J.c.cancel_requested)
            ).scalar()
            if cancel is not None:
                wakeups.notify(conn, wakeups.CHANGED, job_id)
        if cancel is None:
            raise LeaseLost(f"job {job_id}: lease lost, another worker may hold it")
        return bool(cancel)

    def succeed(
        self,
        job_id: str,
        lease: str,
        *,
        result: Mapping[str, Any],
        video: bytes | Path,
        thumbnail: bytes | None = None,
        warnings: Sequence[str] | None = None,
    ) -> Job:
        """Store the video (and thumbnail) and mark the job succeeded, all or nothing."""
        now = self._clock()
        values: dict[str, Any] = {
            "result": dict(result),
            "progress": 1.0,
            # An earlier attempt's error is history once a later one succeeds.
            "error_code": None,
            "error_message": None,
            "error_detail": None,
        }
        if warnings is not None:
            values["warnings"] = list(warnings)
        files: list[tuple[str, bytes | Path, str]] = [(VIDEO, video, "video/mp4")]
        if thumbnail is not None:
            files.append((THUMBNAIL, thumbnail, "image/jpeg"))
        if self.dialect == "postgresql" and pgwrites.fits_one_statement(
            self.media_blobs, [data for _, data, _ in files]
        ):
            return self._succeed_in_one_statement(job_id, lease, now, values, files)
        with self._write() as conn:
            job = self._finish(conn, job_id, lease, JobStatus.SUCCEEDED, **values)
            write_media(conn, job_id, VIDEO, video, "video/mp4", now)
            if thumbnail is not None:
                write_media(conn, job_id, THUMBNAIL, thumbnail, "image/jpeg", now)
        # The row as the update left it (storing media does not change it): no second read.
        return job

    def fail(
        self, job_id: str, lease: str, code: ErrorCode, message: str, *, detail: str | None = None
    ) -> Job:
        """Mark the job failed for good.

        ``code`` picks the sentence every front end shows in its reader's language,
        ``message`` is a plain English summary safe to show anyone, and ``detail``
        (exception, traceback) is kept for admins only.
        """
        with self._write() as conn:
            self._finish(
                conn,
                job_id,
                lease,
                JobStatus.FAILED,
                error_code=code.value,
                error_message=message,
                error_detail=detail,
            )
        return self.get(job_id)

    def mark_canceled(self, job_id: str, lease: str) -> Job:
        """Mark a running job canceled after its worker stopped it."""
        with self._write() as conn:
            self._finish(conn, job_id, lease, JobStatus.CANCELED)
        return self.get(job_id)

    def release(
        self, job_id: str, lease: str, *, error: tuple[ErrorCode, str] | None = None
    ) -> Job:
        """Give a running job back to the queue.

        Without ``error`` (graceful stop) the attempt does not count. With one (stall,
        deadline, crashed child) it counts, and when no attempts remain the job fails
        with that error instead. A job whose cancel was requested ends canceled.
        """
        now = self._clock()
        with self._write() as conn:
            row = conn.execute(
                sa.select(J.c.attempts, J.c.max_attempts, J.c.cancel_requested).where(
                    *self._held(job_id, lease)
                )
            ).first()
            if row is None:
                raise LeaseLost(f"job {job_id}: lease lost, another worker may hold it")
            if row.cancel_requested:
                # The user asked to stop it: never hand it to another worker.
                self._finish(conn, job_id, lease, JobStatus.CANCELED)
            elif error is not None and row.attempts >= row.max_attempts:
                self._finish(
                    conn,
                    job_id,
                    lease,
                    JobStatus.FAILED,
                    error_code=error[0].value,
                    error_message=error[1],
                    error_detail=None,
                )
            else:
                attempts = J.c.attempts - 1 if error is None else J.c.attempts
                conn.execute(
                    J.update()
                    .where(*self._held(job_id, lease))
                    .values(
                        attempts=attempts,
                        error_code=None if error is None else error[0].value,
                        error_message=None if error is None else error[1],
                        error_detail=None,
                        **self._requeued(now),
                    )
                )
                wakeups.notify(conn, wakeups.QUEUED, job_id)
            wakeups.notify(conn, wakeups.CHANGED, job_id)
        return self.get(job_id)

    def requeue_expired(self) -> list[str]:
        """Requeue running jobs whose lease expired (or fail them once attempts run out)."""
        now = self._clock()
        expired = sa.and_(J.c.status == _RUNNING, J.c.lease_expires_at < now)
        message = "the worker running this job stopped responding"
        with self._write() as conn:
            requeued = (
                conn.execute(
                    J.update()
                    .where(
                        expired, J.c.attempts < J.c.max_attempts, J.c.cancel_requested.is_(False)
                    )
                    .values(
                        error_code=ErrorCode.WORKER_LOST.value,
                        error_message=message,
                        **self._requeued(now),
                    )
                    .returning(J.c.id)
                )
                .scalars()
                .all()
            )
            canceled = (
                conn.execute(
                    J.update()
                    .where(expired, J.c.cancel_requested.is_(True))
                    .values(status=JobStatus.CANCELED.value, finished_at=now, **self._unleased(now))
                    .returning(J.c.id)
                )
                .scalars()
                .all()
            )
            failed = (
                conn.execute(
                    J.update()
                    .where(expired)
                    .values(
                        status=JobStatus.FAILED.value,
                        error_code=ErrorCode.WORKER_LOST.value,
                        error_message=f"{message}, {self.max_attempts} times; giving up",
                        finished_at=now,
                        **self._unleased(now),
                    )
                    .returning(J.c.id)
                )
                .scalars()
                .all()
            )
        return [*requeued, *canceled, *failed]

    def expire_queued(self, ttl_seconds: float) -> list[str]:
        """Fail queued jobs that have waited longer than ``ttl_seconds``."""
        now = self._clock()
        hours = ttl_seconds / 3600
        with self._write() as conn:
            return list(
                conn.execute(
                    J.update()
                    .where(J.c.status == _QUEUED, J.c.created_at < now - ttl_seconds)
                    .values(
                        status=JobStatus.FAILED.value,
                        error_code=ErrorCode.EXPIRED.value,
                        error_message=f"no worker started this job within {hours:g} hours",
                        finished_at=now,
                        updated_at=now,
                    )
                    .returning(J.c.id)
                ).scalars()
            )

    # --- helpers ----------------------------------------------------------------------

    @staticmethod
    def _held(job_id: str, lease: str) -> tuple[sa.ColumnElement[bool], ...]:
        return (J.c.id == job_id, J.c.lease_token == lease, J.c.status == _RUNNING)

    @staticmethod
    def _requeued(now: float) -> dict[str, Any]:
        # A job back in the queue starts over, so it must not read "32 %" while it waits.
        return {"status": _QUEUED, "progress": 0.0, **Leases._unleased(now)}

    @staticmethod
    def _unleased(now: float) -> dict[str, Any]:
        return {
            "worker_id": None,
            "lease_token": None,
            "lease_expires_at": None,
            "stage": None,
            "updated_at": now,
        }

    def _finish(
        self, conn: sa.Connection, job_id: str, lease: str, status: JobStatus, **values: Any
    ) -> Job:
        update = statements.finish_update(tuple(sorted(values)))
        params = statements.finish_params(job_id, lease, status, self._clock(), values)
        if self.dialect == "postgresql":
            # The notification rides in the same statement (sent on commit, as always).
            row = conn.execute(pgwrites.finish(update), params).mappings().first()
        else:
            row = conn.execute(update, params).mappings().first()
            if row is not None:
                wakeups.notify(conn, wakeups.CHANGED, job_id)
        if row is None:
            raise LeaseLost(f"job {job_id}: lease lost, another worker may hold it")
        return job_from_row(row)

    def _succeed_in_one_statement(
        self,
        job_id: str,
        lease: str,
        now: float,
        values: Mapping[str, Any],
        files: Sequence[tuple[str, bytes | Path, str]],
    ) -> Job:
        """PostgreSQL, small files: :meth:`succeed` as one statement (its own transaction)."""
        kinds, params = pgwrites.small_files(files, now)
        params.update(
            statements.finish_params(job_id, lease, JobStatus.SUCCEEDED, self._clock(), values)
        )
        update = statements.finish_update(tuple(sorted(values)))
        row = pgwrites.run_one(self._engine, self._url, pgwrites.succeed(update, kinds), params)
        if row is None:
            raise LeaseLost(f"job {job_id}: lease lost, another worker may hold it")
        return job_from_row(row)
