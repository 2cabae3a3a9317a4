"""The whole trip over a real server: submit, follow the events, download with Range, thumbnail.

A real worker (supervisor plus spawned child) makes the video with the Ken Burns
engine; the client is httpx over loopback,
so the events arrive as a browser would see them, one by one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api_support import live_server
from i2v.api import create_app
from i2v.config import Settings
from i2v.encoding import probe_mp4
from i2v.store import JobStore, open_store_url
from worker_harness import fast_settings, worker_thread

TERMINAL = {"succeeded", "failed", "canceled"}


@pytest.fixture
def store(sqlite_url: str) -> Iterator[JobStore]:
    opened = open_store_url(sqlite_url)
    yield opened
    opened.close()


@pytest.fixture
def base_url(store: JobStore, settings: Settings) -> Iterator[str]:
    with live_server(create_app(store, settings)) as url:
        yield url


def read_events(lines: Iterator[str]) -> Iterator[dict]:
    """Parse text/event-stream lines into {id, event, data} dicts."""
    event: dict = {}
    for line in lines:
        if not line:
            if "data" in event:
                yield event
            event = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            event[field] = value.removeprefix(" ")
    if "data" in event:
        yield event


def submit(client: httpx.Client, photo: bytes, **form: str) -> dict:
    response = client.post(
        "/v1/jobs", files={"photo": ("coffee.png", photo, "image/png")}, data=form
    )
    assert response.status_code == 202, response.text
    return response.json()


def test_a_job_goes_from_queue_to_video_and_the_events_tell_each_step_in_order(
    base_url: str, store: JobStore, photo_bytes: bytes, tmp_path: Path
) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        job = submit(client, photo_bytes, resolution="480p", duration="4", prompt="steam")
        events = []
        with client.stream("GET", f"/v1/jobs/{job['id']}/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            parsed = read_events(stream.iter_lines())
            events.append(next(parsed))
            # The worker starts only after the client saw the job waiting in the queue.
            worker_settings = fast_settings(
                tmp_path / "worker",
                factory="i2v.engine.factory:build_engine",
                engine="kenburns",
                # A real encode on a busy machine may pause for seconds; stalls are not tested here.
                stall_timeout_seconds=30.0,
            )
            with worker_thread(store, worker_settings, max_jobs=1):
                events.extend(parsed)

        names = [e["event"] for e in events]
        bodies = [json.loads(e["data"]) for e in events]
        assert names[0] == "queued"
        assert bodies[0]["queue"]["position"] == 1
        assert names[-1] == "succeeded"
        assert [n for n in names if n in TERMINAL] == ["succeeded"]
        assert set(names[1:-1]) == {"running"}
        assert len(names) >= 4
        running = [b for b in bodies if b["status"] == "running"]
        assert all(b["stage"] for b in running[1:])
        progress = [b["progress"] for b in bodies]
        assert progress == sorted(progress)
        assert any(0 < b["progress"] < 1 for b in running)
        assert any(b["eta_seconds"] is not None for b in running)
        assert len({e["id"] for e in events}) == len(events)

        size = store.media_info(job["id"], "video").size
        part = client.get(f"/v1/jobs/{job['id']}/video", headers={"Range": "bytes=100-1099"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 100-1099/{size}"
        assert part.content == store.read_media(job["id"], "video")[100:1100]
        tail = client.get(f"/v1/jobs/{job['id']}/video", headers={"Range": "bytes=-10"})
        assert tail.status_code == 206
        assert tail.content == store.read_media(job["id"], "video")[-10:]

        whole = client.get(f"/v1/jobs/{job['id']}/video")
        assert whole.status_code == 200
        assert whole.headers["accept-ranges"] == "bytes"
        saved = tmp_path / "video.mp4"
        saved.write_bytes(whole.content)
        probe = probe_mp4(saved)
        assert probe.duration_seconds == pytest.approx(4.0, abs=0.05)
        assert min(probe.width, probe.height) == 480

        thumbnail = client.get(f"/v1/jobs/{job['id']}/thumbnail")
        assert thumbnail.status_code == 200
        assert thumbnail.headers["content-type"] == "image/jpeg"
        assert thumbnail.content[:3] == b"\xff\xd8\xff"

        metrics = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(client.get("/metrics").text)
            for s in family.samples
        }
        assert metrics[("i2v_jobs_finished_total", (("code", ""), ("status", "succeeded")))] == 1
        assert metrics[("i2v_stage_duration_seconds_count", (("stage", "running"),))] == 1
        assert metrics[("i2v_stage_duration_seconds_count", (("stage", "encoding"),))] == 1
        assert metrics[("i2v_jobs", (("status", "succeeded"),))] == 1


def test_a_late_client_gets_the_final_state_first_and_the_stream_ends(
    base_url: str, store: JobStore, photo_bytes: bytes
) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        job = submit(client, photo_bytes, duration="1")
        client.delete(f"/v1/jobs/{job['id']}")

        with client.stream("GET", f"/v1/jobs/{job['id']}/events") as stream:
            events = list(read_events(stream.iter_lines()))

        assert [e["event"] for e in events] == ["canceled"]
        # Having seen the end, a reconnecting client is told there is nothing more.
        again = client.get(
            f"/v1/jobs/{job['id']}/events", headers={"Last-Event-ID": events[0]["id"]}
        )
        assert again.status_code == 204


def test_resuming_with_last_event_id_repeats_nothing_already_seen(
    base_url: str, store: JobStore, photo_bytes: bytes
) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        job = submit(client, photo_bytes, duration="1")
        with client.stream("GET", f"/v1/jobs/{job['id']}/events") as stream:
            seen = next(read_events(stream.iter_lines()))
        assert seen["event"] == "queued"

        with client.stream(
            "GET", f"/v1/jobs/{job['id']}/events", headers={"Last-Event-ID": seen["id"]}
        ) as stream:
            parsed = read_events(stream.iter_lines())
            store.request_cancel(job["id"])
            events = list(parsed)

        assert [e["event"] for e in events] == ["canceled"]


def test_queued_streams_hear_when_the_job_ahead_leaves_the_queue(
    base_url: str, store: JobStore, photo_bytes: bytes
) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        first = submit(client, photo_bytes, duration="1")
        second = submit(client, photo_bytes, duration="1")
        with client.stream("GET", f"/v1/jobs/{second['id']}/events") as stream:
            parsed = read_events(stream.iter_lines())
            before = json.loads(next(parsed)["data"])
            store.request_cancel(first["id"])
            after = json.loads(next(parsed)["data"])
            store.request_cancel(second["id"])
            list(parsed)

        assert before["queue"]["position"] == 2
        assert after["queue"]["position"] == 1
