"""Liveness, readiness and the worker list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from i2v.api.problems import ProblemCode, ProblemError, problem_responses
from i2v.api.schemas import HealthOut, WorkerListOut
from i2v.api.security import Guard
from i2v.store import JobStore, migrations, schema_version


def build_health_router(store: JobStore, guard: Guard) -> APIRouter:
    """/healthz, /readyz (open, for probes) and /v1/workers (behind the token)."""
    router = APIRouter()

    @router.get("/healthz", response_model=HealthOut, tags=["health"], summary="Process alive")
    async def healthz() -> dict[str, Any]:
        """Answers as long as the process serves requests; touches nothing else."""
        return {"status": "ok"}

    @router.get(
        "/readyz",
        response_model=HealthOut,
        tags=["health"],
        summary="Database reachable and migrated",
        responses=problem_responses(503),
    )
    def readyz() -> dict[str, Any]:
        """Ready when the job database answers and its schema is the one this i2v needs."""
        version = schema_version(store)
        if version != migrations.HEAD:
            raise ProblemError(
                503,
                ProblemCode.STORE_UNAVAILABLE,
                f"the database is at schema version {version}, this i2v needs "
                f"{migrations.HEAD}; run: i2v db upgrade",
            )
        return {"status": "ok", "schema_version": version}

    @router.get(
        "/v1/workers",
        response_model=WorkerListOut,
        tags=["workers"],
        summary="List workers",
        dependencies=[Depends(guard)],
        responses=problem_responses(401, 429, 503),
    )
    def list_workers() -> dict[str, Any]:
        """Workers seen recently, most recently seen first, with their state and GPU reading."""
        workers = store.list_workers()
        return {
            "workers": [
                {**worker.to_dict(), "alive": store.is_worker_alive(worker)} for worker in workers
            ]
        }

    return router
