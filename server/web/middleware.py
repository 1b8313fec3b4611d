"""The HTTP server's middleware, outermost first:

* ``RequestIdHeader`` echoes a client's ``X-Request-Id`` (or one of its own) on every response;
* ``RequestMetrics`` counts every response by endpoint and status, refusals included;
* ``ApiKeyAuth``, when keys are configured, refuses a request without one before anything else runs;
* ``AdmissionControl`` reads each body whole, within a time and a size limit, before the request
  counts as in flight, and hands the route an ``Admission``: a generating route, once it has its
  parsed request, admits it by the generations it asks for (``admit``), refused past the bound of
  one request or past the server's capacity, and charged until its response has been sent.

All are pure ASGI rather than ``BaseHTTPMiddleware``: streaming responses pass through untouched,
and a refusal never reaches the router, so an unknown path without a key is 401, not 404, and the
API's surface cannot be probed without one.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import uuid
from collections.abc import Sequence

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Match, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from potcot.server.web.errors import INVALID_API_KEY, ApiError, error_response
from potcot.server.web.metrics import Metrics

# Load balancers and Prometheus probe these without credentials; neither reveals a model's output.
OPEN_PATHS = frozenset({"/health", "/metrics"})
REQUEST_ID_HEADER = "X-Request-Id"

MAX_BODY_BYTES = 8 * 2**20
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
    inside it, labelled by the route's path as the app declares it (one label for every model id
    of ``/v1/models/{model}``); paths that are not endpoints share one label, so that probing cannot
    grow the metrics without bound."""

    def __init__(self, app: ASGIApp, metrics: Metrics, router: Router) -> None:
        self._app = app
        self._metrics = metrics
        self._routes = router.routes  # read when a request comes, so routes added after this count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        endpoint = _endpoint(self._routes, scope)
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


def _endpoint(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The route's path format, matched as the router will match it (a method the route does not
    take still names it)."""
    for route in routes:
        if route.matches(scope)[0] is not Match.NONE:
            return getattr(route, "path_format", "other")
    return "other"


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
        401,
        "Unauthorized: send a valid API key as 'Authorization: Bearer KEY'",
        "authentication_error",
        code=INVALID_API_KEY,
    )
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


class AdmissionControl:
    """The door of every request, in three steps.

    1. **The body first.** The whole body is read here, within ``body_timeout_s`` (408 after it: a
       client that trickles its body, or announces a Content-Length it never sends, loses its
       connection instead of holding a slot) and counted as it arrives against ``MAX_BODY_BYTES``
       (413 as soon as it is passed, without reading the rest; a Content-Length past it is refused
       before reading anything). Until its body is in, a request holds no capacity.
    2. **Its weight, from its route.** The route parses the body (once: the middleware never does)
       and calls ``admit`` with the generations its request asks for, which each request model
       states (``generations``). More than ``max_request_generations`` is a 400 that names the
       bound. A body the route refuses is never charged.
    3. **Capacity.** The weights in flight are bounded by ``capacity``: past it, 503 with
       ``Retry-After`` at once, instead of an ever-growing queue. A request heavier than the whole
       capacity is charged the whole capacity, so a small server still serves its heaviest legal
       request, alone.

    The weight stays charged until the response, streamed or not, has been sent: the middleware
    releases it when the route's response is done, which a streamed response outlives the route."""

    def __init__(
        self,
        app: ASGIApp,
        capacity: int,
        metrics: Metrics,
        max_request_generations: int = 64,
        body_timeout_s: float = 10.0,
        max_headers: int = 100,
    ) -> None:
        self._app = app
        self.capacity = capacity
        self.max_request_generations = max_request_generations
        self._body_timeout_s = body_timeout_s
        self._max_headers = max_headers
        self.metrics = metrics
        self.in_flight = 0  # the weights of the requests admitted and not yet answered

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        refusal = self._refusal_before_reading(scope)
        if refusal is not None:
            await _closing(refusal)(scope, receive, send)
            return
        try:
            body = await self._read_body(receive)
        except _BodyRefused as refused:
            await _closing(refused.response)(scope, receive, send)
            return
        if body is None:  # the client went away
            return
        admission = Admission(self)
        scope.setdefault("state", {})[_ADMISSION] = admission
        try:
            await self._app(scope, _replay(body, receive), send)
        finally:
            admission.release()

    def _refusal_before_reading(self, scope: Scope) -> JSONResponse | None:
        if len(scope["headers"]) > self._max_headers:
            return error_response(431, f"more than {self._max_headers} header fields", "invalid_request_error")
        length = Headers(scope=scope).get("content-length", "0")
        return _too_large() if length.isdigit() and int(length) > MAX_BODY_BYTES else None

    async def _read_body(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self._body_timeout_s):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return None
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > MAX_BODY_BYTES:
                        raise _BodyRefused(_too_large())
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        return b"".join(chunks)
        except TimeoutError:
            raise _BodyRefused(
                error_response(
                    408, f"the request body did not arrive within {self._body_timeout_s:g} s", "invalid_request_error"
                )
            ) from None


_ADMISSION = "admission"


class Admission:
    """One request's place in the server's capacity: empty until its route admits it."""

    def __init__(self, door: AdmissionControl) -> None:
        self._door = door
        self._charge = 0

    def admit(self, weight: int) -> None:
        """Charge ``weight`` generations, or refuse the request (an ``ApiError``: 400 past one
        request's bound, 503 with ``Retry-After`` past the capacity)."""
        if self._charge:
            raise RuntimeError("a request is admitted once")
        door = self._door
        if weight > door.max_request_generations:
            raise ApiError(
                400,
                f"a request may ask for at most {door.max_request_generations} generations (prompts x n); "
                f"this one asks for {weight}",
            )
        charge = min(weight, door.capacity)
        if door.in_flight + charge > door.capacity:
            raise ApiError(
                503,
                "the server is at capacity; retry shortly",
                kind="service_unavailable",
                headers={"Retry-After": _RETRY_AFTER_S},
            )
        door.in_flight += charge
        door.metrics.requests_in_flight.inc()
        self._charge = charge

    def release(self) -> None:
        if self._charge:
            self._door.in_flight -= self._charge
            self._door.metrics.requests_in_flight.dec()
            self._charge = 0


def admit(request: Request, weight: int) -> None:
    """A generating route's first step, once its request is parsed: charge what it asks for."""
    admission: Admission = getattr(request.state, _ADMISSION)
    admission.admit(weight)


class _BodyRefused(Exception):
    def __init__(self, response: JSONResponse) -> None:
        self.response = response


def _too_large() -> JSONResponse:
    return error_response(413, f"request body over {MAX_BODY_BYTES // 2**20} MiB", "invalid_request_error")


def _closing(response: JSONResponse) -> JSONResponse:
    """A refusal sent before the body was read whole: the connection closes after it, so that
    uvicorn neither reads nor waits for the rest."""
    response.headers["Connection"] = "close"
    return response


def _replay(body: bytes, receive: Receive) -> Receive:
    """The buffered body as one message; after it, whatever the client sends next (its disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
