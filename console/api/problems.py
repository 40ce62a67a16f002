"""Errors as ``application/problem+json`` (RFC 9457), each naming the field and the rule it broke."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"


class FieldError(BaseModel):
    field: str  # dotted path in the request: "quantity", "body.price", "header.Idempotency-Key"
    rule: str  # the rule broken: "off-lot", "product-closed", "signature-mismatch", "greater_than_equal", …
    detail: str


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    field: str | None = None
    rule: str | None = None
    errors: list[FieldError] = []


def only_own(caller: str, asked: str | None) -> None:
    """A participant reads only its own data: asking for another participant's is 403, naming both."""
    if asked is not None and asked != caller:
        raise ApiProblem(403, "query.participant", "own-data-only",
                         f"participant {caller!r} may read only its own data, not {asked!r}'s")


class ApiProblem(Exception):
    """Raised by a route: becomes a problem response; nothing has been applied."""

    def __init__(self, status: int, field: str | None, rule: str, detail: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.field, self.rule, self.detail, self.headers = status, field, rule, detail, headers


TITLES = {400: "Bad request", 401: "Not authenticated", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
          409: "Conflict", 413: "Request body too large", 415: "Unsupported media type", 422: "Invalid request",
          429: "Too many requests", 503: "Market unavailable"}


def problem_response(status: int, field: str | None, rule: str, detail: str,
                     errors: list[FieldError] | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body = Problem(type=f"urn:energynet:problem:{rule}", title=TITLES.get(status, "Error"), status=status,
                   detail=detail, field=field, rule=rule,
                   errors=errors if errors is not None else ([FieldError(field=field, rule=rule, detail=detail)]
                                                             if field else []))
    return JSONResponse(body.model_dump(), status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def on_api_problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiProblem)
    return problem_response(exc.status, exc.field, exc.rule, exc.detail, headers=exc.headers)


async def on_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] == "body":
            loc = loc[1:]
        field = ".".join(loc) or "body"
        errors.append(FieldError(field=field, rule=str(err.get("type", "invalid")), detail=str(err.get("msg", ""))))
    first = errors[0] if errors else FieldError(field="body", rule="invalid", detail="invalid request")
    return problem_response(422, first.field, first.rule, "; ".join(f"{e.field}: {e.detail}" for e in errors),
                            errors)


async def on_http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    rule = {400: "body-unreadable", 404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    field = "body" if exc.status_code == 400 else None
    return problem_response(exc.status_code, field, rule, str(exc.detail), headers=dict(exc.headers or {}))


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the problem statuses a route can answer."""
    return {s: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": TITLES.get(s, "Error")}
            for s in statuses}
