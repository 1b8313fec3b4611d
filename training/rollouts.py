"""Tool-integrated rollouts for GRPO: the rounds of the ``tir`` strategy, with the sandbox in the loop.

TRL's ``GRPOTrainer`` generates one completion per prompt; its own tool calling speaks a chat
template's JSON tool calls, not the ```` ```python ```` and ```` ```output ```` blocks that
Qwen2.5-Math's tool-integrated models write and potcot's ``tir`` serves. So a tool-integrated run
hands TRL a ``rollout_func`` that generates as the solver does: each round stops where a code
block's output belongs (```` ```output ````), the round's last ```` ```python ```` block runs in the
sandbox (all of a round's blocks in one batch), the output block the solver would write goes back
into the completion, and the model goes on from it, for at most ``max_rounds`` rounds. The tokens of
a tool's output are marked ``env_mask`` 0, so the loss is on what the model wrote only, as
``training.masking`` does for supervised fine-tuning: the opening fence is the model's (writing it is
how the model asks for the output), the output and its closing fence are the sandbox's.

Prompts of the other rationales in the same batch get one plain generation each. Generation is
transformers' ``generate`` on the training model (CPU or GPU); TRL's vLLM path is not used for
tool-integrated runs (``GrpoRunConfig`` refuses the two together).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

import torch
from trl.models.utils import unwrap_model_for_generation

from potcot.answers.parse import last_python_block
from potcot.sandbox import Sandbox
from potcot.server.prompts import TIR_INSTRUCTION, TIR_OUTPUT_FENCE
from potcot.server.solver import output_block


@dataclasses.dataclass
class Rollout:
    """One completion being generated: its prompt's tokens, what was generated so far (the
    model's tokens and the tools' outputs, told apart by ``mask``), and the statuses of the code
    blocks it ran."""

    prompt_ids: list[int]
    tool_integrated: bool
    completion_ids: list[int] = dataclasses.field(default_factory=list)
    mask: list[int] = dataclasses.field(default_factory=list)  # 1: the model's token; 0: a tool's
    outcomes: list[str] = dataclasses.field(default_factory=list)
    done: bool = False

    def extend(self, ids: Sequence[int], by_model: bool) -> None:
        self.completion_ids += ids
        self.mask += [int(by_model)] * len(ids)


def asks_for_tools(prompt: Any) -> bool:
    """Whether a prompt (text, or chat messages) is a tool-integrated one: it carries the TIR
    instruction, which no other rationale's prompt does."""
    if isinstance(prompt, str):
        return TIR_INSTRUCTION in prompt
    return any(TIR_INSTRUCTION in str(message.get("content", "")) for message in prompt)


def round_text(text: str) -> tuple[str, bool]:
    """A round's text up to where its output block begins, and whether it asked for one."""
    before, fence, _ = text.partition(TIR_OUTPUT_FENCE)
    return before, bool(fence)


# Generates, for each context (prompt and completion so far), at most its budget of new tokens,
# ending at the end-of-sequence token (kept) or just after ``stop`` when given; returns the tokens.
Generate = Callable[[list[list[int]], list[int], str | None], list[list[int]]]


class ToolIntegratedRollout:
    """TRL's ``rollout_func``: ``(prompts, trainer) -> {prompt_ids, completion_ids, logprobs, env_mask,
    tool_outcomes}``; ``tool_outcomes`` (the sandbox status of every code block a completion ran)
    reaches the reward functions as a column."""

    def __init__(self, sandbox: Sandbox, timeout_s: float | None, max_rounds: int) -> None:
        if max_rounds < 1:
            raise ValueError(f"max_rounds: expected at least 1, got {max_rounds}")
        self.sandbox, self.timeout_s, self.max_rounds = sandbox, timeout_s, max_rounds

    def __call__(self, prompts: list[Any], trainer: Any) -> dict[str, Any]:
        tokenizer = trainer.processing_class
        with (
            unwrap_model_for_generation(
                trainer.model_wrapped, trainer.accelerator, generation_kwargs=trainer.generation_kwargs
            ) as model,
            torch.no_grad(),
        ):
            rollouts = self.roll_out(
                _prompt_ids(prompts, trainer),
                [asks_for_tools(prompt) for prompt in prompts],
                functools.partial(_transformers_generate, model, trainer),
                tokenizer,
                trainer.max_completion_length,
            )
        return {
            "prompt_ids": [rollout.prompt_ids for rollout in rollouts],
            "completion_ids": [rollout.completion_ids for rollout in rollouts],
            "logprobs": None,
            "env_mask": [rollout.mask for rollout in rollouts],
            "tool_outcomes": [rollout.outcomes for rollout in rollouts],
        }

    def roll_out(
        self,
        prompt_ids: Sequence[list[int]],
        tool_integrated: Sequence[bool],
        generate: Generate,
        tokenizer: Any,
        max_length: int,
    ) -> list[Rollout]:
        """Every prompt's completion: one generation for a plain prompt; rounds for a tool-integrated one."""
        rollouts = [Rollout(list(ids), tools) for ids, tools in zip(prompt_ids, tool_integrated, strict=True)]
        self._generate(
            generate, tokenizer, [rollout for rollout in rollouts if not rollout.tool_integrated], max_length
        )
        for index in range(self.max_rounds):
            active = [rollout for rollout in rollouts if rollout.tool_integrated and not rollout.done]
            if not active:
                break
            self._tool_round(generate, tokenizer, active, max_length, last=index == self.max_rounds - 1)
        return rollouts

    def _tool_round(
        self, generate: Generate, tokenizer: Any, rollouts: list[Rollout], max_length: int, last: bool
    ) -> None:
        """One round of every unfinished tool-integrated rollout; the code blocks they end with run
        in one batch, and their output blocks go back into the completions."""
        texts = self._generate(generate, tokenizer, rollouts, max_length, stop=TIR_OUTPUT_FENCE)
        to_run: list[tuple[Rollout, str, str]] = []
        for rollout, text in zip(rollouts, texts, strict=True):
            before, asked = round_text(text)
            program = last_python_block(before) if asked else None
            if program is None or len(rollout.completion_ids) >= max_length:
                rollout.done = True  # the model is done, asked for nothing it can run, or has no room left
            else:
                to_run.append((rollout, before, program))
        results = self.sandbox.run_many([program for _, _, program in to_run], timeout=self.timeout_s)
        for (rollout, before, _), result in zip(to_run, results, strict=True):
            # The model wrote the opening fence; the sandbox writes the rest of the block.
            output = output_block(result, before).partition(TIR_OUTPUT_FENCE)[2]
            room = max_length - len(rollout.completion_ids)
            rollout.extend(tokenizer(output, add_special_tokens=False)["input_ids"][:room], by_model=False)
            rollout.outcomes.append(result.status.value)
            rollout.done = last or len(rollout.completion_ids) >= max_length

    @staticmethod
    def _generate(
        generate: Generate, tokenizer: Any, rollouts: list[Rollout], max_length: int, stop: str | None = None
    ) -> list[str]:
        """One generation for each rollout, from its prompt and completion so far, within the
        completion's token budget; the model's tokens join each completion. Returns each one's text."""
        if not rollouts:
            return []
        budgets = [max_length - len(rollout.completion_ids) for rollout in rollouts]
        generated = generate([rollout.prompt_ids + rollout.completion_ids for rollout in rollouts], budgets, stop)
        texts = []
        for rollout, tokens, budget in zip(rollouts, generated, budgets, strict=True):
            rollout.extend(tokens[:budget], by_model=True)
            texts.append(tokenizer.decode(tokens[:budget], skip_special_tokens=True))
            rollout.done = rollout.done or not rollout.tool_integrated
        return texts


def _transformers_generate(
    model: Any, trainer: Any, contexts: list[list[int]], budgets: list[int], stop: str | None
) -> list[list[int]]:
    """``Generate`` with transformers on the training model, sampling as the trainer's own generation
    does (its ``GenerationConfig``), the contexts left-padded into one batch."""
    tokenizer = trainer.processing_class
    pad = tokenizer.pad_token_id
    tensors = [torch.tensor(context) for context in contexts]
    width = max(len(tensor) for tensor in tensors)
    input_ids = torch.stack([_left_padded(tensor, width, pad) for tensor in tensors]).to(model.device)
    attention_mask = torch.stack([_left_padded(torch.ones_like(tensor), width, 0) for tensor in tensors])
    config = copy.deepcopy(trainer.generation_config)
    config.max_new_tokens = max(budgets)
    config.stop_strings = [stop] if stop else None
    generated = model.generate(
        input_ids=input_ids,
        attention_mask=attention_mask.to(model.device),
        generation_config=config,
        tokenizer=tokenizer,
    )[:, width:].tolist()
    eos = set(trainer.eos_token_ids)
    return [
        _generated_tokens(ids[:budget], eos, pad, tokenizer, stop)
        for ids, budget in zip(generated, budgets, strict=True)
    ]


def _prompt_ids(prompts: list[Any], trainer: Any) -> list[list[int]]:
    """The prompts' tokens, as TRL tokenizes them: text as is, chat messages through the template."""
    tokenizer = trainer.processing_class
    if isinstance(prompts[0], str):
        return [list(ids) for ids in tokenizer(text=prompts)["input_ids"]]
    tokenized = tokenizer.apply_chat_template(
        conversation=prompts,
        chat_template=trainer.chat_template,
        add_generation_prompt=True,
        tokenize=True,
        return_dict=True,
        **trainer.chat_template_kwargs,
    )
    return [list(ids) for ids in tokenized["input_ids"]]


def _left_padded(ids: torch.Tensor, width: int, value: int) -> torch.Tensor:
    return torch.cat([torch.full((width - len(ids),), value, dtype=ids.dtype), ids])


def _generated_tokens(ids: list[int], eos: set[int], pad: int | None, tokenizer: Any, stop: str | None) -> list[int]:
    """What the model generated of a batch's row: up to its end-of-sequence token (kept, as TRL
    keeps it), or up to the stop string that ended it, without the padding after either."""
    end = next((index + 1 for index, token in enumerate(ids) if token in eos), None)
    if end is not None:
        ids = ids[:end]
        if stop and stop in tokenizer.decode(ids[:-1], skip_special_tokens=True):
            ids = ids[:-1]  # the stop string ended it; what follows is padding that reads as EOS
    else:
        while ids and ids[-1] == pad:
            ids = ids[:-1]
    return ids
