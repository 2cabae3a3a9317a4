"""A DirectRoute calls its endpoint with the request and string path parameters, nothing else."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.testclient import TestClient

from i2v.api.direct import DirectRoute


def test_a_direct_route_passes_the_path_as_strings_and_answers_what_the_endpoint_returns() -> None:
    async def greet(name: str, request: Request) -> Response:
        return Response(f"{request.method} {name}", status_code=201)

    router = APIRouter()
    router.add_api_route("/hello/{name}", greet, methods=["GET"], route_class_override=DirectRoute)
    app = FastAPI()
    app.include_router(router)

    with TestClient(app) as client:
        answer = client.get("/hello/42")

    assert (answer.status_code, answer.text) == (201, "GET 42")
    parameters = app.openapi()["paths"]["/hello/{name}"]["get"]["parameters"]
    assert [p["name"] for p in parameters] == ["name"]


async def _with_query(request: Request, limit: int = 5) -> Response:
    return Response()


async def _with_number(job: int, request: Request) -> Response:
    return Response()


async def _with_dependency(request: Request, user: str = Depends(lambda: "x")) -> Response:
    return Response()


async def _without_request(name: str) -> Response:
    return Response()


def _not_async(name: str, request: Request) -> Response:
    return Response()


@pytest.mark.parametrize(
    "endpoint", [_with_query, _with_number, _with_dependency, _without_request, _not_async]
)
def test_a_direct_route_refuses_an_endpoint_fastapi_would_have_checked_something_for(
    endpoint: object,
) -> None:
    with pytest.raises(TypeError, match="DirectRoute"):
        DirectRoute("/x/{name}/{job}", endpoint)  # type: ignore[arg-type]
