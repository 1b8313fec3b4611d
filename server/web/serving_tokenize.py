"""``POST /tokenize``, ``POST /detokenize`` and ``GET /tokenizer_info``, vLLM's tokenizer
endpoints: the served model's own tokenizer, for clients that count or send tokens themselves
(lm-evaluation-harness's ``local-completions``). Through ``--engine openai`` the upstream answers."""

from __future__ import annotations

from potcot.server.engines import Engine
from potcot.server.web.protocol_tokenize import (
    DetokenizeRequest,
    DetokenizeResponse,
    TokenizeRequest,
    TokenizeResponse,
    TokenizerInfoResponse,
)
from potcot.server.web.serving_models import ModelRegistry


class TokenizeService:
    def __init__(self, engine: Engine, models: ModelRegistry) -> None:
        self._engine = engine
        self._models = models

    async def tokenize(self, request: TokenizeRequest) -> TokenizeResponse:
        """The prompt's tokens as a generation would read it: a chat through the model's template."""
        self._models.strategy_for(request.model)  # 404 for a model not served, as vLLM
        tokens = await self._engine.tokenize(
            request.engine_prompt(),
            add_special_tokens=request.special_tokens,
            add_generation_prompt=request.add_generation_prompt,
            strings=bool(request.return_token_strs),
        )
        return TokenizeResponse(
            count=len(tokens.ids),
            max_model_len=self._models.max_model_len,
            tokens=tokens.ids,
            token_strs=tokens.strings,
        )

    async def detokenize(self, request: DetokenizeRequest) -> DetokenizeResponse:
        self._models.strategy_for(request.model)
        return DetokenizeResponse(prompt=await self._engine.detokenize(request.tokens))

    async def tokenizer_info(self) -> TokenizerInfoResponse:
        return TokenizerInfoResponse.model_validate(await self._engine.tokenizer_info())
