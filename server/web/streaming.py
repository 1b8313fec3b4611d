"""Server-sent events for OpenAI-style streaming responses."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Set
from typing import TypeVar

from pydantic import BaseModel

from potcot.server.engines import EngineInputError, GenerationInterrupted
from potcot.server.web.errors import error_body

DONE = "data: [DONE]\n\n"

T = TypeVar("T")


def event(payload: BaseModel, leave_out: Set[str] = frozenset()) -> str:
    """One event. Every field is sent, nulls included, as OpenAI's schemas require (a chunk's
    ``finish_reason``, ``logprobs``); the models leave out what OpenAI leaves out, and
    ``leave_out`` names what this stream does not send (``usage`` unless asked for)."""
    return f"data: {payload.model_dump_json(exclude=set(leave_out) or None)}\n\n"


def engine_error_event(error: Exception) -> str:
    """An engine failure met after a stream began: the status is already sent, so it is an event."""
    if isinstance(error, EngineInputError):
        return event(error_body(str(error), "invalid_request_error"))
    if isinstance(error, GenerationInterrupted):
        return event(error_body(str(error), "bad_gateway"))
    return event(error_body(str(error), "service_unavailable"))


async def primed(items: AsyncGenerator[T, None]) -> AsyncGenerator[T, None]:
    """Start ``items`` now, so that a request that fails at once (a prompt longer than the
    context) fails as an HTTP error rather than inside a stream already answered with 200."""
    try:
        first = await anext(items)
    except StopAsyncIteration:
        return _empty()
    return _chain(first, items)


async def _chain(first: T, rest: AsyncGenerator[T, None]) -> AsyncGenerator[T, None]:
    try:
        yield first
        async for item in rest:
            yield item
    finally:
        await rest.aclose()  # a client that left must not keep the model generating


async def _empty() -> AsyncGenerator[T, None]:
    return
    yield
