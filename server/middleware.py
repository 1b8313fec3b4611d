"""The HTTP server's middleware, outermost first:

* ``RequestIdHeader`` echoes a client's ``X-Request-Id`` (or one of its own) on every response;
* ``RequestMetrics`` counts every response by endpoint and status, refusals included;
* ``ApiKeyAuth``, when keys are configured, refuses a request without one before anything else runs;
* ``AdmissionControl`` refuses bodies too large to be a question, and generating requests past the
  bound in flight.

All are pure ASGI rather than ``BaseHTTPMiddleware``: streaming responses pass through untouched,
and a refusal never reaches the router, so an unknown path without a key is 401, not 404, and the
API's surface cannot be probed without one.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Sequence

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.errors import error_response
from server.metrics import Metrics

GENERATING_PATHS = frozenset({"/solve", "/v1/chat/completions", "/v1/completions"})
KNOWN_PATHS = GENERATING_PATHS | {"/v1/models", "/health", "/metrics"}
# Load balancers and Prometheus probe these without credentials; neither reveals a model's output.
OPEN_PATHS = frozenset({"/health", "/metrics"})
REQUEST_ID_HEADER = "X-Request-Id"

_MAX_BODY_BYTES = 8 * 2**20
_RETRY_AFTER_S = "1"
# Visible ASCII only (no spaces, no control characters): nothing a client sends can split a header
# or a log line, and 128 characters hold any UUID, ULID or trace id.
_VALID_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")


class RequestIdHeader:
    """Echoes the client's ``X-Request-Id`` on the response, errors and streams included, or
    answers with one of its own when the client sent none or one that is not a bounded, printable
    token. The id is the client's handle for its logs only: the engine never sees it (see
    ``server.app``), so two clients that send the same one cannot collide there."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        request_id = _client_request_id(Headers(scope=scope).get(REQUEST_ID_HEADER)) or uuid.uuid4().hex
        # For the handler of unexpected errors, whose response Starlette sends from outside every
        # middleware: request.state.request_id.
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])  # optional in ASGI
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        await self._app(scope, receive, send_with_id)


def _client_request_id(value: str | None) -> str | None:
    return value if value is not None and _VALID_REQUEST_ID.fullmatch(value) else None


class RequestMetrics:
    """Counts every response by endpoint and status, including the refusals of the middleware
    inside it; paths that are not endpoints share one label, so that probing cannot grow the
    metrics without bound."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        endpoint = scope["path"] if scope["path"] in KNOWN_PATHS else "other"
        status = 500  # what the client gets when the app raises before answering

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, send_and_record)
        finally:
            self._metrics.requests.labels(endpoint, str(status)).inc()


class ApiKeyAuth:
    """Requires ``Authorization: Bearer KEY`` (what the official ``openai`` client sends from its
    ``api_key``) with one of the configured keys on every request but ``GET /health`` and
    ``GET /metrics``; otherwise 401, as vLLM's OpenAI server answers, in OpenAI's error shape.

    Only SHA-256 digests of the keys are kept, and a candidate's digest is compared with every one
    of them in constant time: comparing equal-length digests hides a key's length, and comparing
    all of them hides which key matched."""

    def __init__(self, app: ASGIApp, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("ApiKeyAuth needs at least one key")
        self._app = app
        self._digests = [_digest(key.encode()) for key in keys]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _is_open(scope) or self._authorized(Headers(scope=scope)):
            await self._app(scope, receive, send)
            return
        await _unauthorized()(scope, receive, send)

    def _authorized(self, headers: Headers) -> bool:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        # Starlette decodes header bytes as Latin-1; encoding back gives the bytes the client sent.
        candidate = _digest(token.lstrip(" ").encode("latin-1"))
        matched = False
        for digest in self._digests:
            matched |= secrets.compare_digest(candidate, digest)
        return matched


def _digest(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()


def _is_open(scope: Scope) -> bool:
    return scope["method"] == "GET" and scope["path"] in OPEN_PATHS


def _unauthorized() -> JSONResponse:
    response = error_response(
        401, "Unauthorized: send a valid API key as 'Authorization: Bearer KEY'", "authentication_error"
    )
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


class AdmissionControl:
    """Bounds the generating requests in flight: past the bound, a request is refused at once with
    503 and ``Retry-After`` instead of joining an ever-growing queue. Also refuses bodies too large
    to be a question, before reading them."""

    def __init__(self, app: ASGIApp, limit: int, metrics: Metrics) -> None:
        self._app = app
        self._limit = limit
        self._metrics = metrics
        self._in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        limited = scope["path"] in GENERATING_PATHS
        refusal = self._refusal(scope, limited)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        if not limited:
            await self._app(scope, receive, send)
            return
        self._in_flight += 1
        self._metrics.requests_in_flight.inc()
        try:
            await self._app(scope, receive, send)
        finally:
            self._in_flight -= 1
            self._metrics.requests_in_flight.dec()

    def _refusal(self, scope: Scope, limited: bool) -> JSONResponse | None:
        length = Headers(scope=scope).get("content-length", "0")
        if length.isdigit() and int(length) > _MAX_BODY_BYTES:
            return error_response(413, f"request body over {_MAX_BODY_BYTES // 2**20} MiB", "invalid_request_error")
        if limited and self._in_flight >= self._limit:
            refusal = error_response(503, "the server is at capacity; retry shortly", "service_unavailable")
            refusal.headers["Retry-After"] = _RETRY_AFTER_S
            return refusal
        return None
