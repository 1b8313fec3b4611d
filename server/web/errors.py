"""Errors a client caused or must wait out, in OpenAI's error shape.

``code`` is OpenAI's machine-readable reason where OpenAI has one for the case, else null, as its
schema allows (a string or null, never the HTTP status):

| when | status | code |
|---|---|---|
| an unknown model | 404 | ``model_not_found`` |
| no valid API key | 401 | ``invalid_api_key`` |
| a field potcot does not implement, asking for something | 400 | ``unsupported_parameter`` |
| a token budget past the model's context | 400 | ``context_length_exceeded`` |
| anything else | | null |
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse

from potcot.server.web.protocol import ErrorInfo, ErrorResponse

MODEL_NOT_FOUND = "model_not_found"
INVALID_API_KEY = "invalid_api_key"
UNSUPPORTED_PARAMETER = "unsupported_parameter"
CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.param = param
        self.code = code
        self.headers = headers


def error_body(message: str, kind: str, param: str | None = None, code: str | None = None) -> ErrorResponse:
    return ErrorResponse(error=ErrorInfo(message=message, type=kind, param=param, code=code))


def error_response(
    status: int,
    message: str,
    kind: str,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
    code: str | None = None,
) -> JSONResponse:
    """The HTTP response of an error: the routes' exception handlers and the middleware that
    refuses requests before any route runs answer alike. ``headers`` are the error's own (a 405's
    ``Allow``, a 503's ``Retry-After``): a client needs them to act on the error."""
    body = error_body(message, kind, param, code).model_dump()
    return JSONResponse(body, status_code=status, headers=headers)
