"""Settings by concern, read from flags and ``POTCOT_*`` environment variables: the engine, the
sandbox and what a solve defaults to, each default written once here; the HTTP front door's are the
web server's own (``potcot.server.web.settings``).

``potcot solve`` and ``potcot bench`` take what solving in a process takes (``SolverSettings``) and
fields of their own, which are flags only (``Command``): a ``POTCOT_URL`` or ``POTCOT_SEED`` in the
environment must not change what a command does.
"""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from potcot.sandbox import Sandbox, SandboxLimits
from potcot.sandbox.limits import DEFAULT_TIMEOUT_S
from potcot.server.prompts import PromptStyle

# The generation budget of each solve attempt when a request names none.
DEFAULT_MAX_TOKENS = 768

_CONFIG = SettingsConfigDict(
    env_prefix="POTCOT_", cli_kebab_case=True, cli_implicit_flags=True, cli_hide_none_type=True, cli_avoid_json=True
)


def choice_of(values: type[enum.StrEnum]) -> Any:
    """An enum as a flag's type, its choices shown and checked as the values users type
    (``{hybrid,pot,cot}``); pydantic-settings would show the members' names (``{HYBRID,POT,COT}``).
    The field still holds the enum member."""
    return Annotated[Literal[tuple(member.value for member in values)], AfterValidator(values)]


if TYPE_CHECKING:  # a type checker sees the enum, which is what the field holds
    PromptStyleChoice = PromptStyle
else:
    PromptStyleChoice = choice_of(PromptStyle)


def _split_keys(value: object) -> object:
    """``POTCOT_API_KEY=k1,k2``; repeated flags reach the validator joined the same way."""
    return [key.strip() for key in value.split(",")] if isinstance(value, str) else value


def _no_empty_key(keys: list[SecretStr]) -> list[SecretStr]:
    """An empty key is a mistake (``-e POTCOT_API_KEY=$UNSET``, a stray comma), never a wish to
    serve without keys: refusing to start is safer than serving openly."""
    if not all(key.get_secret_value() for key in keys):
        raise ValueError("an API key must not be empty; to serve without keys, unset POTCOT_API_KEY")
    return keys


# NoDecode: the variable holds plain text, not JSON; ``_split_keys`` splits it.
ApiKeys = Annotated[list[SecretStr], NoDecode, BeforeValidator(_split_keys), AfterValidator(_no_empty_key)]


class Settings(BaseSettings):
    """One concern's settings: each field a flag (``--sandbox-workers``) and a variable
    (``POTCOT_SANDBOX_WORKERS``)."""

    model_config = _CONFIG


class EngineSettings(Settings):
    """Where completions come from: the model, and vLLM in this process or remote servers."""

    model: str | None = Field(
        None,
        description="a local checkpoint directory or a hub id (for machines with hub access); "
        "default: the embedded SmolLM2-135M-Instruct",
    )
    served_model_name: str | None = Field(None, description="the model id clients use; default: the model's name")
    prompt_style: PromptStyleChoice = Field(PromptStyle.AUTO, description="alpaca (MAmmoTH checkpoints), chat, or auto")
    engine: Literal["vllm", "openai"] = Field(
        "vllm", description="vLLM in-process, or remote OpenAI-compatible servers"
    )
    upstream: list[str] = Field(
        default_factory=list, description="with --engine openai: base URLs of the servers (repeat the flag)"
    )
    upstream_max_connections: int = Field(
        64, ge=1, description="with --engine openai: connections to all upstreams together"
    )
    upstream_max_queued: int = Field(
        256,
        ge=0,
        description="with --engine openai: upstream requests that may wait for a connection; more get 503 at once",
    )
    upstream_health_path: str = Field(
        "/health",
        pattern=r"^/[\w/.-]*$",
        description="with --engine openai: the path that says an upstream can serve: /health for vllm serve, "
        "/readiness for vllm-router (whose /health fails while any one replica is down)",
    )
    upstream_pool_timeout_s: float = Field(
        30.0, gt=0, description="with --engine openai: seconds a request may wait for a connection; then 503"
    )
    max_model_len: int | None = Field(4096, ge=16, description="context length; default: 4096 (None: the model's)")
    dtype: str = Field("auto", description="weights and activations dtype for vLLM")
    gpu_memory_utilization: float | None = Field(
        None, gt=0, le=1, description="vLLM's memory share (on CPU: of host memory); default 0.9 GPU, 0.3 CPU"
    )
    enforce_eager: bool | None = Field(None, description="skip graph compilation; default: on for CPU")
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs to shard the model over")
    cache_dir: Path = Field(Path.home() / ".cache" / "potcot", description="where the embedded model is converted")

    @model_validator(mode="after")
    def _upstreams_for_openai(self) -> EngineSettings:
        """Remote servers need their addresses; said at start-up, not after a failed load."""
        if self.engine == "openai" and not self.upstream:
            raise ValueError("--engine openai needs at least one --upstream URL (POTCOT_UPSTREAM)")
        return self


class SandboxSettings(Settings):
    """Where generated programs run."""

    sandbox_workers: int | None = Field(None, ge=1, description="sandbox worker processes; default: one per core")
    sandbox_timeout: float = Field(DEFAULT_TIMEOUT_S, gt=0, le=600, description="seconds a generated program may run")

    def open_sandbox(self) -> Sandbox:
        """A sandbox as these settings ask for; the caller closes it."""
        return Sandbox(self.sandbox_workers, limits=SandboxLimits(timeout_s=self.sandbox_timeout))


class SolveDefaults(Settings):
    """What a solve gets when it does not say."""

    max_tokens: int = Field(
        DEFAULT_MAX_TOKENS,
        ge=1,
        description="generation budget of each solve attempt (of potcot serve: when a request names none)",
    )
    race: bool = Field(
        False,
        description="hybrid and tir: start the chain-of-thought fallback beside the first rationale and halt it "
        "when that answers (when a request does not say): a fallback's latency at the cost of more generated tokens",
    )

    @model_validator(mode="after")
    def _not_the_old_name(self) -> SolveDefaults:
        """The budget was ``POTCOT_DEFAULT_MAX_TOKENS`` once; ignoring it would silently change a
        deployment's answers."""
        if "POTCOT_DEFAULT_MAX_TOKENS" in os.environ:
            raise ValueError("POTCOT_DEFAULT_MAX_TOKENS is now POTCOT_MAX_TOKENS (flag --max-tokens)")
        return self


class ClientSettings(Settings):
    """How ``potcot solve --url`` and ``potcot bench --url`` reach a server that wants a key."""

    api_key: ApiKeys = Field(
        default_factory=list,
        description="with --url: the key to send (of several, the first), so that POTCOT_API_KEY configures "
        "a server and the commands that talk to it",
    )

    def auth_headers(self) -> dict[str, str]:
        """The ``Authorization`` header to send, if there is a key."""
        return {"Authorization": f"Bearer {self.api_key[0].get_secret_value()}"} if self.api_key else {}


class SolverSettings(SolveDefaults, SandboxSettings, EngineSettings):
    """What solving takes: an engine, a sandbox and the solve defaults (``potcot solve`` and
    ``potcot bench`` in this process, and the server)."""


class Command(BaseSettings):
    """A command's settings: every field a flag; from the environment, only the fields of the
    ``Settings`` concerns it combines. A command's own fields (``--url``, ``--seed``, ``--limit``)
    are flags only, so that a stray ``POTCOT_SEED`` cannot change a run."""

    model_config = _CONFIG

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        concerns = [base for base in settings_cls.__mro__ if issubclass(base, Settings)]
        fields = {name for concern in concerns if not issubclass(concern, Command) for name in concern.model_fields}
        return init_settings, _OnlyFields(settings_cls, env_settings, fields)


class _OnlyFields(PydanticBaseSettingsSource):
    """Another source's values, for some fields only."""

    def __init__(self, settings_cls: type[BaseSettings], source: PydanticBaseSettingsSource, fields: set[str]) -> None:
        super().__init__(settings_cls)
        self._source = source
        self._fields = fields

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: ``__call__`` asks the wrapped source

    def __call__(self) -> dict[str, Any]:
        return {name: value for name, value in self._source().items() if name in self._fields}
