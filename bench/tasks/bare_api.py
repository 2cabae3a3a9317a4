"""The framework's floor for bench/api_load.py --floor: FastAPI on uvicorn, one GET, no i2v.

    python bench/tasks/bare_api.py PORT

``GET /v1/jobs/{id}`` answers a job-sized JSON body made once, with uvicorn run as
``i2v api`` runs it, so the same load shows what the HTTP server and the router cost
by themselves.
"""

from __future__ import annotations

import json
import sys

import uvicorn
from fastapi import FastAPI, Response

app = FastAPI()
BODY = json.dumps(
    {
        "id": "a" * 10,
        "status": "queued",
        "spec": {"prompt": "steam rising from a cup of coffee", "duration_seconds": 2.0},
        "progress": 0.0,
        "queue_position": 1,
        "eta_seconds": 3.8,
        "created_at": "2026-12-07T05:00:00+00:00",
    }
).encode()


@app.get("/v1/jobs/{job_id}")
async def job(job_id: str) -> Response:
    """The same body for every id."""
    return Response(BODY, media_type="application/json")


@app.get("/readyz")
async def ready() -> Response:
    """Ready as soon as it listens."""
    return Response(b'{"ready": true}', media_type="application/json")


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, proxy_headers=False)
