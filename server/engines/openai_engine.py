"""Remote OpenAI-compatible servers (``vllm serve`` replicas, each with its own tensor or
pipeline parallelism): potcot's way past one machine. Requests go round-robin over the replicas
that pass their health check; a replica that refuses a connection is skipped until it recovers.

The engine bounds what it asks of the network, so that no one request can starve the others or
the event loop: at most ``UpstreamLimits.max_connections`` requests are sent at once (httpx's pool
has exactly that many connections, so it never queues), at most ``max_queued`` more wait for a
turn, up to ``pool_timeout_s``, and past that a request fails at once with ``EngineUnavailable``
(503). Without these, 10,000 generations queued inside httpx's pool, whose bookkeeping is quadratic
in its waiters, and kept the event loop from answering ``/health`` for minutes. Health probes have
a client of their own, so a saturated pool never makes a healthy upstream look down.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from potcot.server.engines.base import (
    ChoiceDelta,
    Engine,
    EngineInputError,
    EngineUnavailable,
    GenerationChunk,
    GenerationInterrupted,
    JsonOutput,
    PromptLogprobs,
    SamplingOptions,
    Tokenization,
    TokenLogprob,
)
from potcot.server.prompts import Prompt

if TYPE_CHECKING:
    from potcot.server.settings import EngineSettings

logger = logging.getLogger(__name__)

_HEALTH_INTERVAL_S = 5.0
_HEALTH_TIMEOUT_S = 2.0
# Before its first token a request is safe to send again: every upstream is tried, in this many
# passes, with a pause between them that doubles from the first.
_PASSES = 3
_FIRST_PAUSE_S = 0.5


@dataclasses.dataclass(frozen=True, slots=True)
class UpstreamLimits:
    """How much is sent upstream at once and may wait; the defaults are ``EngineSettings``'s."""

    max_connections: int
    max_queued: int
    pool_timeout_s: float

    @classmethod
    def for_settings(cls, settings: EngineSettings) -> UpstreamLimits:
        return cls(settings.upstream_max_connections, settings.upstream_max_queued, settings.upstream_pool_timeout_s)


class _UpstreamFailed(Exception):
    """One upstream failed one request: refused it, answered 5xx or 429, or broke its stream."""


class UpstreamHealth:
    """What is known of one upstream: its last ``/health`` answer, and the requests it failed in a
    row since it last served one. One failed request is that request's bad luck (a dropped
    connection, a worker the router just replaced) and does not make the only upstream unhealthy;
    ``FAILURES_IN_A_ROW`` of them, or a failed probe, do, until a probe or a request succeeds."""

    FAILURES_IN_A_ROW = 3

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.probe_failure: str | None = None
        self.failures_in_a_row = 0
        self.last_failure = ""

    @property
    def healthy(self) -> bool:
        return self.probe_failure is None and self.failures_in_a_row < self.FAILURES_IN_A_ROW

    @property
    def reason(self) -> str:
        return self.probe_failure or self.last_failure or "healthy"

    def probed(self, failure: str | None) -> None:
        """A ``/health`` probe's outcome: ``None`` when it passed."""
        was = self.healthy
        self.probe_failure = failure
        if failure is None:
            self.failures_in_a_row = 0
        self._log_change(was)

    def failed(self, failure: Exception) -> None:
        was = self.healthy
        self.failures_in_a_row += 1
        self.last_failure = str(failure)
        self._log_change(was)

    def succeeded(self) -> None:
        was = self.healthy
        self.failures_in_a_row = 0
        self._log_change(was)

    def _log_change(self, was: bool) -> None:
        if self.healthy != was:
            state = "healthy" if self.healthy else f"unhealthy ({self.reason})"
            logger.warning("upstream %s is now %s", self.upstream, state)


class OpenAIEngine(Engine):
    def __init__(
        self,
        upstreams: Sequence[str],
        model_name: str,
        max_model_len: int,
        client: httpx.AsyncClient,
        limits: UpstreamLimits,
        probe_client: httpx.AsyncClient | None = None,
        health_path: str = "/health",
    ) -> None:
        if not upstreams:
            raise ValueError("the openai engine needs at least one --upstream URL")
        self._upstreams = [url.rstrip("/") for url in upstreams]
        self._health = {upstream: UpstreamHealth(upstream) for upstream in self._upstreams}
        self._turn = itertools.count()
        self._client = client
        self._probe_client = probe_client or client
        self._health_path = health_path
        self._limits = limits
        self._sending = asyncio.Semaphore(self._limits.max_connections)
        self._waiting = 0
        self._health_task: asyncio.Task[None] | None = None
        self.model_name = model_name
        self.max_model_len = max_model_len
        self.has_chat_template = True  # the upstream applies its own template to chat messages

    @classmethod
    async def start(
        cls,
        upstreams: Sequence[str],
        model: str | None,
        max_model_len: int | None,
        limits: UpstreamLimits,
        health_path: str = "/health",
    ) -> OpenAIEngine:
        """Connect, and learn the model's id and context length from the first upstream that answers."""
        pool = httpx.Limits(max_connections=limits.max_connections, max_keepalive_connections=limits.max_connections)
        timeout = httpx.Timeout(600.0, connect=5.0, pool=limits.pool_timeout_s)
        client = httpx.AsyncClient(timeout=timeout, limits=pool)
        probe_limits = httpx.Limits(max_connections=len(upstreams), max_keepalive_connections=len(upstreams))
        probe_client = httpx.AsyncClient(timeout=_HEALTH_TIMEOUT_S, limits=probe_limits)
        try:
            card = await _first_model_card(probe_client, upstreams, model)
        except BaseException:
            await client.aclose()
            await probe_client.aclose()
            raise
        max_len = card.get("max_model_len") or max_model_len or 4096
        engine = cls(upstreams, card["id"], max_len, client, limits, probe_client, health_path)
        engine._health_task = asyncio.create_task(engine._watch_health())
        return engine

    @contextlib.asynccontextmanager
    async def _turn_to_send(self) -> AsyncIterator[None]:
        """A place among the requests being sent, after at most ``pool_timeout_s`` in a queue of at
        most ``max_queued``; ``EngineUnavailable`` when there is none."""
        if self._sending.locked():
            if self._waiting >= self._limits.max_queued:
                raise EngineUnavailable("the upstream servers are saturated: too many requests queued")
            self._waiting += 1
            try:
                async with asyncio.timeout(self._limits.pool_timeout_s):
                    await self._sending.acquire()
            except TimeoutError:
                raise EngineUnavailable(
                    f"no upstream connection came free within {self._limits.pool_timeout_s:g} s"
                ) from None
            finally:
                self._waiting -= 1
        else:
            await self._sending.acquire()
        try:
            yield
        finally:
            self._sending.release()

    async def stream(
        self, prompt: Prompt, options: SamplingOptions, request_id: str
    ) -> AsyncGenerator[GenerationChunk, None]:
        """The generation, its first chunk carrying the prompt's log-probabilities when asked for,
        which an echo-only request (vLLM's ``echo`` with ``max_tokens: 0``) brings first."""
        prompt_logprobs = None
        if options.prompt_logprobs is not None:
            prompt_logprobs = await self._prompt_logprobs(prompt, options.prompt_logprobs)
        async with contextlib.aclosing(self._generation(prompt, options, request_id)) as chunks:
            async for chunk in chunks:
                yield dataclasses.replace(chunk, prompt_logprobs=prompt_logprobs) if prompt_logprobs else chunk
                prompt_logprobs = None

    async def _generation(
        self, prompt: Prompt, options: SamplingOptions, request_id: str
    ) -> AsyncGenerator[GenerationChunk, None]:
        """The first upstream that starts the generation streams all of it. Until its first chunk,
        a failure passes the request on to the next try; after it, the failure is the caller's
        (``GenerationInterrupted``), since another upstream's text would not continue it."""
        path, body = self._request_body(prompt, options)
        failures = []
        async with self._turn_to_send():
            async for upstream in self._tries():
                async with contextlib.aclosing(
                    self._upstream_chunks(upstream, path, body, request_id, options.logprobs or 0)
                ) as chunks:
                    try:
                        first = await anext(chunks, None)
                    except _UpstreamFailed as failed:
                        self._health[upstream].failed(failed)
                        failures.append(f"{upstream}: {failed}")
                        continue
                    if first is not None:
                        yield first
                        async with contextlib.aclosing(self._rest(upstream, chunks, first.completion_tokens)) as rest:
                            async for chunk in rest:
                                yield chunk
                self._health[upstream].succeeded()
                return
        raise EngineUnavailable("no upstream server could take the request: " + "; ".join(failures))

    async def _prompt_logprobs(self, prompt: Prompt, alternatives: int) -> PromptLogprobs:
        path, body = self._request_body(prompt, SamplingOptions(max_tokens=0, temperature=0.0, logprobs=alternatives))
        body = {key: value for key, value in body.items() if key != "stream_options"}
        answer = await self._call("POST", path, body | {"echo": True, "stream": False})
        return _echoed_prompt_logprobs(answer["choices"][0]["logprobs"], alternatives)

    async def tokenize(
        self, prompt: Prompt, *, add_special_tokens: bool, add_generation_prompt: bool = True, strings: bool = False
    ) -> Tokenization:
        """The upstream's ``/tokenize`` (vLLM's), which tokenizes with the model's own tokenizer."""
        if prompt.token_ids is not None:
            return Tokenization(list(prompt.token_ids))
        body: dict[str, object] = {"model": self.model_name, "add_special_tokens": add_special_tokens}
        if strings:
            body["return_token_strs"] = True
        if prompt.text is not None:
            body["prompt"] = prompt.text + prompt.continuation
        else:
            body |= _chat_fields(prompt, None)
            if not prompt.continuation:
                body["add_generation_prompt"] = add_generation_prompt
        answer = await self._call("POST", "/tokenize", body)
        return Tokenization(list(answer["tokens"]), answer.get("token_strs") if strings else None)

    async def detokenize(self, token_ids: Sequence[int]) -> str:
        answer = await self._call("POST", "/detokenize", {"model": self.model_name, "tokens": list(token_ids)})
        return str(answer["prompt"])

    async def tokenizer_info(self) -> dict[str, Any]:
        """The upstream's ``/tokenizer_info``, which ``vllm serve`` has with
        ``--enable-tokenizer-info-endpoint``; without it, its 404 is the client's answer."""
        return dict(await self._call("GET", "/tokenizer_info"))

    async def _call(self, method: str, path: str, body: dict[str, object] | None = None) -> Any:
        """One request that is not a generation, answered whole by the first healthy upstream that
        answers. A refusal (4xx) is the client's, with the upstream's status; a failure tries the
        next upstream."""
        failures = []
        async with self._turn_to_send():
            for upstream in self._rotation():
                try:
                    response = await self._client.request(method, upstream + path, json=body)
                except httpx.TransportError as error:
                    failures.append(f"{upstream}: {error or type(error).__name__}")
                    self._health[upstream].failed(error)
                    continue
                if response.status_code >= 500 or response.status_code == 429:
                    failed = _UpstreamFailed(f"answered {response.status_code}: {_error_message(response.content)}")
                    failures.append(f"{upstream}: {failed}")
                    self._health[upstream].failed(failed)
                    continue
                if response.status_code >= 400:
                    raise EngineInputError(_error_message(response.content), response.status_code)
                self._health[upstream].succeeded()
                return response.json()
        raise EngineUnavailable(f"no upstream server answered {path}: " + "; ".join(failures))

    async def _rest(
        self, upstream: str, chunks: AsyncGenerator[GenerationChunk, None], completion_tokens: int
    ) -> AsyncGenerator[GenerationChunk, None]:
        """The stream after its first chunk, where a failure interrupts the generation."""
        try:
            async for chunk in chunks:
                completion_tokens = chunk.completion_tokens
                yield chunk
        except _UpstreamFailed as failed:
            self._health[upstream].failed(failed)
            message = f"upstream {upstream} failed mid-generation: {failed}"
            raise GenerationInterrupted(message, completion_tokens) from failed

    async def _upstream_chunks(
        self, upstream: str, path: str, body: dict[str, object], request_id: str, alternatives: int
    ) -> AsyncGenerator[GenerationChunk, None]:
        """One upstream's stream. Every way the upstream can fail is ``_UpstreamFailed``; a
        request it refuses as invalid is ``EngineInputError``, the same from any upstream."""
        try:
            async with self._client.stream(
                "POST", upstream + path, json=body, headers={"X-Request-Id": request_id}
            ) as response:
                if response.status_code >= 500 or response.status_code == 429:
                    raise _UpstreamFailed(f"answered {response.status_code}: {_error_message(await response.aread())}")
                if response.status_code >= 400:
                    raise EngineInputError(_error_message(await response.aread()))
                async for chunk in _server_sent_chunks(response, alternatives):
                    yield chunk
        except httpx.PoolTimeout as error:  # cannot happen while the semaphore fits the pool
            raise EngineUnavailable("no upstream connection came free") from error
        except httpx.TransportError as error:
            raise _UpstreamFailed(str(error) or type(error).__name__) from error

    def _request_body(self, prompt: Prompt, options: SamplingOptions) -> tuple[str, dict[str, object]]:
        body: dict[str, object] = {
            "model": self.model_name,
            "max_tokens": options.max_tokens,
            "temperature": options.temperature,
            "top_p": options.top_p,
            "n": options.n,
            "seed": options.seed,
            "stop": list(options.stop + prompt.stop) or None,
            "presence_penalty": options.presence_penalty,
            "frequency_penalty": options.frequency_penalty,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if options.json_output is not None:
            body["response_format"] = _response_format(options.json_output)
        if prompt.token_ids is not None:
            return "/v1/completions", body | _text_fields(list(prompt.token_ids), options.logprobs)
        if prompt.text is not None:
            return "/v1/completions", body | _text_fields(prompt.text + prompt.continuation, options.logprobs)
        return "/v1/chat/completions", body | _chat_fields(prompt, options.logprobs)

    async def _tries(self) -> AsyncIterator[str]:
        """Every upstream in turn, in ``_PASSES`` passes: with one upstream (a router whose replica
        died under the request before it had streamed anything) the next pass usually lands on a
        replica that is alive."""
        for index in range(_PASSES):
            if index:
                await asyncio.sleep(_FIRST_PAUSE_S * 2 ** (index - 1))
            for upstream in self._rotation():
                yield upstream

    def _rotation(self) -> list[str]:
        """Every upstream once, healthy ones first, starting one further along each time."""
        start = next(self._turn) % len(self._upstreams)
        ordered = self._upstreams[start:] + self._upstreams[:start]
        return sorted(ordered, key=lambda url: not self._health[url].healthy)

    async def _watch_health(self) -> None:
        while True:
            await asyncio.gather(*(self._probe(upstream) for upstream in self._upstreams))
            await asyncio.sleep(_HEALTH_INTERVAL_S)

    async def _probe(self, upstream: str) -> None:
        try:
            response = await self._probe_client.get(upstream + self._health_path, timeout=_HEALTH_TIMEOUT_S)
            failure = None if response.status_code == 200 else f"{self._health_path} answered {response.status_code}"
        except httpx.HTTPError as error:
            failure = f"{self._health_path} failed: {error or type(error).__name__}"
        self._health[upstream].probed(failure)

    async def check_health(self) -> None:
        if not any(health.healthy for health in self._health.values()):
            reasons = "; ".join(f"{health.upstream}: {health.reason}" for health in self._health.values())
            raise EngineUnavailable(f"no upstream server is healthy ({reasons})")

    async def close(self) -> None:
        if self._health_task is not None:
            self._health_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._health_task
        await self._client.aclose()
        if self._probe_client is not self._client:
            await self._probe_client.aclose()


def _text_fields(prompt: str | list[int], logprobs: int | None) -> dict[str, object]:
    """Text completion's own fields: the prompt (its continuation already appended), or its token ids."""
    fields: dict[str, object] = {"prompt": prompt}
    if logprobs is not None:
        fields["logprobs"] = logprobs
    return fields


def _chat_fields(prompt: Prompt, logprobs: int | None) -> dict[str, object]:
    """Chat completion's own fields. A continuation goes as the assistant's unfinished last message,
    which vLLM's server renders open-ended and continues (``continue_final_message``, with no new
    generation prompt) instead of opening another assistant turn; without one the request is plain
    OpenAI, which every compatible server takes."""
    messages = [{"role": message.role, "content": message.content} for message in prompt.messages or ()]
    fields: dict[str, object] = {"messages": messages}
    if prompt.continuation:
        messages.append({"role": "assistant", "content": prompt.continuation})
        fields |= {"continue_final_message": True, "add_generation_prompt": False}
    if logprobs is not None:
        fields |= {"logprobs": True, "top_logprobs": logprobs}
    return fields


async def _first_model_card(client: httpx.AsyncClient, upstreams: Sequence[str], model: str | None) -> dict[str, Any]:
    for upstream in upstreams:
        try:
            response = await client.get(upstream.rstrip("/") + "/v1/models", timeout=_HEALTH_TIMEOUT_S * 5)
            response.raise_for_status()
        except httpx.HTTPError as error:
            logger.warning("upstream %s did not list its models: %s", upstream, error)
            continue
        cards = response.json().get("data", [])
        for card in cards:
            if model is None or card.get("id") == model:
                return card
        raise EngineUnavailable(
            f"upstream {upstream} does not serve {model!r}; it serves {[c.get('id') for c in cards]}"
        )
    raise EngineUnavailable(f"none of the upstream servers answered: {list(upstreams)}")


async def _server_sent_chunks(response: httpx.Response, alternatives: int) -> AsyncIterator[GenerationChunk]:
    """OpenAI's streaming format: ``data: {json}`` lines, ending with ``data: [DONE]``; each
    token's log-probability comes with at most ``alternatives`` of the most likely. A stream that
    ends before ``[DONE]``, an error event and an unreadable event are the upstream failing. Until
    the usage arrives, which vLLM sends last, the completion tokens counted are the token events."""
    prompt_tokens = completion_tokens = 0
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue
        data = line[len("data:") :].strip()
        if data == "[DONE]":
            return
        event = _event(data, completion_tokens)
        usage = event.get("usage") or {}
        prompt_tokens = usage.get("prompt_tokens", prompt_tokens)
        completion_tokens = usage.get("completion_tokens", completion_tokens + bool(event.get("choices")))
        deltas = tuple(
            ChoiceDelta(
                choice["index"],
                choice.get("text") or (choice.get("delta") or {}).get("content") or "",
                choice.get("finish_reason"),
                _logprobs(choice.get("logprobs"), alternatives),
            )
            for choice in event.get("choices", [])
        )
        yield GenerationChunk(deltas, prompt_tokens, completion_tokens)
    raise _UpstreamFailed("the stream ended before [DONE]")


def _event(data: str, completion_tokens: int) -> dict[str, Any]:
    """One event of the stream. An error event before any output is the request's own fault when
    its code says so (a 4xx: another upstream would refuse it too)."""
    try:
        event = json.loads(data)
    except ValueError as error:
        raise _UpstreamFailed(f"an unreadable event: {data[:200]!r}") from error
    if not isinstance(event, dict):
        raise _UpstreamFailed(f"an unreadable event: {data[:200]!r}")
    if "error" in event:
        message = _error_message(data.encode())
        if completion_tokens == 0 and _clients_error(event["error"]):
            raise EngineInputError(message)
        raise _UpstreamFailed(f"an error event: {message}")
    return event


def _clients_error(error: object) -> bool:
    """Whether an error event blames the request: vLLM's say so by a 4xx ``code`` (other than 429),
    OpenAI's (and potcot's) by their ``type``."""
    if not isinstance(error, dict):
        return False
    code = error.get("code")
    if isinstance(code, int):
        return 400 <= code < 500 and code != 429
    return error.get("type") in ("invalid_request_error", "BadRequestError")


def _logprobs(logprobs: dict[str, Any] | None, alternatives: int) -> tuple[TokenLogprob, ...]:
    """A choice's log-probabilities in either of OpenAI's shapes: chat's ``content`` list, or
    completions' parallel lists, whose top dicts may hold the chosen token beside the top k."""
    if not logprobs:
        return ()
    if "content" in logprobs:
        return tuple(
            TokenLogprob(
                entry["token"],
                entry["logprob"],
                tuple((top["token"], top["logprob"]) for top in entry.get("top_logprobs") or ())[:alternatives],
            )
            for entry in logprobs["content"] or ()
        )
    tops = logprobs.get("top_logprobs") or [None] * len(logprobs["tokens"])
    return tuple(
        TokenLogprob(token, logprob, tuple(sorted((top or {}).items(), key=lambda item: -item[1]))[:alternatives])
        for token, logprob, top in zip(logprobs["tokens"], logprobs["token_logprobs"], tops, strict=True)
    )


def _echoed_prompt_logprobs(logprobs: dict[str, Any] | None, alternatives: int) -> PromptLogprobs:
    """An echoed prompt's log-probabilities, in completions' shape, whose first token has none."""
    if not logprobs or not logprobs.get("tokens"):
        raise EngineUnavailable("the upstream echoed no prompt log-probabilities")
    rest = {key: (logprobs.get(key) or [None] * len(logprobs["tokens"]))[1:] for key in ("tokens", "token_logprobs")}
    rest["top_logprobs"] = (logprobs.get("top_logprobs") or [None] * len(logprobs["tokens"]))[1:]
    return PromptLogprobs(logprobs["tokens"][0], _logprobs(rest, alternatives))


def _error_message(body: bytes) -> str:
    try:
        error = json.loads(body)
        return str(error.get("error", {}).get("message") or error.get("message") or error)
    except (ValueError, AttributeError):
        return body.decode(errors="replace")[:500]


def _response_format(json_output: JsonOutput) -> dict[str, object]:
    """OpenAI's ``response_format`` for a JSON output, which vLLM's server also takes on text
    completions."""
    if json_output.schema is None:
        return {"type": "json_object"}
    return {"type": "json_schema", "json_schema": {"name": "response", "schema": json.loads(json_output.schema)}}
