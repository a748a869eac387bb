"""One JSON error format for every 4xx/5xx the API returns: ``{"error": {"code", "message", "field"?}}``.

Twin exceptions are translated here (at the HTTP boundary), so routers just raise what the store raises.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from twin.errors import (
    ArchiveError,
    NotFoundError,
    StoreAccessError,
    StoreError,
    StoreUnavailableError,
    TwinError,
    ValidationError,
)

__all__ = [
    "ERROR_RESPONSES",
    "STATUS_CODES",
    "ApiError",
    "ErrorDetail",
    "ErrorResponse",
    "error_body",
    "error_response",
    "install_error_handlers",
]

log = logging.getLogger("twin.api")

#: Machine-readable code for plain HTTP statuses (routing errors, method not allowed, ...).
STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ErrorDetail(BaseModel):
    """What went wrong."""

    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


class ApiError(Exception):
    """An error with an HTTP status, raised by routers and dependencies."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or STATUS_CODES.get(status, "error")
        self.message = message
        self.field = field
        self.headers = headers


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The JSON error document."""
    err: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        err["field"] = field
    return {"error": err}


def error_response(
    status: int, code: str, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A JSON error response."""
    return JSONResponse(error_body(code, message, field), status_code=status, headers=headers)


def _status_of(exc: TwinError) -> tuple[int, str]:
    if isinstance(exc, NotFoundError):
        return 404, "not_found"
    if isinstance(exc, ValidationError):
        return 422, "validation_error"
    if isinstance(exc, StoreUnavailableError):
        return 503, "store_unavailable"
    if isinstance(exc, StoreAccessError):  # the API's own Redis user may not: its operator must fix it
        return 503, "store_access_denied"
    if isinstance(exc, StoreError):
        return 500, "store_error"
    if isinstance(exc, ArchiveError):
        return 503, "archive_error"
    return 400, "bad_request"


def _loc_to_field(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the one error format."""

    @app.exception_handler(ApiError)
    async def _api_error(_req: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.field, exc.headers)

    @app.exception_handler(TwinError)
    async def _twin_error(_req: Request, exc: TwinError) -> JSONResponse:
        status, code = _status_of(exc)
        if status >= 500:
            log.error("request failed: %s", exc)
        return error_response(status, code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        field = _loc_to_field(first.get("loc", ()))
        msg = str(first.get("msg", "invalid request"))
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        return error_response(422, "validation_error", f"{field or 'request'}: {msg}{more}", field or None)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = STATUS_CODES.get(exc.status_code, "error")
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, code, str(exc.detail), headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(_req: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error: %s", exc)
        return error_response(500, "internal_error", f"internal error: {type(exc).__name__}")


#: Error responses documented on every operation (so clients and schemathesis know the error shape).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": desc}
    for status, desc in {
        400: "Bad request",
        401: "Missing or unknown API token",
        403: "Token lacks the required role",
        404: "Not found",
        405: "Method not allowed",
        409: "Conflict (e.g. write-back switched off)",
        413: "Request body too large",
        422: "Invalid parameters or body",
        500: "Internal error",
        503: "Redis unavailable or function not wired",
    }.items()
}
