"""A property-based run over the OpenAPI schema (schemathesis): no 500s, answers match the schema.

Every documented operation gets generated requests, valid and invalid. The run
is bounded (a few dozen examples per operation) so it fits in the test suite.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.schemas import BaseSchema

from i2v.api import create_app
from i2v.config import Settings
from i2v.store import JobStore, open_store_url

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def store(sqlite_url: str) -> Iterator[JobStore]:
    opened = open_store_url(sqlite_url)
    yield opened
    opened.close()


OPERATIONS = [
    ("POST", "/v1/jobs"),
    ("GET", "/v1/jobs"),
    ("GET", "/v1/jobs/{job_id}"),
    ("DELETE", "/v1/jobs/{job_id}"),
    ("GET", "/v1/jobs/{job_id}/events"),
    ("GET", "/v1/jobs/{job_id}/video"),
    ("GET", "/v1/jobs/{job_id}/thumbnail"),
    ("GET", "/v1/jobs/{job_id}/{kind}/link"),
    ("GET", "/v1/workers"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
]


@pytest.fixture
def api_schema(store: JobStore, settings: Settings) -> BaseSchema:
    # No rate limit here: the run sends hundreds of requests a second on purpose.
    app = create_app(store, settings.model_copy(update={"api_rate_limit_per_second": 0}))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


#: Operations with constrained inputs, where invalid requests can be generated at all.
NEGATIVE = [("POST", "/v1/jobs"), ("GET", "/v1/jobs")]
CASES = [(m, p, GenerationMode.POSITIVE) for m, p in OPERATIONS] + [
    (m, p, GenerationMode.NEGATIVE) for m, p in NEGATIVE
]


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
        case.call_and_validate(checks=CHECKS)

    run()


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
