"""The model ids potcot serves: the model itself, for plain generation, and one id per solve
strategy (``NAME:hybrid``, ``NAME:pot``, ...), which answer chat requests by solving."""

from __future__ import annotations

from potcot.server.solver import Strategy
from potcot.server.web.errors import CONTEXT_LENGTH_EXCEEDED, MODEL_NOT_FOUND, ApiError
from potcot.server.web.protocol_openai import SOLVING_ID_SEPARATOR, ModelCard, ModelList


class ModelRegistry:
    def __init__(self, model_name: str, max_model_len: int) -> None:
        self.model_name = model_name
        self.max_model_len = max_model_len
        self._strategies = {f"{model_name}{SOLVING_ID_SEPARATOR}{strategy.value}": strategy for strategy in Strategy}

    def cards(self) -> ModelList:
        ids = [self.model_name, *self._strategies]
        return ModelList(data=[ModelCard(id=model_id, max_model_len=self.max_model_len) for model_id in ids])

    def card(self, model_id: str) -> ModelCard:
        """One model's card (``GET /v1/models/{model}``); 404 for an id not served."""
        self.strategy_for(model_id)
        return ModelCard(id=model_id, max_model_len=self.max_model_len)

    def check_token_budget(self, tokens: int | None, param: str) -> None:
        """Refuse a budget no generation can use: past the context, as vLLM's OpenAI server does.
        The protocol's bound is static; only here is the model's context known."""
        if tokens is not None and tokens > self.max_model_len:
            raise ApiError(
                400,
                f"{param} is {tokens}, past the model's context of {self.max_model_len} tokens",
                param=param,
                code=CONTEXT_LENGTH_EXCEEDED,
            )

    def strategy_for(self, model_id: str | None) -> Strategy | None:
        """The solve strategy a model id stands for; None for the plain model."""
        if model_id is None or model_id == self.model_name:
            return None
        if model_id in self._strategies:
            return self._strategies[model_id]
        raise ApiError(
            404, f"the model {model_id!r} does not exist; see GET /v1/models", param="model", code=MODEL_NOT_FOUND
        )
