"""HTTP API load benchmark on loopback: reads, uploads and live event streams.

    python bench/api_load.py [--clients 50] [--seconds 10] [--uploads 300] [--streams 200]
                             [--workers 1] [--database-url URL] [--compare-ref REF] [--floor]

The API runs as ``i2v api --workers N`` in processes of its own (rate limit off,
log level WARNING, so no access lines); this process is the load. Reads and
uploads go over keep-alive connections with a minimal HTTP client, so the load
costs a small fraction of the server's CPU (httpx cost twice the server's per
read). Both still share the machine's cores, so the numbers are a floor for a
server with a machine of its own; the server's CPU time per request (Linux, from
/proc) depends less on what else runs, but still drifts on a busy machine.

``--compare-ref REF`` serves a copy of REF's sources (``git archive``) next to
this tree's, over the same database, and loads both in turn: GETs in ``--rounds``
interleaved spells, so both see the same spells of outside load and their ratio
holds where the absolute numbers drift. REF must share this tree's schema.
``--floor`` adds a bare FastAPI app on uvicorn (``tasks/bare_api.py``) to the GET
rounds: what the HTTP server and router cost before any of i2v's work.

* ``GET /v1/jobs/{id}``: ``--clients`` clients in a closed loop for ``--seconds``
  per server (after a short warm-up that is not counted); goals p99 <= 50 ms and
  server CPU <= 1 ms per request.
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

from i2v.jobs import JobSpec, JobStatus
from i2v.store import JobStore, open_store_url
from loopback_http import (
    ROOT,
    Connection,
    Server,
    cpu_seconds,
    free_port,
    get_request,
    source_trees,
    start_server,
    upload_request,
    wait_ready,
)

RESULTS = ROOT / "bench" / "results"
#: The name of the bare FastAPI server that --floor loads beside i2v's.
FLOOR = "bare fastapi"
PHOTO_BYTES = 2 * 1024 * 1024


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
) -> tuple[list[float], int]:
    """Closed-loop GETs of job records, one keep-alive connection per client.

    Returns each request's latency in seconds and the count of answers other than 200.
    """
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
    return latencies, errors


def run_reads(
    servers: dict[str, Server], job_ids: list[str], clients: int, seconds: float, rounds: int
) -> dict[str, dict[str, Any]]:
    """GET load on each server in turn, ``rounds`` times (order alternating), ``seconds`` each in all.

    Interleaving puts every server through the same spells of load from the rest of the
    machine, so their ratio holds even where the absolute numbers drift.
    """
    latencies: dict[str, list[float]] = {name: [] for name in servers}
    errors = dict.fromkeys(servers, 0)
    cpu = dict.fromkeys(servers, 0.0)
    for server in servers.values():
        # Warm up (first requests build caches and load lazily imported modules); not counted.
        asyncio.run(bench_reads(server.port, job_ids, clients, min(1.0, seconds / 10)))
    names = list(servers)
    for round_ in range(rounds):
        for name in names if round_ % 2 == 0 else names[::-1]:
            before = cpu_seconds(servers[name].process.pid)
            samples, failed = asyncio.run(
                bench_reads(servers[name].port, job_ids, clients, seconds / rounds)
            )
            cpu[name] += cpu_seconds(servers[name].process.pid) - before
            latencies[name] += samples
            errors[name] += failed
    return {
        name: {
            "requests": len(latencies[name]),
            "errors": errors[name],
            "rps": round(len(latencies[name]) / seconds),
            **percentiles(latencies[name]),
            "server_cpu_ms": round(cpu[name] * 1000 / max(1, len(latencies[name])), 3),
        }
        for name in servers
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


def main() -> None:
    """Run the three benchmarks on each source tree and report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="GET load per server")
    parser.add_argument("--rounds", type=int, default=None, help="GET spells per server")
    parser.add_argument("--uploads", type=int, default=300)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1, help="i2v api --workers")
    parser.add_argument("--database-url", default=None, help="Default: SQLite in a temp folder.")
    parser.add_argument("--compare-ref", default=None, help="git ref to serve side by side")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also load a bare FastAPI app (bench/tasks/bare_api.py) with the GETs: the floor",
    )
    args = parser.parse_args()
    rounds = args.rounds or (4 if args.compare_ref else 1)

    folder = Path(tempfile.mkdtemp(prefix="i2v-api-bench-"))
    url = args.database_url or f"sqlite:///{(folder / 'i2v.db').as_posix()}"
    store = open_store_url(url)
    photo = make_photo()
    servers: dict[str, Server] = {}
    floor: dict[str, Server] = {}
    try:
        for index, (name, src) in enumerate(source_trees(args.compare_ref, folder).items()):
            port = free_port()
            data = folder / f"data{index}"
            servers[name] = Server(port, start_server(url, data, port, args.workers, src))
        if args.floor:
            port = free_port()
            bare = [sys.executable, str(ROOT / "bench" / "tasks" / "bare_api.py"), str(port)]
            floor[FLOOR] = Server(port, subprocess.Popen(bare))
        for server in [*servers.values(), *floor.values()]:
            wait_ready(server.base)
        seed = [store.submit(JobSpec(duration_seconds=2), photo).id for _ in range(20)]
        reads = run_reads({**servers, **floor}, seed, args.clients, args.seconds, rounds)
        uploads = {}
        for name, server in servers.items():
            cpu = cpu_seconds(server.process.pid)
            uploads[name] = asyncio.run(
                bench_uploads(server.port, photo, args.clients, args.uploads)
            )
            uploads[name]["server_cpu_ms"] = server_cpu_ms(
                server.process.pid, cpu, uploads[name]["requests"]
            )
        streams = {}
        for name, server in servers.items():
            for job in store.list_jobs(statuses=[JobStatus.QUEUED], limit=10_000):
                store.request_cancel(job.id)
            streams[name] = asyncio.run(bench_streams(server.base, store, photo, args.streams))
    finally:
        for server in [*servers.values(), *floor.values()]:
            server.process.terminate()
            server.process.wait(30)
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
        "rounds": rounds,
        "photo_bytes": len(photo),
        "trees": {
            name: {
                "get_job": {**reads[name], "goal_p99_ms": 50, "goal_server_cpu_ms": 1.0},
                "post_job": {**uploads[name], "goal_p99_ms": 300},
                "sse": {**streams[name], "goal_ms": 1000},
            }
            for name in servers
        },
        "floor": {"get_job": reads[FLOOR]} if FLOOR in reads else None,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "api_load.json").write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)


def print_table(report: dict[str, Any]) -> None:
    """The results as a small Markdown table, one block of rows per source tree."""
    print(
        f"database: {report['database']}, {report['workers']} server process(es) per tree, "
        f"{report['machine']['cpus']} CPUs shared by servers and load, "
        f"GET load in {report['rounds']} interleaved round(s)"
    )
    print("| tree | test | load | count | req/s | p50 ms | p99 ms | server CPU ms/req | met |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    clients = f"{report['clients']} clients"
    for tree, result in report["trees"].items():
        get, post, sse = result["get_job"], result["post_job"], result["sse"]
        rows = [
            ("GET /v1/jobs/{id}", clients, get, get["p99_ms"] <= 50 and get["server_cpu_ms"] <= 1),
            ("POST /v1/jobs (2 MB)", clients, post, post["p99_ms"] <= 300),
        ]
        for name, key in (("SSE queue moved", "queue_move"), ("SSE job ended", "terminal")):
            events = {**sse[key], "requests": sse[key]["events"]}
            rows.append((name, f"{sse['streams']} streams", events, events["max_ms"] <= 1000))
        for name, load, row, met in rows:
            print(
                f"| {tree} | {name} | {load} | {row['requests']} | {row.get('rps', '')} "
                f"| {row['p50_ms']} | {row['p99_ms']} | {row.get('server_cpu_ms', '')} "
                f"| {'yes' if met else 'no'} |"
            )
        print(f"{tree}: SSE events within 1 s: {sse['within_1s']} of {sse['events']}")
    print("goals: GET p99 <= 50 ms and server CPU <= 1 ms; POST p99 <= 300 ms; SSE all <= 1 s")
    trees = list(report["trees"])
    if len(trees) == 2:
        before, after = (report["trees"][t]["get_job"]["server_cpu_ms"] for t in trees)
        print(
            f"GET server CPU per request: {before} ms ({trees[0]}) -> {after} ms ({trees[1]}), "
            f"{before / max(after, 1e-9):.2f}x less"
        )
    if report.get("floor"):
        bare = report["floor"]["get_job"]
        print(
            f"floor (bare FastAPI + uvicorn, same GET load): {bare['rps']} req/s, "
            f"p99 {bare['p99_ms']} ms, server CPU {bare['server_cpu_ms']} ms/req"
        )
    print(f"results in {RESULTS / 'api_load.json'}")


if __name__ == "__main__":
    main()
