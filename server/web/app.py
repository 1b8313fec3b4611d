"""The HTTP server: thin routes over the serving classes, errors in OpenAI's shape, the middleware
of ``server.middleware`` (request ids, metrics, API keys, admission control), Prometheus metrics,
and an engine that loads in the background so that ``/health`` can tell a load balancer when the
server is ready."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from potcot.answers import Grader
from potcot.sandbox import Sandbox, SandboxError
from potcot.server.engines import Engine, EngineInputError, EngineUnavailable, GenerationInterrupted, start_engine
from potcot.server.schema import SolveRequest, SolveResponse
from potcot.server.settings import EngineSettings
from potcot.server.solver import Solver
from potcot.server.web.errors import UNSUPPORTED_PARAMETER, ApiError, error_response
from potcot.server.web.metrics import Metrics
from potcot.server.web.middleware import (
    REQUEST_ID_HEADER,
    AdmissionControl,
    ApiKeyAuth,
    RequestIdHeader,
    RequestMetrics,
    admit,
)
from potcot.server.web.protocol import Health, error_responses, streamed
from potcot.server.web.protocol_openai import (
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    CompletionRequest,
    CompletionResponse,
    ModelCard,
    ModelList,
)
from potcot.server.web.protocol_tokenize import (
    DetokenizeRequest,
    DetokenizeResponse,
    TokenizeRequest,
    TokenizeResponse,
    TokenizerInfoResponse,
)
from potcot.server.web.serving_chat import ChatService
from potcot.server.web.serving_completions import CompletionService
from potcot.server.web.serving_models import ModelRegistry
from potcot.server.web.serving_solve import SolveService
from potcot.server.web.serving_tokenize import TokenizeService
from potcot.server.web.settings import HttpSettings, ServerSettings

logger = logging.getLogger(__name__)

EngineFactory = Callable[[EngineSettings], Awaitable[Engine]]


@dataclasses.dataclass(frozen=True)
class Services:
    models: ModelRegistry
    solve: SolveService
    chat: ChatService
    completions: CompletionService
    tokenize: TokenizeService


class Runtime:
    """What the routes serve with: the sandbox from start-up, the engine once it has loaded."""

    def __init__(
        self,
        settings: ServerSettings,
        metrics: Metrics,
        engine_factory: EngineFactory,
        on_load_failure: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.failure: str | None = None
        self._engine_factory = engine_factory
        self._on_load_failure = on_load_failure
        self._sandbox: Sandbox | None = None
        self._grader = Grader()  # its comparison workers start with the first vote that needs one
        self._engine: Engine | None = None
        self._services: Services | None = None

    @contextlib.asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        self._sandbox = await asyncio.to_thread(self.settings.open_sandbox)
        self.metrics.watch_sandbox(self._sandbox)
        loading = asyncio.create_task(self._load())
        try:
            yield
        finally:
            loading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loading
            if self._engine is not None:
                await self._engine.close()
            self._sandbox.close()
            self._grader.close()

    async def _load(self) -> None:
        assert self._sandbox is not None
        try:
            engine = await self._engine_factory(self.settings)
        except Exception as error:
            logger.exception("the engine failed to load")
            self.failure = f"the engine failed to load: {error}"
            if self._on_load_failure is not None:
                self._on_load_failure()
            return
        solver = Solver.for_settings(engine, self._sandbox, self.settings, self._grader)
        models = ModelRegistry(engine.model_name, engine.max_model_len)
        self._engine = engine
        self._services = Services(
            models=models,
            solve=SolveService(solver, models, self.metrics, self.settings),
            chat=ChatService(engine, solver, models, self.metrics, self.settings),
            completions=CompletionService(engine, models, self.metrics),
            tokenize=TokenizeService(engine, models),
        )
        logger.info(
            "ready: serving %s with %s prompts; models %s",
            engine.model_name,
            solver.style,
            [c.id for c in models.cards().data],
        )

    @property
    def services(self) -> Services:
        if self._services is None:
            raise ApiError(503, self.failure or "the model is still loading", kind="service_unavailable")
        return self._services

    async def check_health(self) -> None:
        self.services  # noqa: B018 - raises 503 while loading
        assert self._engine is not None
        await self._engine.check_health()


def build_app(
    settings: ServerSettings,
    engine_factory: EngineFactory = start_engine,
    on_load_failure: Callable[[], None] | None = None,
) -> FastAPI:
    metrics = Metrics()
    runtime = Runtime(settings, metrics, engine_factory, on_load_failure)
    app = FastAPI(title="potcot", version="0.1.0", lifespan=runtime.lifespan, exception_handlers=_EXCEPTION_HANDLERS)
    app.state.runtime = runtime
    _add_middleware(app, settings, metrics)

    @app.post("/solve", response_model=SolveResponse, responses=error_responses(400, 401, 404, 413, 502, 503))
    async def solve(body: SolveRequest, request: Request) -> Any:
        admit(request, body.generations)
        return await _until_disconnected(request, runtime.services.solve.solve(body, _engine_request_id()))

    @app.post(
        "/v1/chat/completions",
        response_model=ChatCompletionResponse,
        responses={**streamed(ChatCompletionChunk), **error_responses(400, 401, 404, 413, 502, 503)},
    )
    async def chat_completions(body: ChatCompletionRequest, request: Request) -> Any:
        admit(request, body.generations)
        return _respond(await _until_disconnected(request, runtime.services.chat.create(body, _engine_request_id())))

    @app.post(
        "/v1/completions",
        response_model=CompletionResponse,
        responses={**streamed(CompletionResponse), **error_responses(400, 401, 404, 413, 502, 503)},
    )
    async def completions(body: CompletionRequest, request: Request) -> Any:
        admit(request, body.generations)
        return _respond(
            await _until_disconnected(request, runtime.services.completions.create(body, _engine_request_id()))
        )

    _add_model_routes(app, runtime)

    @app.get("/health", response_model=Health, responses=error_responses(503))
    async def health() -> Health:
        await runtime.check_health()
        return Health()

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus_metrics() -> Response:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    return app


def _add_model_routes(app: FastAPI, runtime: Runtime) -> None:
    """What the model is: its cards (OpenAI's) and its tokenizer (vLLM's endpoints), which clients
    that count or send tokens themselves read, lm-evaluation-harness's among them."""

    @app.get("/v1/models", response_model=ModelList, responses=error_responses(401, 503))
    async def models() -> ModelList:
        return runtime.services.models.cards()

    @app.get("/v1/models/{model:path}", response_model=ModelCard, responses=error_responses(401, 404, 503))
    async def model(model: str) -> ModelCard:
        return runtime.services.models.card(model)

    @app.post("/tokenize", response_model=TokenizeResponse, responses=error_responses(400, 401, 404, 413, 503))
    async def tokenize(body: TokenizeRequest) -> TokenizeResponse:
        return await runtime.services.tokenize.tokenize(body)

    @app.post("/detokenize", response_model=DetokenizeResponse, responses=error_responses(400, 401, 404, 413, 503))
    async def detokenize(body: DetokenizeRequest) -> DetokenizeResponse:
        return await runtime.services.tokenize.detokenize(body)

    @app.get("/tokenizer_info", response_model=TokenizerInfoResponse, responses=error_responses(401, 404, 503))
    async def tokenizer_info() -> TokenizerInfoResponse:
        return await runtime.services.tokenize.tokenizer_info()


def _add_middleware(app: FastAPI, settings: HttpSettings, metrics: Metrics) -> None:
    """Outermost first: the request id (so that every response carries it), the metrics (so that
    they count refusals), CORS when configured (so that a browser's preflight, which carries no
    key, is answered, and a refusal still reaches the page that asked), the API keys (so that
    nothing else runs without one), admission."""
    app.add_middleware(
        AdmissionControl,
        capacity=settings.max_generations_in_flight,
        metrics=metrics,
        max_request_generations=settings.max_request_generations,
        body_timeout_s=settings.body_timeout_s,
        max_headers=settings.max_headers,
    )
    if settings.api_key:
        app.add_middleware(ApiKeyAuth, keys=[key.get_secret_value() for key in settings.api_key])
    if settings.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.allowed_origins,
            allow_methods=settings.allowed_methods,
            allow_headers=settings.allowed_headers,
            allow_credentials=settings.allow_credentials,
        )
    app.add_middleware(RequestMetrics, metrics=metrics, router=app.router)
    app.add_middleware(RequestIdHeader)


def _engine_request_id() -> str:
    """A fresh id of the server's own for each engine request, never the client's X-Request-Id:
    vLLM keys requests, and their aborts, by id, so two clients that sent the same header would
    otherwise share, or cancel, each other's generations."""
    return uuid.uuid4().hex


def _respond(result: Any) -> Response:
    """A stream as server-sent events; a whole response as JSON (its models leave out the optional
    fields they lack: ``usage``, ``solve``)."""
    if isinstance(result, Response):
        return result
    if hasattr(result, "__aiter__"):
        return StreamingResponse(result, media_type="text/event-stream")
    return JSONResponse(result.model_dump())


async def _until_disconnected(request: Request, work: Coroutine[Any, Any, Any]) -> Any:
    """Run a request's work, cancelling it if the client disconnects first: a client that gave up
    must not keep the model generating."""
    task = asyncio.create_task(work)
    disconnected = asyncio.create_task(_wait_for_disconnect(request))
    try:
        done, _ = await asyncio.wait({task, disconnected}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        disconnected.cancel()
    if task in done:
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    logger.info("client disconnected; request cancelled")
    return Response(status_code=499)


async def _wait_for_disconnect(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _location(problem: Any) -> str:
    """Where in the body a validation problem is: ``messages.0.content``."""
    return ".".join(str(part) for part in problem.get("loc", ()) if part != "body") or "body"


async def _api_error(request: Request, error: ApiError) -> JSONResponse:
    return error_response(error.status, error.message, error.kind, error.param, error.headers, error.code)


async def _invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    problems = error.errors()
    first = problems[0] if problems else {}
    if first.get("type") == "json_invalid":
        return error_response(
            400,
            f"the request body is not valid JSON: {first.get('ctx', {}).get('error', '')}",
            "invalid_request_error",
        )
    message = "; ".join(f"{_location(problem)}: {problem['msg']}" for problem in problems[:5])
    code = UNSUPPORTED_PARAMETER if first.get("type") == "unsupported_field" else None
    return error_response(400, message, "invalid_request_error", _location(first), code=code)


async def _engine_input(request: Request, error: EngineInputError) -> JSONResponse:
    """The engine's refusal, with its status: 400, or an upstream's own (a 404 for an endpoint it lacks)."""
    kind = "not_found_error" if error.status == 404 else "invalid_request_error"
    return error_response(error.status, str(error), kind)


async def _unavailable(request: Request, error: EngineUnavailable | SandboxError) -> JSONResponse:
    return error_response(503, str(error), "service_unavailable")


async def _interrupted(request: Request, error: GenerationInterrupted) -> JSONResponse:
    """The upstream broke off mid-generation: its partial text is not a reply, and another's
    would not continue it."""
    return error_response(502, str(error), "bad_gateway")


async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    """Starlette's own errors (404, 405): their headers are part of the answer, a 405's ``Allow``."""
    kind = "not_found_error" if error.status_code == 404 else "invalid_request_error"
    return error_response(error.status_code, str(error.detail), kind, headers=error.headers)


async def _internal_error(request: Request, error: Exception) -> JSONResponse:
    # Starlette answers unexpected errors from outside every middleware: the id is added here.
    request_id = request.state.request_id
    logger.exception("unexpected error serving %s (%s %s)", request.url.path, REQUEST_ID_HEADER, request_id)
    response = error_response(500, "internal server error", "internal_server_error")
    response.headers[REQUEST_ID_HEADER] = request_id
    return response


# Every error a route can meet, and its answer in OpenAI's shape, headers kept.
_EXCEPTION_HANDLERS: dict[int | type[Exception], Callable[[Request, Any], Coroutine[Any, Any, Response]]] = {
    ApiError: _api_error,
    RequestValidationError: _invalid_request,
    EngineInputError: _engine_input,
    EngineUnavailable: _unavailable,
    GenerationInterrupted: _interrupted,
    SandboxError: _unavailable,
    StarletteHTTPException: _http_error,
    Exception: _internal_error,
}
