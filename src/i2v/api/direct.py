"""A route class for the hottest reads: the endpoint is called directly, without FastAPI's solving.

For each request FastAPI solves a route's dependencies: it validates every declared
parameter, runs sub-dependencies, collects background tasks and response headers,
then validates and serializes what the endpoint returned through its response model.
For ``GET /v1/jobs/{id}`` that was more CPU than reading the job. A
:class:`DirectRoute` calls its endpoint with the request and its path parameters as
the strings they are, and sends the Response the endpoint returns.

The endpoint's signature and the route's ``response_model`` still describe the route,
so the OpenAPI document is the same as for any route. Only endpoints that FastAPI
would have nothing to check for qualify: an ``async def`` taking string path
parameters and ``Request``, no dependencies, returning a Response; the route refuses
any other at start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from inspect import iscoroutinefunction
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


class DirectRoute(APIRoute):
    """An APIRoute whose endpoint takes ``request`` and string path parameters and answers a Response."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Call the endpoint with the request and its path parameters, and answer what it returns."""
        dependant = self.dependant
        extra = (
            dependant.query_params
            or dependant.header_params
            or dependant.cookie_params
            or dependant.body_params
            or dependant.dependencies
        )
        strings = all(
            getattr(field.field_info, "annotation", None) is str for field in dependant.path_params
        )
        request_name = dependant.request_param_name
        if extra or not strings or request_name is None or not iscoroutinefunction(self.endpoint):
            raise TypeError(
                f"{self.path}: a DirectRoute's endpoint is an async def taking only "
                "`request: Request` and str path parameters; declare any other route as usual"
            )
        endpoint = self.endpoint
        names = [field.name for field in dependant.path_params]

        async def handle(request: Request) -> Response:
            params = request.path_params
            answer: Response = await endpoint(
                **{request_name: request}, **{name: params[name] for name in names}
            )
            return answer

        return handle
