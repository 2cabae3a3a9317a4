"""Memory of the API under huge uploads: 4 photos of 7000x7000 pixels at once.

    python bench/api_photo_memory.py [--uploads 4] [--side 7000] [--limits 16,2,1]

Each photo check decodes the whole image (7000x7000 RGB is 147 MB), so the
number of checks run at once (I2V_API_PHOTO_CHECKS) bounds the API's peak
memory, and whether freed image memory goes back to the system decides where
the API settles afterwards. For each limit this starts ``i2v api`` in a process
of its own, warms it with one small upload, then sends the uploads at once and
samples the server's resident memory (RSS) every 10 ms: before, at the peak,
and 3 s after the last answer. Linux only (RSS from /proc); elsewhere it says so.

Prints a table and writes bench/results/api_photo_memory.json.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

RESULTS = Path(__file__).resolve().parent / "results"
MB = 1024 * 1024


def rss_bytes(pid: int) -> int:
    """Resident memory of process ``pid`` (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS line")


def big_png(side: int) -> bytes:
    """A side x side PNG that compresses well (a gradient), so the upload stays small."""
    ramp = np.linspace(0, 255, side, dtype=np.uint8)
    pixels = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], ramp[None, ::-1]), -1)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels), "RGB").save(buffer, "PNG", compress_level=6)
    return buffer.getvalue()


def small_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 120, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(folder: str, port: int, checks: int) -> subprocess.Popen[bytes]:
    """Start ``i2v api`` on loopback with ``checks`` photo checks at once."""
    env = {
        **os.environ,
        "I2V_DATA_DIR": folder,
        "I2V_API_RATE_LIMIT_PER_SECOND": "0",
        "I2V_API_PHOTO_CHECKS": str(checks),
        "I2V_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen([sys.executable, "-m", "i2v", "api", "--port", str(port)], env=env)


def wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the API server exited")
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the API server did not start")


async def upload_all(base: str, photo: bytes, count: int) -> list[int]:
    async with httpx.AsyncClient(base_url=base, timeout=300) as client:

        async def one(i: int) -> int:
            files = {"photo": (f"big-{i}.png", photo, "image/png")}
            return (await client.post("/v1/jobs", files=files)).status_code

        return list(await asyncio.gather(*(one(i) for i in range(count))))


def measure(checks: int, photo: bytes, uploads: int) -> dict[str, Any]:
    """RSS before, at the peak and after ``uploads`` concurrent uploads, for one limit."""
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(folder, port, checks)
        try:
            wait_ready(base, server)
            files = {"photo": ("warm.png", small_png(), "image/png")}
            assert httpx.post(base + "/v1/jobs", files=files, timeout=30).status_code == 202
            time.sleep(1.0)
            before = rss_bytes(server.pid)
            peak = before
            done = threading.Event()

            def sample() -> None:
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, rss_bytes(server.pid))
                    time.sleep(0.01)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            started = time.perf_counter()
            statuses = asyncio.run(upload_all(base, photo, uploads))
            seconds = time.perf_counter() - started
            time.sleep(3.0)
            done.set()
            sampler.join()
            after = rss_bytes(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return {
        "photo_checks": checks,
        "statuses": statuses,
        "seconds": round(seconds, 2),
        "rss_before_mb": round(before / MB, 1),
        "rss_peak_mb": round(peak / MB, 1),
        "rss_after_mb": round(after / MB, 1),
    }


def main() -> int:
    """Run the comparison, print the table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=4)
    parser.add_argument("--side", type=int, default=7000)
    parser.add_argument("--limits", default="16,2,1", help="I2V_API_PHOTO_CHECKS values")
    args = parser.parse_args()
    if not Path("/proc/self/status").exists():
        print("this benchmark reads resident memory from /proc: Linux only")
        return 1
    photo = big_png(args.side)
    print(f"{args.uploads} uploads of a {args.side}x{args.side} PNG ({len(photo) / MB:.1f} MB)")
    rows = [measure(int(limit), photo, args.uploads) for limit in args.limits.split(",")]
    print(f"{'photo checks':>12} {'before MB':>10} {'peak MB':>9} {'after MB':>9} {'seconds':>8}")
    for row in rows:
        print(
            f"{row['photo_checks']:>12} {row['rss_before_mb']:>10} {row['rss_peak_mb']:>9} "
            f"{row['rss_after_mb']:>9} {row['seconds']:>8}   {row['statuses']}"
        )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "api_photo_memory.json"
    out.write_text(
        json.dumps(
            {
                "machine": platform.platform(),
                "cpus": os.cpu_count(),
                "uploads": args.uploads,
                "side": args.side,
                "photo_mb": round(len(photo) / MB, 1),
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
