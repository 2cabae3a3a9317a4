"""HTTP API load benchmark on loopback: reads, uploads and live event streams.

    python bench/api_load.py [--clients 50] [--seconds 10] [--uploads 300] [--streams 200]
                             [--workers 1] [--database-url URL]

The API runs as ``i2v api --workers N`` in processes of its own (rate limit off,
log level WARNING, so no access lines); this process is the load. Reads and
uploads go over keep-alive connections with a minimal HTTP client, so the load
costs a small fraction of the server's CPU (httpx cost twice the server's per
read). Both still share the machine's cores, so the numbers are a floor for a
server with a machine of its own; the server's CPU time per request (Linux)
does not depend on what else runs.

* ``GET /v1/jobs/{id}``: ``--clients`` clients in a closed loop for ``--seconds``;
  goal p99 <= 50 ms.
* ``POST /v1/jobs`` with a 2 MB photo: ``--clients`` clients share ``--uploads``
  uploads; goal p99 <= 300 ms.
* SSE: ``--streams`` open event streams, one per queued job. First the job at the
  head of the queue is canceled (every other stream must hear its new position),
  then every job is canceled one by one (each stream must hear its end). Latency
  is from the store write's commit to the event's arrival; goal: all within 1 s.

Prints a table and writes bench/results/api_load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

from i2v.jobs import JobSpec
from i2v.store import JobStore, open_store_url
from loopback_http import Connection, get_request, upload_request

RESULTS = Path(__file__).resolve().parent / "results"
PHOTO_BYTES = 2 * 1024 * 1024


def start_server(url: str, folder: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    """Start ``i2v api`` over ``url`` on loopback, as a user would."""
    env = {
        **os.environ,
        "I2V_DATABASE_URL": url,
        "I2V_DATA_DIR": folder,
        "I2V_API_RATE_LIMIT_PER_SECOND": "0",
        "I2V_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "i2v", "api", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    return subprocess.Popen(command, env=env)


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by process ``pid`` and its children (Linux; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(int(child)) for child in children)


def server_cpu_ms(pid: int, before: float, requests: int) -> float:
    """Server CPU milliseconds per request since ``before``."""
    return round((cpu_seconds(pid) - before) * 1000 / max(1, requests), 2)


def make_photo(target: int = PHOTO_BYTES) -> bytes:
    """A JPEG of about ``target`` bytes: a smooth gradient with enough noise to resist compression."""
    rng = np.random.default_rng(7)
    side = 1200
    while True:
        y, x = np.mgrid[0:side, 0:side]
        base = np.stack([x * 255 // side, y * 255 // side, (x + y) * 127 // side], axis=-1)
        noise = rng.integers(0, 60, size=(side, side, 3))
        pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "JPEG", quality=92)
        if buffer.tell() >= target:
            return buffer.getvalue()
        side = int(side * 1.15)


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50, p99 and max in milliseconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(p99 * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


async def bench_reads(
    port: int, job_ids: list[str], clients: int, seconds: float
) -> dict[str, Any]:
    """Closed-loop GETs of job records, one keep-alive connection per client."""
    latencies: list[float] = []
    errors = 0
    requests = [get_request(f"/v1/jobs/{job_id}") for job_id in job_ids]
    stop = time.perf_counter() + seconds

    async def one(index: int) -> None:
        nonlocal errors
        connection = await Connection.open(port)
        n = index
        while time.perf_counter() < stop:
            started = time.perf_counter()
            status, _ = await connection.send(requests[n % len(requests)])
            latencies.append(time.perf_counter() - started)
            errors += status != 200
            n += clients
        await connection.close()

    await asyncio.gather(*(one(i) for i in range(clients)))
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": round(len(latencies) / seconds),
        **percentiles(latencies),
    }


async def bench_uploads(port: int, photo: bytes, clients: int, uploads: int) -> dict[str, Any]:
    """``uploads`` photo submissions spread over ``clients`` concurrent clients."""
    latencies: list[float] = []
    errors = 0
    queue = list(range(uploads))
    request = upload_request(photo, {"duration": "2", "resolution": "480p"})
    started_all = time.perf_counter()

    async def one() -> None:
        nonlocal errors
        connection = await Connection.open(port)
        while queue:
            queue.pop()
            started = time.perf_counter()
            status, _ = await connection.send(request)
            latencies.append(time.perf_counter() - started)
            errors += status != 202
        await connection.close()

    await asyncio.gather(*(one() for _ in range(clients)))
    elapsed = time.perf_counter() - started_all
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": round(len(latencies) / elapsed, 1),
        **percentiles(latencies),
    }


async def bench_streams(base: str, store: JobStore, photo: bytes, streams: int) -> dict[str, Any]:
    """Open one event stream per queued job, change the store, time each event's arrival."""
    job_ids = [store.submit(JobSpec(duration_seconds=2), photo).id for _ in range(streams)]
    arrivals: dict[str, list[tuple[float, str, dict[str, Any]]]] = {j: [] for j in job_ids}
    opened = asyncio.Event()
    ready = 0
    limits = httpx.Limits(max_connections=streams + 10, max_keepalive_connections=streams + 10)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:

        async def listen(job_id: str) -> None:
            nonlocal ready
            async with client.stream("GET", f"/v1/jobs/{job_id}/events") as response:
                name = ""
                async for line in response.aiter_lines():
                    if line.startswith("event:"):
                        name = line.split(":", 1)[1].strip()
                    elif line.startswith("data:"):
                        data = json.loads(line.split(":", 1)[1])
                        arrivals[job_id].append((time.perf_counter(), name, data))
                        if len(arrivals[job_id]) == 1:
                            ready += 1
                            if ready == streams:
                                opened.set()

        tasks = [asyncio.create_task(listen(j)) for j in job_ids]
        await asyncio.wait_for(opened.wait(), 120)
        await asyncio.sleep(1.0)

        # Round 1: the head of the queue leaves; every other stream's position changes.
        head = job_ids[0]
        await asyncio.to_thread(store.request_cancel, head)
        moved_at = time.perf_counter()
        await _until(lambda: all(len(arrivals[j]) >= 2 for j in job_ids), 10)
        queue_latency = [arrivals[j][1][0] - moved_at for j in job_ids if len(arrivals[j]) >= 2]
        positions_ok = all(
            arrivals[j][1][2]["queue"]["position"] == i for i, j in enumerate(job_ids[1:], 1)
        )

        # Round 2: every job is canceled in turn; each stream must hear its end.
        changed_at: dict[str, float] = {}
        for job_id in job_ids[1:]:
            await asyncio.to_thread(store.request_cancel, job_id)
            changed_at[job_id] = time.perf_counter()
            await asyncio.sleep(0.005)
        await asyncio.wait_for(asyncio.gather(*tasks), 30)

    end_latency = []
    for job_id, changed in changed_at.items():
        ends = [at for at, name, _ in arrivals[job_id] if name == "canceled"]
        end_latency.append(ends[0] - changed if ends else float("inf"))
    everything = queue_latency + end_latency
    return {
        "streams": streams,
        "queue_move": {
            "events": len(queue_latency),
            "positions_right": positions_ok,
            **percentiles(queue_latency),
        },
        "terminal": {"events": len(end_latency), **percentiles(end_latency)},
        "within_1s": sum(1 for x in everything if x <= 1.0),
        "events": len(everything),
    }


async def _until(condition: Any, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while not condition() and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)


def free_port() -> int:
    """A free TCP port on loopback."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(base: str, timeout: float = 30) -> None:
    """Wait until the server answers /readyz."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the API server did not start")


def main() -> None:
    """Run the three benchmarks and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--uploads", type=int, default=300)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1, help="i2v api --workers")
    parser.add_argument("--database-url", default=None, help="Default: SQLite in a temp folder.")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="i2v-api-bench-")
    url = args.database_url or f"sqlite:///{Path(folder, 'i2v.db').as_posix()}"
    store = open_store_url(url)
    photo = make_photo()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(url, folder, port, args.workers)
    try:
        wait_ready(base)
        seed = [store.submit(JobSpec(duration_seconds=2), photo).id for _ in range(20)]
        cpu = cpu_seconds(server.pid)
        reads = asyncio.run(bench_reads(port, seed, args.clients, args.seconds))
        reads["server_cpu_ms"] = server_cpu_ms(server.pid, cpu, reads["requests"])
        cpu = cpu_seconds(server.pid)
        uploads = asyncio.run(bench_uploads(port, photo, args.clients, args.uploads))
        uploads["server_cpu_ms"] = server_cpu_ms(server.pid, cpu, uploads["requests"])
        for job in store.list_jobs(limit=10_000):
            store.request_cancel(job.id)
        streams = asyncio.run(bench_streams(base, store, photo, args.streams))
    finally:
        server.terminate()
        server.wait(30)
        store.close()

    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.system(),
        },
        "database": "postgresql" if url.startswith("postgresql") else "sqlite",
        "clients": args.clients,
        "workers": args.workers,
        "photo_bytes": len(photo),
        "get_job": {**reads, "goal_p99_ms": 50},
        "post_job": {**uploads, "goal_p99_ms": 300},
        "sse": {**streams, "goal_ms": 1000},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "api_load.json").write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)


def print_table(report: dict[str, Any]) -> None:
    """The results as a small Markdown table."""
    get, post, sse = report["get_job"], report["post_job"], report["sse"]
    rows = [
        (
            "GET /v1/jobs/{id}",
            f"{report['clients']} clients",
            get["requests"],
            get["rps"],
            get["p50_ms"],
            get["p99_ms"],
            get["server_cpu_ms"],
            "p99 <= 50 ms",
            get["p99_ms"] <= 50,
        ),
        (
            "POST /v1/jobs (2 MB)",
            f"{report['clients']} clients",
            post["requests"],
            post["rps"],
            post["p50_ms"],
            post["p99_ms"],
            post["server_cpu_ms"],
            "p99 <= 300 ms",
            post["p99_ms"] <= 300,
        ),
        (
            "SSE queue moved",
            f"{sse['streams']} streams",
            sse["queue_move"]["events"],
            "",
            sse["queue_move"]["p50_ms"],
            sse["queue_move"]["p99_ms"],
            "",
            "all <= 1 s",
            sse["queue_move"]["max_ms"] <= 1000,
        ),
        (
            "SSE job ended",
            f"{sse['streams']} streams",
            sse["terminal"]["events"],
            "",
            sse["terminal"]["p50_ms"],
            sse["terminal"]["p99_ms"],
            "",
            "all <= 1 s",
            sse["terminal"]["max_ms"] <= 1000,
        ),
    ]
    print(
        f"database: {report['database']}, {report['workers']} server process(es), "
        f"{report['machine']['cpus']} CPUs shared by server and load"
    )
    print("| test | load | requests | req/s | p50 ms | p99 ms | server CPU ms/req | goal | met |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for name, load, count, rps, p50, p99, cpu, goal, met in rows:
        print(
            f"| {name} | {load} | {count} | {rps} | {p50} | {p99} | {cpu} | {goal} | {'yes' if met else 'no'} |"
        )
    print(
        f"SSE events within 1 s: {sse['within_1s']} of {sse['events']}; results in {RESULTS / 'api_load.json'}"
    )


if __name__ == "__main__":
    main()
