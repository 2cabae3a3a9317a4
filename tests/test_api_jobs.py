"""The job routes over real SQLite and PostgreSQL stores: submit, read, list, cancel, errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from i2v.api import create_app
from i2v.api.schemas import JobDetailOut
from i2v.config import Settings
from i2v.errors import ErrorCode
from i2v.jobs import Stage, WorkerInfo, WorkerState
from i2v.store import JobStore
from i2v.worker.routing import claim_filter


@pytest.fixture
def client(store: JobStore, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(store, settings)) as test_client:
        yield test_client


def submit(client: TestClient, photo: bytes, headers: dict[str, str] | None = None, **form: str):
    return client.post(
        "/v1/jobs",
        files={"photo": ("coffee.png", photo, "image/png")},
        data=form,
        headers=headers or {},
    )


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["detail"]
    return body


def test_submitting_a_photo_answers_202_with_the_job_and_its_queue_position(
    client: TestClient, photo_bytes: bytes, store: JobStore
) -> None:
    response = submit(client, photo_bytes, prompt="steam rises", resolution="480p", duration="2")

    assert response.status_code == 202
    job = response.json()
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["status"] == "queued"
    assert job["queue"]["position"] == 1
    assert job["spec"]["prompt"] == "steam rises"
    assert job["spec"]["resolution"] == "480p"
    assert job["spec"]["duration_seconds"] == 2.0
    assert job["spec"]["source"] == "api"
    assert job["spec"]["image_name"] == "coffee.png"
    assert store.read_media(job["id"], "photo") == photo_bytes


def test_a_second_job_is_second_in_the_queue(client: TestClient, photo_bytes: bytes) -> None:
    submit(client, photo_bytes)
    second = submit(client, photo_bytes).json()

    assert second["queue"]["position"] == 2


def test_the_same_idempotency_key_returns_the_first_job(
    client: TestClient, photo_bytes: bytes
) -> None:
    first = submit(client, photo_bytes, headers={"Idempotency-Key": "order-17"}).json()
    again = submit(client, photo_bytes, headers={"Idempotency-Key": "order-17"}).json()
    other = submit(client, photo_bytes, headers={"Idempotency-Key": "order-18"}).json()

    assert again["id"] == first["id"]
    assert other["id"] != first["id"]
    assert client.get("/v1/jobs").json()["total"] == 2


def test_getting_a_job_shows_what_the_store_holds(client: TestClient, photo_bytes: bytes) -> None:
    job_id = submit(client, photo_bytes, prompt="waves").json()["id"]

    job = client.get(f"/v1/jobs/{job_id}").json()

    assert job["id"] == job_id
    assert job["spec"]["prompt"] == "waves"
    assert job["links"]["video"] == f"/v1/jobs/{job_id}/video"


def test_a_job_reads_exactly_as_its_documented_model_dumps_it(
    client: TestClient, photo_bytes: bytes, store: JobStore
) -> None:
    # GET /v1/jobs/{id} answers without validating through JobDetailOut; it must not drift.
    failed = submit(client, photo_bytes, duration="2").json()["id"]
    crashed = submit(client, photo_bytes).json()["id"]
    done = submit(client, photo_bytes).json()["id"]
    queued = submit(client, photo_bytes, prompt="пар над чашкой", duration="3").json()["id"]
    leases = [store.claim("w1") for _ in range(3)]
    assert [lease.job.id for lease in leases if lease] == [failed, crashed, done]
    store.fail(failed, leases[0].token, ErrorCode.OUT_OF_MEMORY, "out of memory")
    store.fail(crashed, leases[1].token, ErrorCode.INTERNAL, "crashed", detail="Traceback: boom")
    store.succeed(done, leases[2].token, result={"frames": 49, "fps": 24.0}, video=b"mp4")

    for job_id in (failed, crashed, done, queued):
        answer = client.get(f"/v1/jobs/{job_id}")

        assert answer.headers["content-type"] == "application/json"
        body = answer.json()
        documented = JobDetailOut.model_validate(body).model_dump(mode="json")
        # repr tells 2 from 2.0 and sees key order: the same JSON, byte for byte in meaning.
        assert repr(body) == repr(documented)
    assert "detail" not in client.get(f"/v1/jobs/{failed}").json()["error"]
    assert client.get(f"/v1/jobs/{crashed}").json()["error"]["detail"] == "Traceback: boom"


def test_listing_filters_by_status_and_pages(client: TestClient, photo_bytes: bytes) -> None:
    ids = [submit(client, photo_bytes).json()["id"] for _ in range(3)]
    client.delete(f"/v1/jobs/{ids[0]}")

    queued = client.get("/v1/jobs", params={"status": "queued"}).json()
    canceled = client.get("/v1/jobs", params={"status": ["canceled", "failed"]}).json()
    page = client.get("/v1/jobs", params={"limit": 1, "offset": 1}).json()

    assert [j["id"] for j in queued["jobs"]] == [ids[2], ids[1]]
    assert queued["total"] == 2
    assert [j["id"] for j in canceled["jobs"]] == [ids[0]]
    assert [j["id"] for j in page["jobs"]] == [ids[1]]
    assert page["total"] == 3


def test_cancelling_a_queued_job_cancels_it_at_once(client: TestClient, photo_bytes: bytes) -> None:
    job_id = submit(client, photo_bytes).json()["id"]

    response = client.delete(f"/v1/jobs/{job_id}")

    assert response.status_code == 202
    assert response.json()["status"] == "canceled"
    assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "canceled"


def test_cancelling_a_running_job_asks_its_worker_to_stop(
    client: TestClient, photo_bytes: bytes, store: JobStore
) -> None:
    job_id = submit(client, photo_bytes).json()["id"]
    lease = store.claim("w1")
    assert lease is not None

    job = client.delete(f"/v1/jobs/{job_id}").json()

    assert job["status"] == "running"
    assert job["cancel_requested"] is True
    # The worker learns of it on its next progress write.
    assert store.report_progress(job_id, lease.token, stage=Stage.GENERATING, progress=0.5) is True


def test_an_unknown_job_is_a_404_problem(client: TestClient) -> None:
    assert_problem(client.get("/v1/jobs/zzzzzzzzzz"), 404, "job_not_found")
    assert_problem(client.delete("/v1/jobs/zzzzzzzzzz"), 404, "job_not_found")
    assert_problem(client.get("/v1/jobs/zzzzzzzzzz/events"), 404, "job_not_found")


def test_a_job_id_that_cannot_exist_never_reaches_the_store(client: TestClient) -> None:
    body = assert_problem(client.get("/v1/jobs/..%5C..%5Cwin.ini/video"), 404, "job_not_found")
    assert "win.ini" in body["detail"]
    assert_problem(client.get("/v1/jobs/%00%27;drop"), 404, "job_not_found")
    assert_problem(client.get("/v1/jobs/..%2F..%2Fetc%2Fpasswd/thumbnail"), 404, "not_found")
    assert_problem(client.get("/static/..%2F..%2Fpyproject.toml"), 404, "not_found")


def test_a_file_that_is_not_a_photo_is_refused_with_invalid_input(client: TestClient) -> None:
    response = client.post("/v1/jobs", files={"photo": ("notes.txt", b"hello there", "text/plain")})

    body = assert_problem(response, 422, "invalid_input")
    assert "not an image" in body["detail"]


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ({"duration": "30"}, "The video length must be between 1 and 10"),
        ({"duration": "soon"}, "duration"),
        ({"resolution": "4k"}, "resolution"),
        ({"width": "640"}, "Give both the width and the height"),
        ({"engine": "magic"}, "Unknown engine"),
        ({"fps": "500"}, "Frames per second must be between"),
        ({"priority": "99999"}, "priority"),
        ({"prompt": "x" * 1001}, "The prompt is 1,001 characters long"),
        ({"prompt": "a\x00b"}, "The prompt contains control characters"),
        ({"model": "ltx\x00"}, "The model contains control characters"),
    ],
)
def test_bad_options_are_refused_with_a_problem_naming_them(
    client: TestClient, photo_bytes: bytes, form: dict[str, str], words: str
) -> None:
    body = assert_problem(submit(client, photo_bytes, **form), 422, "invalid_input")

    assert words in body["detail"]


def test_a_missing_photo_is_a_problem_naming_the_field(client: TestClient) -> None:
    body = assert_problem(client.post("/v1/jobs", data={"prompt": "x"}), 422, "invalid_input")

    assert body["errors"][0]["field"] == "photo"


def test_an_unknown_route_and_a_wrong_method_are_problems(client: TestClient) -> None:
    assert_problem(client.get("/v2/nothing"), 404, "not_found")
    assert_problem(client.put("/v1/jobs"), 405, "method_not_allowed")


def test_readiness_says_the_database_is_migrated(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz").json()
    assert ready["status"] == "ok"
    assert ready["schema_version"] >= 1


def test_readiness_fails_with_503_when_the_database_is_not_migrated(
    client: TestClient, store: JobStore
) -> None:
    engine = sa.create_engine(store.url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE i2v_schema_version"))
    engine.dispose()

    body = assert_problem(client.get("/readyz"), 503, "store_unavailable")
    assert "i2v db upgrade" in body["detail"]


def test_workers_are_listed_with_their_liveness(client: TestClient, store: JobStore) -> None:
    store.register_worker(
        WorkerInfo(id="gpu-box-1", host="gpu-box", pid=42, state=WorkerState.IDLE)
    )

    workers = client.get("/v1/workers").json()["workers"]

    assert [(w["id"], w["state"], w["alive"]) for w in workers] == [("gpu-box-1", "idle", True)]


def test_a_job_for_a_model_no_running_worker_serves_is_accepted_with_a_note_instead_of_a_wait(
    client: TestClient, photo_bytes: bytes, store: JobStore, settings: Settings
) -> None:
    wan = settings.model_copy(update={"engine": "diffusers", "model": "wan2.2-ti2v-5b"})
    store.register_worker(
        WorkerInfo(id="gpu-box-1", host="gpu-box", pid=42, state=WorkerState.IDLE),
        claim_filter(wan, None, None).to_dict(),
    )

    stranded = submit(client, photo_bytes, model="ltx-video")
    served = submit(client, photo_bytes, model="Wan-AI/Wan2.2-TI2V-5B-Diffusers")

    assert stranded.status_code == 202
    queue = stranded.json()["queue"]
    assert (queue["live_workers"], queue["serving_workers"]) == (1, 0)
    note = "no worker serves ltx-video right now; start one with: i2v worker --model ltx-video"
    assert queue["note"] == note
    # The POST answer went through JobDetailOut; the GET answer did not, and must not differ.
    assert repr(client.get(f"/v1/jobs/{stranded.json()['id']}").json()) == repr(stranded.json())
    assert served.status_code == 202
    assert served.json()["queue"]["serving_workers"] == 1
    assert served.json()["queue"]["note"] is None
