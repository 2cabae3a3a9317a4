"""The OpenAPI document, corrected where FastAPI's generated one does not tell the truth.

* Errors are ``application/problem+json`` with the ``Problem`` schema; FastAPI puts a
  model's schema under ``application/json`` and adds its own 422 shape.
* The routes behind a token name the ``bearerAuth`` security scheme, so ``/docs``
  can authorize; without any token (loopback only) the scheme is optional.
* The photo field may not be empty (``minLength``) and is an image; optional form
  fields are left out rather than null (a form cannot send null); width and height
  come together.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from i2v.api.problems import PROBLEM_JSON, TITLES, ProblemCode

#: Routes any caller may use without a token: probes, the page and the schema itself.
OPEN_PATHS = frozenset({"/healthz", "/readyz"})
JSON = "application/json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
MULTIPART = "multipart/form-data"
PHOTO_TYPES = "image/jpeg, image/png, image/webp"


def install_openapi(app: FastAPI, *, requires_token: bool) -> None:
    """Replace ``app.openapi`` with one that builds the corrected document once."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            correct(document, requires_token=requires_token)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def correct(document: dict[str, Any], *, requires_token: bool) -> None:
    """Fix problem media types, declare bearer auth, and constrain the photo field."""
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})["bearerAuth"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "A token from I2V_API_TOKENS (or I2V_API_TOKEN), sent as "
        "'Authorization: Bearer <token>'.",
    }
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    # With no token the API serves loopback only and asks for none: the scheme is optional.
    security: list[dict[str, list[str]]] = (
        [{"bearerAuth": []}]
        if requires_token
        else [
            {"bearerAuth": []},
            {},
        ]
    )
    for path, item in document.get("paths", {}).items():
        for operation in item.values():
            for response in operation.get("responses", {}).values():
                _problem_content(response)
            if path not in OPEN_PATHS:
                operation["security"] = security
    for name, schema in schemas.items():
        if name.startswith("Body_"):
            _form(schema)
    for item in document.get("paths", {}).values():
        for operation in item.values():
            form = operation.get("requestBody", {}).get("content", {}).get(MULTIPART)
            if form is not None:
                # The photo part is an image; its bytes, not this header, decide which kind.
                form["encoding"] = {"photo": {"contentType": PHOTO_TYPES}}


def _form(schema: dict[str, Any]) -> None:
    """A multipart form cannot send null: an optional field is one that is left out."""
    properties = schema.get("properties", {})
    for field in properties.values():
        branches = [b for b in field.get("anyOf", []) if b.get("type") != "null"]
        if "anyOf" in field and len(branches) == 1:
            del field["anyOf"]
            field.update(branches[0])
            if field.get("default", 0) is None:
                del field["default"]
    photo = properties.get("photo")
    if photo is not None and photo.get("type") == "string":
        photo["minLength"] = 1
    if "width" in properties and "height" in properties:
        schema["dependentRequired"] = {"width": ["height"], "height": ["width"]}


def _problem_content(response: dict[str, Any]) -> None:
    content = response.get("content", {})
    if content.get(JSON, {}).get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
        # FastAPI's own 422 for routes that do not list one; ours is a problem like any other.
        response["description"] = TITLES[ProblemCode.INVALID_INPUT]
        response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
        return
    if PROBLEM_JSON not in content:
        return
    plain = content.pop(JSON, {})
    schema = plain.get("schema") or PROBLEM_REF
    content[PROBLEM_JSON] = {"schema": schema}
