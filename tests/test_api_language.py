"""The API speaks the caller's language, hides failure details from non-admins, and signs media links."""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from i2v import messages
from i2v.api import create_app
from i2v.api.links import LinkSigner
from i2v.api.problems import ProblemCode
from i2v.config import Settings
from i2v.errors import ErrorCode
from i2v.jobs import JobSpec
from i2v.store import JobStore, open_store_url
from test_messages import latin_phrases

TOKEN = "a-token-long-enough-for-any-rule-0123456789"
RUSSIAN = {"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}
VIDEO = os.urandom(200_000)


@pytest.fixture
def store(sqlite_url: str) -> Iterator[JobStore]:
    opened = open_store_url(sqlite_url)
    yield opened
    opened.close()


def _client(store: JobStore, settings: Settings, **overrides: object) -> TestClient:
    # TestClient's Host is "testserver": allowed as settings' fixture does for every API test.
    overrides.setdefault("api_allowed_hosts", ["testserver"])
    return TestClient(create_app(store, Settings(data_dir=settings.data_dir, **overrides)))  # type: ignore[arg-type]


def _failed_job(store: JobStore, owner: str | None = None) -> str:
    job = store.submit(JobSpec(prompt="a cat", source="api", owner=owner), b"photo")
    lease = store.claim("w1")
    assert lease is not None
    store.fail(
        job.id,
        lease.token,
        ErrorCode.INTERNAL,
        "Something went wrong while making this video; it was reported.",
        detail="ValueError: box offset can't be negative\nTraceback ...",
    )
    return job.id


def _finished_job(store: JobStore) -> str:
    job = store.submit(JobSpec(), b"photo")
    lease = store.claim("w1")
    assert lease is not None
    store.succeed(job.id, lease.token, result={}, video=VIDEO, thumbnail=b"jpeg")
    return job.id


def test_every_problem_code_has_a_russian_title() -> None:
    missing = [code.value for code in ProblemCode if not messages.has(f"problem.{code.value}")]
    assert missing == []


def test_problems_are_in_russian_when_the_caller_asks_for_russian(
    store: JobStore, settings: Settings
) -> None:
    with _client(store, settings) as client:
        missing = client.get("/v1/jobs/zzzzzzzzzz", headers=RUSSIAN)
        refused = client.post(
            "/v1/jobs", files={"photo": ("a.txt", b"hello", "text/plain")}, headers=RUSSIAN
        )
        unnamed = client.post("/v1/jobs", data={"prompt": "x"}, headers=RUSSIAN)
        english = client.get("/v1/jobs/zzzzzzzzzz")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "Такой задачи нет."
    assert missing.headers["content-language"] == "ru"
    assert refused.status_code == 422 and refused.json()["code"] == "invalid_input"
    assert refused.json()["detail"].startswith("Этот файл не похож на изображение")
    assert unnamed.json()["detail"] == "Эти поля заполнены неверно: photo."
    for body in (missing.json(), refused.json(), unnamed.json()):
        assert latin_phrases(body["title"] + " " + body["detail"]) == [], body
    assert english.json()["title"] == "No such job"
    assert english.headers["content-language"] == "en"


def test_a_failed_job_says_why_in_the_callers_language_and_never_shows_the_exception(
    store: JobStore, settings: Settings
) -> None:
    job_id = _failed_job(store, owner="api:alice")
    alice = {"Authorization": f"Bearer {TOKEN}"}
    admin = {"Authorization": f"Bearer {TOKEN}-admin"}
    tokens = {"alice": TOKEN, "root": f"{TOKEN}-admin"}
    with _client(store, settings, api_tokens=tokens, api_admins=["root"]) as client:
        russian = client.get(f"/v1/jobs/{job_id}", headers={**RUSSIAN, **alice}).json()["error"]
        english = client.get(f"/v1/jobs/{job_id}", headers=alice).json()["error"]
        as_admin = client.get(f"/v1/jobs/{job_id}", headers=admin).json()["error"]
    assert russian["code"] == "internal"
    assert russian["message"] == (
        f"Что-то пошло не так при создании этого видео; об этом уже сообщено. "
        f"(код internal, задача {job_id})"
    )
    assert english["message"].startswith("Something went wrong while making this video")
    for error in (russian, english):
        assert "detail" not in error
        assert "ValueError" not in str(error)
    # An admin also gets what the worker logged, to find the cause.
    assert as_admin["detail"].startswith("ValueError: box offset")


def test_the_admin_detail_is_kept_in_the_store_and_shown_only_when_asked_as_admin(
    store: JobStore,
) -> None:
    job = store.get(_failed_job(store))
    assert job.error_detail is not None and job.error_detail.startswith("ValueError")
    assert "detail" not in job.to_dict()["error"]
    assert job.to_dict(admin=True)["error"]["detail"] == job.error_detail


def test_a_signed_link_streams_the_video_with_range_without_the_token(
    store: JobStore, settings: Settings
) -> None:
    job_id = _finished_job(store)
    with _client(store, settings, api_token=TOKEN) as client:
        assert client.get(f"/v1/jobs/{job_id}/video").status_code == 401
        assert client.get(f"/v1/jobs/{job_id}/video/link").status_code == 401
        link = client.get(
            f"/v1/jobs/{job_id}/video/link", headers={"Authorization": f"Bearer {TOKEN}"}
        ).json()
        part = client.get(link["url"], headers={"Range": "bytes=1000-1999"})
        whole = client.get(link["url"])
        # The same signature cannot open the thumbnail, another job, or outlive its expiry.
        query = parse_qs(urlsplit(link["url"]).query)
        thumb = client.get(f"/v1/jobs/{job_id}/thumbnail?{urlsplit(link['url']).query}")
        forged = client.get(
            f"/v1/jobs/{job_id}/video?expires={int(query['expires'][0]) + 60}"
            f"&signature={query['signature'][0]}"
        )
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(VIDEO)}"
    assert part.content == VIDEO[1000:2000]
    assert whole.status_code == 200 and whole.content == VIDEO
    assert thumb.status_code == 401
    assert forged.status_code == 401


def test_a_link_signed_by_one_api_process_opens_in_another_with_the_same_tokens(
    store: JobStore, settings: Settings
) -> None:
    # i2v api --workers 2: the page may ask one process for the link and stream from the other.
    job_id = _finished_job(store)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with _client(store, settings, api_token=TOKEN) as first:
        url = first.get(f"/v1/jobs/{job_id}/video/link", headers=auth).json()["url"]
    with _client(store, settings, api_token=TOKEN) as second:
        same_tokens = second.get(url)
    with _client(store, settings, api_token=TOKEN + "-rotated") as rotated:
        after_rotation = rotated.get(url)
    assert same_tokens.status_code == 200 and same_tokens.content == VIDEO
    assert after_rotation.status_code == 401


def test_an_expired_link_is_refused() -> None:
    now = [1_000_000.0]
    signer = LinkSigner(b"k" * 32, clock=lambda: now[0])
    url, expires = signer.link("abc", "video")
    signature = parse_qs(urlsplit(url).query)["signature"][0]
    assert signer.is_valid("abc", "video", expires, signature)
    now[0] = expires + 1
    assert not signer.is_valid("abc", "video", expires, signature)
    assert not signer.is_valid("abd", "video", expires, signature)
    assert not LinkSigner(b"x" * 32).is_valid("abc", "video", expires, signature)


def test_the_page_has_a_favicon(store: JobStore, settings: Settings) -> None:
    with _client(store, settings) as client:
        icon = client.get("/static/favicon.svg")
        legacy = client.get("/favicon.ico")
        page = client.get("/")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert icon.content.startswith(b"<svg")
    assert legacy.content == icon.content
    assert '<link rel="icon" href="/static/favicon.svg"' in page.text
