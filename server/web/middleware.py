"""The HTTP server's middleware, outermost first:

* ``RequestIdHeader`` echoes a client's ``X-Request-Id`` (or one of its own) on every response;
* ``RequestMetrics`` counts every response by endpoint and status, refusals included;
* ``ApiKeyAuth``, when keys are configured, refuses a request without one before anything else runs;
* ``AdmissionControl`` reads each body whole, within a time and a size limit, before the request
  counts as in flight; then weighs a generating request by the generations it asks for, and
  refuses it past the bound of one request or past the server's capacity.

All are pure ASGI rather than ``BaseHTTPMiddleware``: streaming responses pass through untouched,
and a refusal never reaches the router, so an unknown path without a key is 401, not 404, and the
API's surface cannot be probed without one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Sequence

from pydantic import ValidationError
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from potcot.server.schema import SolveRequest
from potcot.server.solver import max_generations
from potcot.server.web.errors import INVALID_API_KEY, error_response
from potcot.server.web.metrics import Metrics
from potcot.server.web.protocol_openai import ChatCompletionRequest, CompletionRequest
from potcot.server.web.serving_models import strategy_named_by

GENERATING_PATHS = frozenset({"/solve", "/v1/chat/completions", "/v1/completions"})
KNOWN_PATHS = GENERATING_PATHS | {"/v1/models", "/health", "/metrics", "/tokenize", "/detokenize", "/tokenizer_info"}
# One model's card: one label for every model id, so that ids cannot grow the metrics.
MODEL_PATH_PREFIX = "/v1/models/"
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
    inside it; paths that are not endpoints share one label, so that probing cannot grow the
    metrics without bound."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        endpoint = _endpoint(scope["path"])
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


def _endpoint(path: str) -> str:
    if path in KNOWN_PATHS:
        return path
    return MODEL_PATH_PREFIX + "{model}" if path.startswith(MODEL_PATH_PREFIX) else "other"


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
    """The door of the generating endpoints, in three steps.

    1. **The body first.** The whole body is read here, within ``body_timeout_s`` (408 after it: a
       client that trickles its body, or announces a Content-Length it never sends, loses its
       connection instead of holding a slot) and counted as it arrives against ``MAX_BODY_BYTES``
       (413 as soon as it is passed, without reading the rest; a Content-Length past it is refused
       before reading anything). Until its body is in, a request holds no capacity.
    2. **Its weight.** ``request_weight`` parses the buffered body into the route's own request
       model and counts the generations it asks for. More than ``max_request_generations`` is a
       400 that names the bound. A body that does not validate weighs 1; the route refuses it.
    3. **Capacity.** The weights in flight are bounded by ``capacity``: past it, 503 with
       ``Retry-After`` at once, instead of an ever-growing queue. A request heavier than the whole
       capacity is charged the whole capacity, so a small server still serves its heaviest legal
       request, alone.

    The route then gets the buffered body, and the weight stays charged until its response,
    streamed or not, has been sent. Parsing the body here and again in the route costs a few
    microseconds per KiB of a body of at most 8 MiB: the price of admission needing the parsed
    request while a streamed response outlives the route that returns it. Other paths only get
    the size and time limits."""

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
        self._capacity = capacity
        self._max_request_generations = max_request_generations
        self._body_timeout_s = body_timeout_s
        self._max_headers = max_headers
        self._metrics = metrics
        self._in_flight = 0  # the weights of the requests admitted and not yet answered

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        if len(scope["headers"]) > self._max_headers:
            await _closing(
                error_response(431, f"more than {self._max_headers} header fields", "invalid_request_error")
            )(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length", "0")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            await _closing(_too_large())(scope, receive, send)
            return
        try:
            body = await self._read_body(receive)
        except _BodyRefused as refused:
            await _closing(refused.response)(scope, receive, send)
            return
        if body is None:  # the client went away
            return
        replay = _replay(body, receive)
        if scope["path"] not in GENERATING_PATHS:
            await self._app(scope, replay, send)
            return
        weight = request_weight(scope["path"], body)
        refusal = self._refusal(weight)
        if refusal is not None:
            await refusal(scope, replay, send)
            return
        charge = min(weight, self._capacity)
        self._in_flight += charge
        self._metrics.requests_in_flight.inc()
        try:
            await self._app(scope, replay, send)
        finally:
            self._in_flight -= charge
            self._metrics.requests_in_flight.dec()

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

    def _refusal(self, weight: int) -> JSONResponse | None:
        if weight > self._max_request_generations:
            return error_response(
                400,
                f"a request may ask for at most {self._max_request_generations} generations (prompts x n); "
                f"this one asks for {weight}",
                "invalid_request_error",
            )
        if self._in_flight + min(weight, self._capacity) > self._capacity:
            refusal = error_response(503, "the server is at capacity; retry shortly", "service_unavailable")
            refusal.headers["Retry-After"] = _RETRY_AFTER_S
            return refusal
        return None


# The generations each solve strategy may run, at worst: hybrid falls back from PoT to CoT.
def request_weight(path: str, body: bytes) -> int:
    """The generations a request to a generating endpoint asks for: prompts x ``n`` for text
    completions, ``n`` for chat with the plain model, the strategy's worst case for a solve (on
    ``/solve``, or chat with a solving model id). The body is parsed as FastAPI parses it (JSON,
    then the route's model); one the route will refuse weighs 1, the least any request weighs."""
    try:
        data = json.loads(body)
        if path == "/v1/completions":
            completion = CompletionRequest.model_validate(data)
            return len(completion.prompts) * completion.n
        if path == "/v1/chat/completions":
            chat = ChatCompletionRequest.model_validate(data)
            strategy = strategy_named_by(chat.model)
            return chat.n if strategy is None else max_generations(strategy) * chat.n
        if path == "/solve":
            return SolveRequest.model_validate(data).max_generations
    except (ValueError, ValidationError, RecursionError):  # JSONDecodeError, UnicodeDecodeError: ValueErrors
        return 1
    return 1


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
