"""vLLM's tokenizer endpoints as potcot serves them (``/tokenize``, ``/detokenize``,
``/tokenizer_info``), with vLLM's request and response shapes: what lm-evaluation-harness's
``local-completions`` model looks for to count tokens with the served model's own tokenizer, so that
an evaluation needs neither a hub tokenizer id nor ``tokenized_requests=False``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator
from pydantic_core import PydanticCustomError

from potcot.server.prompts import Prompt
from potcot.server.web.protocol import Request, TokenId
from potcot.server.web.protocol_openai import ChatMessageIn, engine_messages

# vLLM's fields that would render with a template or tools of the client's: potcot renders with
# the model's own template only, as its chat completions do.
REFUSED_TOKENIZE_FIELDS: dict[str, tuple[object, ...]] = {
    "tools": ([],),
    "chat_template": (),
    "chat_template_kwargs": ({},),
    "mm_processor_kwargs": ({},),
    "media_io_kwargs": ({},),
}


class TokenizeRequest(Request):
    """vLLM's ``TokenizeCompletionRequest`` (``prompt``) or ``TokenizeChatRequest`` (``messages``,
    rendered with the chat template), told apart by which of the two the body has."""

    refused_fields = REFUSED_TOKENIZE_FIELDS

    model: str | None = None
    prompt: str | None = None
    messages: list[ChatMessageIn] | None = Field(None, min_length=1)
    add_special_tokens: StrictBool | None = Field(
        None, description="default: true for a prompt; false for messages, whose template adds its own"
    )
    add_generation_prompt: StrictBool = True
    continue_final_message: StrictBool = False
    return_token_strs: StrictBool | None = False
    # Refused unless they ask for nothing (REFUSED_TOKENIZE_FIELDS).
    tools: list[dict[str, Any]] | None = None
    chat_template: str | None = None
    chat_template_kwargs: dict[str, Any] | None = None
    mm_processor_kwargs: dict[str, Any] | None = None
    media_io_kwargs: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _prompt_or_messages(self) -> TokenizeRequest:
        if (self.prompt is None) == (self.messages is None):
            raise PydanticCustomError("tokenize_input", "send either prompt (text) or messages (a chat), not both")
        if self.continue_final_message and self.add_generation_prompt:
            raise PydanticCustomError(
                "continuation", "continue_final_message and add_generation_prompt cannot both be true"
            )
        if self.continue_final_message and (self.messages is None or self.messages[-1].role != "assistant"):
            raise PydanticCustomError("continuation", "continue_final_message needs a final assistant message")
        return self

    def engine_prompt(self) -> Prompt:
        if self.messages is None:
            return Prompt(text=self.prompt or "")
        messages = engine_messages(self.messages)
        if not self.continue_final_message:
            return Prompt(messages=messages)
        return Prompt(messages=messages[:-1], continuation=messages[-1].content)

    @property
    def special_tokens(self) -> bool:
        """vLLM's defaults: a text prompt gets the tokenizer's special tokens, a rendered chat not."""
        return self.add_special_tokens if self.add_special_tokens is not None else self.messages is None


class TokenizeResponse(BaseModel):
    count: int
    max_model_len: int
    tokens: list[int]
    token_strs: list[str] | None = None


class DetokenizeRequest(Request):
    model: str | None = None
    tokens: list[TokenId]


class DetokenizeResponse(BaseModel):
    prompt: str


class TokenizerInfoResponse(BaseModel):
    """The tokenizer's configuration, as its ``tokenizer_config.json`` has it (``eos_token``,
    ``bos_token``, ``chat_template``, ...), with its class."""

    model_config = ConfigDict(extra="allow")
    tokenizer_class: str
