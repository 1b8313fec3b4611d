"""Errors a client caused or must wait out, in OpenAI's error shape."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse

from potcot.server.protocol import ErrorInfo, ErrorResponse


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request_error",
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.param = param
        self.headers = headers


def error_body(status: int, message: str, kind: str, param: str | None = None) -> ErrorResponse:
    return ErrorResponse(error=ErrorInfo(message=message, type=kind, param=param, code=status))


def error_response(
    status: int, message: str, kind: str, param: str | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The HTTP response of an error: the routes' exception handlers and the middleware that
    refuses requests before any route runs answer alike. ``headers`` are the error's own (a 405's
    ``Allow``, a 503's ``Retry-After``): a client needs them to act on the error."""
    return JSONResponse(error_body(status, message, kind, param).model_dump(), status_code=status, headers=headers)
