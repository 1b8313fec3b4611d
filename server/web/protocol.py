"""What crosses HTTP that is potcot's own (``/solve``), and what every protocol shares: the request
base class, integer bounds, the fields refused, and errors in OpenAI's shape. OpenAI's API is in
``protocol_openai``, vLLM's tokenizer endpoints in ``protocol_tokenize``.

Field bounds follow OpenAI's API reference, so a value OpenAI would reject is a 400 here too, and
every integer is bounded to what the engines accept: an unbounded one reached vLLM's serializer and
failed there as a 500. OpenAI's fields that potcot does not implement are declared, and refused
unless they ask for nothing (``REFUSED_FIELDS``): a client that asked for a tool call must not get
a plain completion as if it had been honoured. Advisory fields (``IGNORED_FIELDS``: bookkeeping and
hints that change no output) and fields unknown to OpenAI are ignored, as vLLM does.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)
from pydantic_core import PydanticCustomError

# --- integer bounds ----------------------------------------------------------------------------
# Strict: a JSON ``true`` or ``2.5`` where a count is expected is a client's mistake, not a 1 or a 2.

MAX_CHOICES = 16
# No vocabulary is this large; the engine checks the model's own.
MAX_TOKEN_ID = 2**31 - 1

Choices = Annotated[int, Field(ge=1, le=MAX_CHOICES, strict=True)]
TokenId = Annotated[int, Field(ge=0, le=MAX_TOKEN_ID, strict=True)]


# --- fields potcot does not implement ----------------------------------------------------------

# Each with the values that ask for nothing; any other value is a 400 that names the field.
REFUSED_FIELDS: dict[str, tuple[object, ...]] = {
    "tools": ([],),
    "tool_choice": ("none", "auto"),
    "functions": ([],),
    "function_call": ("none", "auto"),
    "logit_bias": ({},),
    "prediction": (),
    "audio": (),
    "modalities": (["text"],),
    "web_search_options": (),
    "moderation": (),
    "reasoning_effort": ("none",),
    "verbosity": (),
    "best_of": (1,),
    "suffix": ("",),
    # vLLM's extensions that change what is generated.
    "top_k": (-1, 0),
    "min_p": (0.0,),
    "repetition_penalty": (1.0,),
    "min_tokens": (0,),
    "structured_outputs": (),
    "guided_json": (),
    "guided_regex": (),
    "guided_choice": (),
    "guided_grammar": (),
}
# Advisory fields: bookkeeping and hints that change no output, accepted and ignored, as vLLM does
# (prompt caching is vLLM's own, automatic). Documentation only: like any field unknown to OpenAI,
# they are simply not read.
IGNORED_FIELDS = frozenset(
    {
        "user",
        "metadata",
        "store",
        "service_tier",
        "parallel_tool_calls",
        "safety_identifier",
        "prompt_cache_key",
        "prompt_cache_retention",
        "prompt_cache_options",
    }
)


def _asks_for_nothing(value: object, inert: tuple[object, ...]) -> bool:
    """``None`` or one of the field's inert values, of the same type: 0 is not ``False``."""
    return value is None or any(type(value) is type(candidate) and value == candidate for candidate in inert)


class Request(BaseModel):
    """The base of every request body: unknown fields ignored (as vLLM does), and the fields of
    ``refused_fields`` that a model declares refused unless they ask for nothing."""

    model_config = ConfigDict(extra="ignore")
    refused_fields: ClassVar[Mapping[str, tuple[object, ...]]] = REFUSED_FIELDS

    @field_validator("*")
    @classmethod
    def _refuse_unimplemented(cls, value: object, info: ValidationInfo) -> object:
        """One check for every refused field a model declares; it runs only on fields the client
        sent, so an absent one is never refused."""
        inert = cls.refused_fields.get(info.field_name or "")
        if inert is None or _asks_for_nothing(value, inert):
            return value
        raise PydanticCustomError("unsupported_field", "not supported by this server; leave it out or send null")


def one_of(accepted: str) -> WrapValidator:
    """A union field's error as one sentence that says what the field accepts, instead of pydantic's
    problem with every branch (``prompt.str: ...; prompt.list[str].0: ...``)."""

    def validate(value: object, handler: ValidatorFunctionWrapHandler) -> object:
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError("union_type", "must be {accepted}", {"accepted": accepted}) from None

    return WrapValidator(validate)


def now() -> int:
    return int(time.time())


# --- errors -----------------------------------------------------------------------------------


class ErrorInfo(BaseModel):
    """OpenAI's error: ``code`` is one of OpenAI's codes (``model_not_found``) where one fits, else
    null; never the HTTP status, which the response already carries."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorInfo


# What each error status means, for the OpenAPI document: the statuses the server really answers.
_ERROR_STATUSES: dict[int, str] = {
    400: "Malformed JSON, a missing or wrong field, a value out of range, a field the server does not "
    "implement, or a prompt past the model's context",
    401: "No valid API key, when keys are configured",
    404: "An unknown model",
    405: "A method the path does not take (with Allow)",
    413: "A request body over the size limit",
    502: "An upstream server (--engine openai) broke off mid-generation; what it had written is not a reply",
    503: "The model is still loading, the engine cannot serve, or the server is at capacity (with Retry-After)",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI's account of a route's errors, all in OpenAI's shape: the statuses it answers, and
    ``default`` for an unexpected one (a 500). ``default`` also keeps FastAPI from documenting its
    422, which this server never answers (validation errors are 400s, as OpenAI's)."""
    documented: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorResponse, "description": _ERROR_STATUSES[status]} for status in statuses
    }
    documented["default"] = {"model": ErrorResponse, "description": "An unexpected error"}
    return documented


def streamed(chunk: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI's account of a route that streams with ``stream: true``: ``text/event-stream``
    beside the JSON of a whole response."""
    stream = {
        "type": "string",
        "description": f"Server-sent events: `data: {{{chunk.__name__} as JSON}}` lines, then `data: [DONE]`; "
        "an error met after the stream began is one `data: {ErrorResponse as JSON}` event",
    }
    return {200: {"content": {"text/event-stream": {"schema": stream}}}}


class Health(BaseModel):
    status: Literal["ok"] = "ok"
