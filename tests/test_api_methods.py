"""HTTP done right: HEAD, Allow, unreadable bodies, conditional requests, DELETE and idempotency."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from api_support import live_server
from i2v.api import create_app
from i2v.config import Settings
from i2v.store import JobStore, open_store_url

VIDEO = bytes(range(256)) * 40


@pytest.fixture
def store(sqlite_url: str) -> Iterator[JobStore]:
    opened = open_store_url(sqlite_url)
    yield opened
    opened.close()


@pytest.fixture
def client(store: JobStore, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(store, settings)) as test_client:
        yield test_client


def submit(client: TestClient, photo: bytes, **form: str) -> httpx.Response:
    return client.post("/v1/jobs", files={"photo": ("p.png", photo, "image/png")}, data=form)


def finished_job(client: TestClient, store: JobStore, photo: bytes) -> str:
    job_id = submit(client, photo).json()["id"]
    lease = store.claim("w1")
    assert lease is not None
    store.succeed(job_id, lease.token, result={}, video=VIDEO, thumbnail=b"\xff\xd8jpeg")
    return str(job_id)


def test_head_answers_wherever_get_does_with_headers_and_no_body(
    client: TestClient, store: JobStore, photo_bytes: bytes
) -> None:
    job_id = finished_job(client, store, photo_bytes)

    for path in ["/", "/healthz", "/v1/jobs", f"/v1/jobs/{job_id}", f"/v1/jobs/{job_id}/video"]:
        get = client.get(path)
        head = client.head(path)
        assert head.status_code == get.status_code == 200, path
        assert head.content == b"", path
        assert head.headers["content-type"] == get.headers["content-type"], path
    assert client.head(f"/v1/jobs/{job_id}/video").headers["content-length"] == str(len(VIDEO))


def test_head_on_a_live_event_stream_returns_at_once(
    store: JobStore, settings: Settings, photo_bytes: bytes
) -> None:
    app = create_app(store, settings)
    with live_server(app) as base, httpx.Client(base_url=base) as client:
        job_id = client.post(
            "/v1/jobs", files={"photo": ("p.png", photo_bytes, "image/png")}
        ).json()["id"]

        head = client.head(f"/v1/jobs/{job_id}/events", timeout=10)

        assert head.status_code == 200
        assert head.headers["content-type"].startswith("text/event-stream")
        assert head.headers["cache-control"] == "no-cache"
        # A HEAD holds no stream open.
        assert app.state.streams.open == 0


def test_a_wrong_method_lists_every_method_the_address_takes(client: TestClient) -> None:
    one_job = client.put("/v1/jobs/abc")
    jobs = client.patch("/v1/jobs")

    assert one_job.status_code == 405
    assert one_job.json()["code"] == "method_not_allowed"
    assert one_job.headers["allow"] == "DELETE, GET, HEAD"
    assert jobs.headers["allow"] == "GET, HEAD, POST"


@pytest.mark.parametrize(
    "body",
    [
        b"not a multipart body at all",
        b"--zz\r\nbroken header line\r\n\r\nx\r\n--zz--\r\n",
    ],
)
def test_a_malformed_multipart_body_is_a_400_bad_request(
    client: TestClient, store: JobStore, body: bytes
) -> None:
    response = client.post(
        "/v1/jobs", content=body, headers={"Content-Type": "multipart/form-data; boundary=zz"}
    )

    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "bad_request"
    assert "multipart/form-data" in response.json()["detail"]
    assert store.list_jobs() == []


def test_a_body_cut_off_inside_the_photo_has_no_photo(client: TestClient, store: JobStore) -> None:
    cut = b'--zz\r\nContent-Disposition: form-data; name="photo"; filename="a.png"\r\n\r\nxx'
    response = client.post(
        "/v1/jobs", content=cut, headers={"Content-Type": "multipart/form-data; boundary=zz"}
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "photo"
    assert store.list_jobs() == []


def test_a_multipart_body_without_a_boundary_is_a_400(client: TestClient) -> None:
    response = client.post(
        "/v1/jobs", content=b"--x\r\n", headers={"Content-Type": "multipart/form-data"}
    )

    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"
    assert "multipart/form-data" in response.json()["detail"]


def test_if_none_match_answers_304_for_the_file_the_client_has(
    client: TestClient, store: JobStore, photo_bytes: bytes
) -> None:
    job_id = finished_job(client, store, photo_bytes)
    first = client.get(f"/v1/jobs/{job_id}/video")
    etag = first.headers["etag"]

    again = client.get(f"/v1/jobs/{job_id}/video", headers={"If-None-Match": etag})
    thumb = client.get(f"/v1/jobs/{job_id}/thumbnail")
    thumb_again = client.get(
        f"/v1/jobs/{job_id}/thumbnail",
        headers={"If-None-Match": f'"other", W/{thumb.headers["etag"]}'},
    )
    stale = client.get(f"/v1/jobs/{job_id}/video", headers={"If-None-Match": '"other"'})

    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert thumb_again.status_code == 304
    assert stale.status_code == 200
    assert stale.content == VIDEO


def test_if_range_resumes_only_the_same_file(
    client: TestClient, store: JobStore, photo_bytes: bytes
) -> None:
    job_id = finished_job(client, store, photo_bytes)
    etag = client.get(f"/v1/jobs/{job_id}/video").headers["etag"]

    same = client.get(
        f"/v1/jobs/{job_id}/video", headers={"Range": "bytes=100-199", "If-Range": etag}
    )
    changed = client.get(
        f"/v1/jobs/{job_id}/video", headers={"Range": "bytes=100-199", "If-Range": '"older"'}
    )

    assert same.status_code == 206
    assert same.content == VIDEO[100:200]
    assert changed.status_code == 200
    assert changed.content == VIDEO


def test_deleting_a_finished_job_is_a_409_and_keeps_its_video(
    client: TestClient, store: JobStore, photo_bytes: bytes
) -> None:
    job_id = finished_job(client, store, photo_bytes)

    response = client.delete(f"/v1/jobs/{job_id}")

    assert response.status_code == 409
    assert response.json()["code"] == "job_finished"
    assert "succeeded" in response.json()["detail"]
    assert client.get(f"/v1/jobs/{job_id}/video").content == VIDEO


def test_cancelling_a_canceled_job_again_answers_202(
    client: TestClient, photo_bytes: bytes
) -> None:
    job_id = submit(client, photo_bytes).json()["id"]

    assert client.delete(f"/v1/jobs/{job_id}").status_code == 202
    assert client.delete(f"/v1/jobs/{job_id}").json()["status"] == "canceled"


def test_an_idempotency_key_reused_for_another_request_is_a_422(
    client: TestClient, store: JobStore, photo_bytes: bytes
) -> None:
    key = {"Idempotency-Key": "order-9"}
    first = client.post(
        "/v1/jobs",
        files={"photo": ("p.png", photo_bytes, "image/png")},
        data={"prompt": "a"},
        headers=key,
    )
    other_prompt = client.post(
        "/v1/jobs",
        files={"photo": ("p.png", photo_bytes, "image/png")},
        data={"prompt": "b"},
        headers=key,
    )
    other_photo = client.post(
        "/v1/jobs",
        files={"photo": ("p.png", photo_bytes + b"\0", "image/png")},
        data={"prompt": "a"},
        headers=key,
    )
    same = client.post(
        "/v1/jobs",
        files={"photo": ("p.png", photo_bytes, "image/png")},
        data={"prompt": "a"},
        headers=key,
    )

    assert first.status_code == 202
    for response in (other_prompt, other_photo):
        assert response.status_code == 422
        assert response.json()["code"] == "idempotency_key_reused"
    assert same.status_code == 202
    assert same.json()["id"] == first.json()["id"]
    assert len(store.list_jobs()) == 1


def test_the_openapi_document_tells_the_truth(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    get_job = doc["paths"]["/v1/jobs/{job_id}"]["get"]
    submit_job = doc["paths"]["/v1/jobs"]["post"]

    for operation in (get_job, submit_job):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                assert list(response["content"]) == ["application/problem+json"], status
                schema = response["content"]["application/problem+json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}
    assert "422" in submit_job["responses"]
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert {"bearerAuth": []} in get_job["security"]
    [job_id] = [p for p in get_job["parameters"] if p["name"] == "job_id"]
    assert job_id["schema"]["pattern"] == "^[0-9a-z]{1,16}$"
    form = submit_job["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    photo = doc["components"]["schemas"][form.rsplit("/", 1)[1]]["properties"]["photo"]
    assert photo["minLength"] == 1
    events = doc["paths"]["/v1/jobs/{job_id}/events"]["get"]
    for event in ("queued", "running", "succeeded", "failed", "canceled"):
        assert f"`{event}`" in events["description"]
    assert "HTTPValidationError" not in str(doc)


def test_the_docs_page_works_offline_from_the_packaged_swagger_ui(client: TestClient) -> None:
    page = client.get("/docs")

    assert page.status_code == 200
    assert "http" not in page.text  # nothing from a CDN
    assert "script-src 'self'" in page.headers["content-security-policy"]
    script = client.get("/docs/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.text
    assert client.get("/docs/swagger-ui.css").status_code == 200
    assert "/openapi.json" in client.get("/docs/init.js").text
