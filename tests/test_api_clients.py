"""Named API clients: each sees, reads, downloads and cancels only its own jobs; admins see all."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from i2v.api import create_app
from i2v.cli.api import check_exposure
from i2v.config import Settings, load_settings
from i2v.errors import ConfigError
from i2v.jobs import JobSpec
from i2v.store import JobStore, open_store_url

ALICE = "alice-token-0123456789abcdefghijklmnop"
BORIS = "boris-token-0123456789abcdefghijklmnop"
ROOT = "root-token-0123456789abcdefghijklmnopq"


@pytest.fixture
def store(sqlite_url: str) -> Iterator[JobStore]:
    opened = open_store_url(sqlite_url)
    yield opened
    opened.close()


@pytest.fixture
def client(store: JobStore, settings: Settings) -> Iterator[TestClient]:
    configured = settings.model_copy(
        update={
            "api_tokens": {
                "alice": SecretStr(ALICE),
                "boris": SecretStr(BORIS),
                "root": SecretStr(ROOT),
            },
            "api_admins": ["root"],
        }
    )
    with TestClient(create_app(store, configured)) as test_client:
        yield test_client


def as_(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def submit(client: TestClient, token: str, photo: bytes, **headers: str) -> dict:
    response = client.post(
        "/v1/jobs",
        files={"photo": ("p.png", photo, "image/png")},
        headers={**as_(token), **headers},
    )
    assert response.status_code == 202, response.text
    return response.json()


def finish(store: JobStore, job_id: str, video: bytes) -> None:
    lease = store.claim("w1")
    assert lease is not None and lease.job.id == job_id
    store.succeed(job_id, lease.token, result={}, video=video, thumbnail=b"\xff\xd8thumb")


def test_a_client_cannot_see_read_download_or_cancel_another_clients_job(
    client: TestClient, store: JobStore, photo_bytes: bytes
) -> None:
    boris_job = submit(client, BORIS, photo_bytes)["id"]
    finish(store, boris_job, b"boris video bytes")
    boris_queued = submit(client, BORIS, photo_bytes)["id"]

    for method, path in [
        ("GET", f"/v1/jobs/{boris_job}"),
        ("GET", f"/v1/jobs/{boris_job}/video"),
        ("GET", f"/v1/jobs/{boris_job}/thumbnail"),
        ("GET", f"/v1/jobs/{boris_queued}/events"),
        ("DELETE", f"/v1/jobs/{boris_queued}"),
    ]:
        response = client.request(method, path, headers=as_(ALICE))
        assert response.status_code == 404, (method, path, response.text)
        # The same answer as for a job that does not exist: nothing tells them apart.
        assert response.json()["code"] == "job_not_found"
    listed = client.get("/v1/jobs", headers=as_(ALICE)).json()
    assert listed["jobs"] == []
    assert listed["total"] == 0
    assert store.get(boris_queued).status.value == "queued"


def test_each_client_lists_only_its_own_jobs_and_the_owner_shows_as_its_name(
    client: TestClient, photo_bytes: bytes
) -> None:
    alice_job = submit(client, ALICE, photo_bytes)["id"]
    boris_job = submit(client, BORIS, photo_bytes)["id"]

    alice = client.get("/v1/jobs", headers=as_(ALICE)).json()
    boris = client.get("/v1/jobs", headers=as_(BORIS)).json()

    assert [j["id"] for j in alice["jobs"]] == [alice_job]
    assert [j["id"] for j in boris["jobs"]] == [boris_job]
    assert alice["jobs"][0]["spec"]["owner"] == "alice"
    assert "token:" not in client.get(f"/v1/jobs/{alice_job}", headers=as_(ALICE)).text


def test_an_admin_sees_reads_downloads_and_cancels_every_clients_job(
    client: TestClient, store: JobStore, photo_bytes: bytes
) -> None:
    done = submit(client, BORIS, photo_bytes)["id"]
    finish(store, done, b"boris video bytes")
    queued = submit(client, ALICE, photo_bytes)["id"]
    from_the_bot = store.submit(JobSpec(source="telegram", owner="4242"), photo_bytes).id

    everyone = client.get("/v1/jobs", params={"scope": "all"}, headers=as_(ROOT)).json()
    assert {j["id"] for j in everyone["jobs"]} == {done, queued, from_the_bot}
    owners = {j["spec"]["owner"] for j in everyone["jobs"]}
    assert owners == {"alice", "boris", "telegram:4242"}
    assert client.get(f"/v1/jobs/{done}", headers=as_(ROOT)).json()["status"] == "succeeded"
    assert client.get(f"/v1/jobs/{done}/video", headers=as_(ROOT)).content == b"boris video bytes"
    canceled = client.delete(f"/v1/jobs/{queued}", headers=as_(ROOT))
    assert canceled.status_code == 202
    assert canceled.json()["status"] == "canceled"
    # The admin's own list holds only the admin's own jobs unless it asks for all.
    assert client.get("/v1/jobs", headers=as_(ROOT)).json()["total"] == 0


def test_a_client_that_is_not_an_admin_may_not_list_everyones_jobs(client: TestClient) -> None:
    response = client.get("/v1/jobs", params={"scope": "all"}, headers=as_(ALICE))

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert "I2V_API_ADMINS" in response.json()["detail"]


def test_idempotency_keys_of_two_clients_never_meet(client: TestClient, photo_bytes: bytes) -> None:
    alice = submit(client, ALICE, photo_bytes, **{"Idempotency-Key": "order-1"})
    boris = submit(client, BORIS, photo_bytes, **{"Idempotency-Key": "order-1"})

    assert alice["id"] != boris["id"]
    assert boris["spec"]["owner"] == "boris"


def test_the_single_old_token_still_works_and_is_an_admin(
    store: JobStore, settings: Settings, photo_bytes: bytes
) -> None:
    bot_job = store.submit(JobSpec(source="telegram", owner="7"), photo_bytes).id
    app = create_app(store, settings.model_copy(update={"api_token": SecretStr(ROOT)}))
    with TestClient(app) as client:
        assert client.get(f"/v1/jobs/{bot_job}", headers=as_(ROOT)).status_code == 200
        mine = submit(client, ROOT, photo_bytes)
        assert mine["spec"]["owner"] == "admin"
        assert client.get("/v1/jobs", headers=as_("wrong")).status_code == 401


def test_named_tokens_and_admins_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("I2V_API_TOKENS", f"alice:{ALICE}, ci:{BORIS}")
    monkeypatch.setenv("I2V_API_ADMINS", "alice")

    settings = load_settings()

    assert {n: t.get_secret_value() for n, t in settings.api_tokens.items()} == {
        "alice": ALICE,
        "ci": BORIS,
    }
    assert settings.api_admins == ["alice"]


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"I2V_API_TOKEN": "   "}, "I2V_API_TOKEN: is only spaces"),
        ({"I2V_API_TOKENS": "alice:   "}, "the token of 'alice' is empty"),
        ({"I2V_API_TOKENS": "just-a-token"}, "write each client as name:token"),
        ({"I2V_API_TOKENS": f"a:{ALICE},a:{BORIS}"}, "named twice"),
        ({"I2V_API_TOKENS": f"a:{ALICE},b:{ALICE}"}, "same token"),
        ({"I2V_API_TOKENS": f"a:{ALICE}", "I2V_API_ADMINS": "zed"}, "I2V_API_ADMINS names zed"),
    ],
)
def test_unusable_token_settings_stop_the_start_with_one_line_and_no_secret(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], words: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError, match="invalid setting") as caught:
        load_settings()

    assert words in str(caught.value)
    assert ALICE not in str(caught.value)
    assert BORIS not in str(caught.value)


def test_tokens_shorter_than_32_characters_are_refused_beyond_loopback(
    settings: Settings,
) -> None:
    short = settings.model_copy(update={"api_tokens": {"ci": SecretStr("short-but-not-empty")}})
    long = settings.model_copy(update={"api_tokens": {"ci": SecretStr(ALICE)}})

    with pytest.raises(ConfigError, match=r"shorter than 32 characters \(ci\)"):
        check_exposure(short, "0.0.0.0")
    with pytest.raises(ConfigError, match="shorter than 32"):
        check_exposure(settings.model_copy(update={"api_token": SecretStr("x" * 31)}), "10.0.0.5")
    check_exposure(long, "0.0.0.0")
    check_exposure(short, "127.0.0.1")
