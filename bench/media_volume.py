"""Media at volume: stored videos cost what they weigh, purging gives the space back, and
downloads stream without growing the API's memory.

    python bench/media_volume.py [--videos 1000] [--video-kb 256] [--clients 20] [--big-mb 40]

For SQLite and PostgreSQL, in one run:

* bloat: ``--videos`` finished jobs, each with a random (incompressible) video,
  stored through the real transitions; the space the database uses for media
  (SQLite: the file after a checkpoint; PostgreSQL: ``pg_total_relation_size``
  of ``media`` and ``media_chunks``) divided by the bytes stored;
* purge: every result purged as ``I2V_KEEP_RESULTS_DAYS`` would, then the space
  left (SQLite shrinks its file; PostgreSQL keeps the pages for reuse once
  VACUUM, which autovacuum runs by itself, has marked them free); then as many
  videos again, to show PostgreSQL reuses the space instead of growing;
* streaming (SQLite): a real ``i2v api`` process serving one ``--big-mb`` video
  to ``--clients`` clients at once; its resident memory (VmRSS) before, at the
  peak during, and after; then the same with a ``--small-mb`` video. Streamed by
  chunk, the growth is a few MB per client whatever the video's size (buffering
  whole files would add clients x size).

Writes bench/results/media_volume.json and prints tables.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from i2v.jobs import JobSpec
from i2v.store import JobStore, open_store_url

RESULTS = Path(__file__).resolve().parent / "results"
MB = 1024 * 1024
KEEP_DAYS = 7.0


def store_videos(store: JobStore, count: int, size: int) -> int:
    """Run ``count`` jobs to success, each storing a random video of ``size`` bytes."""
    stored = 0
    for _ in range(count):
        job = store.submit(JobSpec(), b"p")
        lease = store.claim("bench", job_id=job.id)
        assert lease is not None
        video = os.urandom(size)
        store.succeed(job.id, lease.token, result={}, video=video)
        stored += size + 1  # the video and the one-byte photo
    return stored


def media_bytes_on_disk(store: JobStore, url: str) -> int:
    """What the database spends on media right now."""
    engine = store._engine
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()  # outside a transaction, where a checkpoint can run
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            raw.close()
        path = Path(sa.make_url(url).database or "")
        wal = path.with_name(path.name + "-wal")
        return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    with engine.connect() as conn:
        return int(
            conn.exec_driver_sql(
                "SELECT pg_total_relation_size('media') + pg_total_relation_size('media_chunks')"
            ).scalar_one()
        )


def volume(url: str, videos: int, size: int) -> dict[str, Any]:
    """Store, measure, purge, measure, refill, measure."""
    store = open_store_url(url)
    empty = media_bytes_on_disk(store, url)
    payload = store_videos(store, videos, size)
    full = media_bytes_on_disk(store, url)
    # Purge as the worker's heartbeat does once the results are KEEP_DAYS old.
    later = open_store_url(url, clock=lambda: time.time() + (KEEP_DAYS + 1) * 86400)
    purged = later.purge_results(KEEP_DAYS * 86400)
    later.close()
    if store.dialect == "postgresql":
        # What autovacuum does by itself after this many deleted rows (it may take a minute).
        with store._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM media_chunks")
            conn.exec_driver_sql("VACUUM media")
    after_purge = media_bytes_on_disk(store, url)
    store_videos(store, videos, size)
    refilled = media_bytes_on_disk(store, url)
    store.close()
    return {
        "videos": videos,
        "payload_bytes": payload,
        "empty_bytes": empty,
        "full_bytes": full,
        "bytes_per_payload_byte": round((full - empty) / payload, 3),
        "purged": purged,
        "after_purge_bytes": after_purge,
        "refilled_bytes": refilled,
        "refill_growth": round(refilled / full, 3),
    }


# --- streaming -------------------------------------------------------------------------


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def streaming(tmp: Path, clients: int, big: int) -> dict[str, Any]:
    """RSS of a real ``i2v api`` while ``clients`` download one big video at once."""
    tmp.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{(tmp / 'stream.db').as_posix()}"
    store = open_store_url(url)
    job = store.submit(JobSpec(), b"p")
    lease = store.claim("bench", job_id=job.id)
    assert lease is not None
    store.succeed(job.id, lease.token, result={}, video=os.urandom(big))
    store.close()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("I2V_")}
    env.update({"I2V_DATABASE_URL": url, "I2V_DATA_DIR": str(tmp / "data")})
    env["I2V_LOG_LEVEL"] = "WARNING"
    proc = subprocess.Popen(
        [sys.executable, "-m", "i2v", "api", "--host", "127.0.0.1", "--port", str(port)], env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("i2v api did not start")
            time.sleep(0.2)
        # One warm-up download, so the first request's imports do not count as streaming.
        httpx.get(f"{base}/v1/jobs/{job.id}/video", timeout=120).raise_for_status()
        before = _rss_bytes(proc.pid)
        peak = before
        received: list[int] = []
        errors: list[str] = []

        def download() -> None:
            total = 0
            try:
                with httpx.stream("GET", f"{base}/v1/jobs/{job.id}/video", timeout=300) as resp:
                    resp.raise_for_status()
                    for piece in resp.iter_bytes(64 * 1024):
                        total += len(piece)
                        time.sleep(0.001)  # a client slower than the server
            except httpx.HTTPError as exc:
                errors.append(type(exc).__name__)
            received.append(total)

        threads = [threading.Thread(target=download) for _ in range(clients)]
        start = time.monotonic()
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            peak = max(peak, _rss_bytes(proc.pid))
            time.sleep(0.05)
        seconds = time.monotonic() - start
        time.sleep(1.0)
        after = _rss_bytes(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
    return {
        "clients": clients,
        "video_bytes": big,
        "all_complete": not errors and all(r == big for r in received),
        "rss_before_mb": round(before / MB, 1),
        "rss_peak_mb": round(peak / MB, 1),
        "rss_after_mb": round(after / MB, 1),
        "peak_growth_mb": round((peak - before) / MB, 1),
        "seconds": round(seconds, 1),
        "served_mb": round(sum(received) / MB, 1),
    }


def _fresh_postgres(admin_url: str) -> str:
    name = f"i2v_media_bench_{int(time.time())}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def main() -> None:
    """Measure both backends and the streaming API; print tables and write JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--videos", type=int, default=1000)
    parser.add_argument("--video-kb", type=int, default=256)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--big-mb", type=int, default=40)
    parser.add_argument(
        "--small-mb",
        type=int,
        default=5,
        help="a second, smaller video: memory must not track size",
    )
    parser.add_argument("--skip-volume", action="store_true", help="only the streaming test")
    parser.add_argument(
        "--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="i2v-bench-media-"))
    size = args.video_kb * 1024
    rows = []
    backends = [("sqlite", f"sqlite:///{(tmp / 'volume.db').as_posix()}")]
    if not args.skip_postgres:
        backends.append(("postgresql", _fresh_postgres(args.postgres)))
    for name, url in [] if args.skip_volume else backends:
        print(f"storing {args.videos} videos on {name}...", file=sys.stderr, flush=True)
        rows.append({"backend": name, **volume(url, args.videos, size)})
    streams = []
    for index, megabytes in enumerate((args.small_mb, args.big_mb)):
        print(f"streaming {megabytes} MB to {args.clients} clients...", file=sys.stderr, flush=True)
        streams.append(streaming(tmp / f"s{index}", args.clients, megabytes * MB))

    header = (
        f"{'backend':<12}{'videos':>8}{'payload MB':>12}{'stored MB':>11}{'ratio':>7}"
        f"{'after purge MB':>16}{'refilled MB':>13}{'refill/full':>13}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['backend']:<12}{row['videos']:>8}{row['payload_bytes'] / MB:>12.1f}"
            f"{(row['full_bytes'] - row['empty_bytes']) / MB:>11.1f}"
            f"{row['bytes_per_payload_byte']:>7}{row['after_purge_bytes'] / MB:>16.1f}"
            f"{row['refilled_bytes'] / MB:>13.1f}{row['refill_growth']:>13}"
        )
    print()
    for stream in streams:
        print(
            f"i2v api, {stream['clients']} clients x {stream['video_bytes'] // MB} MB video: "
            f"RSS before {stream['rss_before_mb']} MB, peak {stream['rss_peak_mb']} MB "
            f"(+{stream['peak_growth_mb']} MB), after {stream['rss_after_mb']} MB; "
            f"{stream['served_mb']} MB served in {stream['seconds']} s, "
            f"all complete: {stream['all_complete']}"
        )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "media_volume.json"
    out.write_text(json.dumps({"volume": rows, "streaming": streams}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
