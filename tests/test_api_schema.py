"""A property-based run over the OpenAPI schema (schemathesis): no 500s, answers match the schema.

Every documented operation gets generated requests, valid and invalid. The run
is bounded (a few dozen examples per operation) so it fits in the test suite.
"""

from __future__ import annotations

import io
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from pydantic import SecretStr
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.schemas import BaseSchema

from i2v.api import create_app
from i2v.config import Settings
from i2v.store import JobStore, open_store_url

TOKEN = "schema-run-token-0123456789abcdefghij"

# Every check schemathesis has, ignored_auth and use_after_free included.
load_all_checks()
ALL_CHECKS = list(CHECKS.get_all())


def _photo(kind: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(buffer, kind)
    return buffer.getvalue()


# The schema says the photo part is a JPEG, PNG or WebP image; a JSON schema cannot say
# "decodes as an image", so valid requests carry real images of the declared types.
schemathesis.openapi.media_type("image/png", st.just(_photo("PNG")))
schemathesis.openapi.media_type("image/jpeg", st.just(_photo("JPEG")))
schemathesis.openapi.media_type("image/webp", st.just(_photo("WEBP")))


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaseSchema]:
    folder = tmp_path_factory.mktemp("schema")
    store: JobStore = open_store_url(f"sqlite:///{(folder / 'i2v.db').as_posix()}")
    # A token, so ignored_auth can prove every protected route refuses a missing or wrong
    # one; no rate limit, since the run sends hundreds of requests a second on purpose.
    configured = Settings(
        data_dir=folder / "data", api_token=SecretStr(TOKEN), api_rate_limit_per_second=0
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(store, configured))
    # Through schemathesis' auth hook, not fixed headers: a generated request that leaves the
    # token out on purpose (negative mode) then really goes without it.
    schema.auth()(BearerToken)
    yield schema
    store.close()


class BearerToken:
    """The run's API token, as schemathesis sets auth on each generated request."""

    def get(self, case: schemathesis.Case, context: object) -> str:
        return TOKEN

    def set(self, case: schemathesis.Case, data: str, context: object) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


def _operations() -> list[tuple[str, str, GenerationMode]]:
    # The operations come from the document itself, so a new route is run without a list here.
    with tempfile.TemporaryDirectory() as folder:
        store = open_store_url(f"sqlite:///{Path(folder, 'i2v.db').as_posix()}")
        try:
            document = create_app(store, Settings(data_dir=Path(folder, "data"))).openapi()
        finally:
            store.close()
    cases = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            cases.append((method.upper(), path, GenerationMode.POSITIVE))
            # An operation without any input has no invalid request to make.
            if operation.get("parameters") or operation.get("requestBody"):
                cases.append((method.upper(), path, GenerationMode.NEGATIVE))
    return cases


CASES = _operations()


def _fresh_idempotency_key(case: schemathesis.Case) -> None:
    # Reusing a key for another request is a 422 by design (tests/test_api_methods.py);
    # every generated request is a new one, so it gets a key of its own.
    if case.headers:
        case.headers = {
            name: uuid.uuid4().hex if name.lower() == "idempotency-key" else value
            for name, value in case.headers.items()
        }


# schemathesis' own pytest fixture loader does not work with pytest 9, so each operation's
# strategy is driven by Hypothesis directly; the checks are the same.
@pytest.mark.parametrize(
    ("method", "path", "mode"), CASES, ids=[f"{m} {p} {g.value}" for m, p, g in CASES]
)
def test_no_request_makes_the_api_fail_or_answer_off_schema(
    api_schema: BaseSchema, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=20,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        _fresh_idempotency_key(case)
        case.call_and_validate(checks=ALL_CHECKS)

    run()


def test_every_documented_operation_is_run(api_schema: BaseSchema) -> None:
    raw = api_schema.raw_schema
    documented = {(m.upper(), p) for p, item in raw["paths"].items() for m in item}

    assert documented == {(m, p) for m, p, _ in CASES}
    assert {"ignored_auth", "use_after_free"} <= {c.__name__ for c in ALL_CHECKS}


def test_the_schema_documents_every_route_with_problem_answers(api_schema: BaseSchema) -> None:
    raw = api_schema.raw_schema
    operations = {(path, method) for path, item in raw["paths"].items() for method in item}

    assert {
        ("/v1/jobs", "post"),
        ("/v1/jobs", "get"),
        ("/v1/jobs/{job_id}", "get"),
        ("/v1/jobs/{job_id}", "delete"),
        ("/v1/jobs/{job_id}/events", "get"),
        ("/v1/jobs/{job_id}/video", "get"),
        ("/v1/jobs/{job_id}/thumbnail", "get"),
        ("/v1/workers", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    } <= operations
    not_found = raw["paths"]["/v1/jobs/{job_id}"]["get"]["responses"]["404"]
    assert "application/problem+json" in not_found["content"]
