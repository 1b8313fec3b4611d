"""One settings object for the server, read from ``potcot serve`` flags and ``POTCOT_*``
environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from potcot.server.prompts import PromptStyle


class ServerSettings(BaseSettings):
    """Serve a math model with hybrid program-of-thought / chain-of-thought decoding."""

    model_config = SettingsConfigDict(env_prefix="POTCOT_", cli_kebab_case=True, cli_implicit_flags=True)

    model: str | None = Field(
        None,
        description="a local checkpoint directory or a hub id (for machines with hub access); "
        "default: the embedded SmolLM2-135M-Instruct",
    )
    served_model_name: str | None = Field(None, description="the model id clients use; default: the model's name")
    prompt_style: PromptStyle = Field(PromptStyle.AUTO, description="alpaca (MAmmoTH checkpoints), chat, or auto")
    engine: Literal["vllm", "openai"] = Field(
        "vllm", description="vLLM in-process, or remote OpenAI-compatible servers"
    )
    upstream: list[str] = Field(
        default_factory=list, description="with --engine openai: base URLs of the servers (repeat the flag)"
    )
    host: str = Field("127.0.0.1", description="address to listen on")
    port: int = Field(8000, ge=0, le=65535, description="port to listen on")
    # NoDecode: the variable holds plain text, not JSON; ``_one_or_several_keys`` splits it.
    api_key: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="a key clients must send as 'Authorization: Bearer KEY' (repeat the flag for several; "
        "POTCOT_API_KEY: one key, or several separated by commas); default: none, no authentication",
    )
    max_model_len: int | None = Field(4096, ge=16, description="context length; default: 4096 (None: the model's)")
    dtype: str = Field("auto", description="weights and activations dtype for vLLM")
    gpu_memory_utilization: float | None = Field(
        None, gt=0, le=1, description="vLLM's memory share (on CPU: of host memory); default 0.9 GPU, 0.3 CPU"
    )
    enforce_eager: bool | None = Field(None, description="skip graph compilation; default: on for CPU")
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs to shard the model over")
    max_concurrent_requests: int = Field(
        256,
        ge=1,
        description="the server's capacity, in generations in flight (the name is historical): a request "
        "weighs the generations it asks for (prompts x n; 2 for a hybrid solve); past capacity, 503 and Retry-After",
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
    upstream_max_connections: int = Field(
        64, ge=1, description="with --engine openai: connections to all upstreams together"
    )
    upstream_max_queued: int = Field(
        256,
        ge=0,
        description="with --engine openai: upstream requests that may wait for a connection; more get 503 at once",
    )
    upstream_pool_timeout_s: float = Field(
        30.0, gt=0, description="with --engine openai: seconds a request may wait for a connection; then 503"
    )
    default_max_tokens: int = Field(768, ge=1, description="generation budget of each /solve attempt")
    sandbox_workers: int | None = Field(None, ge=1, description="sandbox worker processes; default: one per core")
    sandbox_timeout: float = Field(5.0, gt=0, le=600, description="seconds a generated program may run")
    cache_dir: Path = Field(Path.home() / ".cache" / "potcot", description="where the embedded model is converted")
    graceful_shutdown_s: float = Field(30.0, ge=0, description="on SIGTERM, how long in-flight requests may finish")
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="server log level")

    @field_validator("api_key", mode="before")
    @classmethod
    def _one_or_several_keys(cls, value: object) -> object:
        """``POTCOT_API_KEY=k1,k2``; repeated flags reach the validator joined the same way."""
        if isinstance(value, str):
            return [key.strip() for key in value.split(",")]
        return value

    @field_validator("api_key")
    @classmethod
    def _no_empty_key(cls, keys: list[SecretStr]) -> list[SecretStr]:
        """An empty key is a mistake (``-e POTCOT_API_KEY=$UNSET``, a stray comma), never a wish to
        serve without keys: refusing to start is safer than serving openly."""
        if not all(key.get_secret_value() for key in keys):
            raise ValueError("an API key must not be empty; to serve without keys, unset POTCOT_API_KEY")
        return keys
