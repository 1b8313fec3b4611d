"""The HTTP front door's settings, and the server's: every concern of ``potcot serve`` together."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator
from pydantic_settings import NoDecode

from potcot.server.settings import ApiKeys, Settings, SolverSettings


def _json_or_commas(value: object) -> object:
    """A list as vLLM's flags take it (JSON: ``'["https://a.example"]'``), or separated by commas, as
    repeated flags reach the validator."""
    if not isinstance(value, str):
        return value
    if value.lstrip().startswith("["):
        return json.loads(value)
    return [item.strip() for item in value.split(",") if item.strip()]


CorsList = Annotated[list[str], NoDecode, BeforeValidator(_json_or_commas)]


class HttpSettings(Settings):
    """The HTTP front door: where to listen, who may come in, and how much each client may ask."""

    host: str = Field("127.0.0.1", description="address to listen on")
    port: int = Field(8000, ge=0, le=65535, description="port to listen on")
    api_key: ApiKeys = Field(
        default_factory=list,
        description="a key clients must send as 'Authorization: Bearer KEY' (repeat the flag for several; "
        "POTCOT_API_KEY: one key, or several separated by commas); default: none, no authentication",
    )
    max_generations_in_flight: int = Field(
        256,
        ge=1,
        description="the server's capacity: a request weighs the generations it asks for (prompts x n; 2 for a "
        "hybrid solve); past capacity, 503 and Retry-After",
    )
    max_concurrent_requests: int | None = Field(
        None, ge=1, description="the old name of --max-generations-in-flight, still read", exclude=True
    )
    max_request_generations: int = Field(
        64, ge=1, description="the most generations one request may ask for (prompts x n); more is a 400"
    )
    body_timeout_s: float = Field(10.0, gt=0, description="seconds a client has to send a whole request body; then 408")
    header_timeout_s: float = Field(
        10.0, gt=0, description="seconds a client has to send a request's headers; then 408 and the connection closes"
    )
    max_header_bytes: int = Field(
        32 * 2**10, ge=1024, description="the most bytes of a request line and headers; more is refused at once"
    )
    max_headers: int = Field(100, ge=8, description="the most header fields in one request; more is a 431")
    allowed_origins: CorsList = Field(
        default_factory=list,
        description="origins a browser page may call the API from (CORS), as vLLM's flag: a JSON list, "
        "or repeat the flag; '*' for any; default: none, CORS off",
    )
    allowed_methods: CorsList = Field(
        default_factory=lambda: ["*"], description="with --allowed-origins: the methods a page may use"
    )
    allowed_headers: CorsList = Field(
        default_factory=lambda: ["*"], description="with --allowed-origins: the request headers a page may send"
    )
    allow_credentials: bool = Field(
        False, description="with --allowed-origins: let a page send cookies and Authorization with its requests"
    )
    graceful_shutdown_s: float = Field(30.0, ge=0, description="on SIGTERM, how long in-flight requests may finish")
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="server log level")

    @model_validator(mode="after")
    def _capacity_by_its_old_name(self) -> HttpSettings:
        """A deployment that sets the old name keeps its capacity; one that sets both is asked which."""
        old = self.max_concurrent_requests
        if old is None:
            return self
        if "max_generations_in_flight" in self.model_fields_set and old != self.max_generations_in_flight:
            raise ValueError("--max-concurrent-requests is the old name of --max-generations-in-flight; set one")
        self.max_generations_in_flight = old
        return self


class ServerSettings(HttpSettings, SolverSettings):
    """Serve a math model with hybrid program-of-thought / chain-of-thought decoding."""
