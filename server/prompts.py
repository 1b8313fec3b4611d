"""What a model is asked, for each prompt style: the one place that turns a question into a
program-of-thought or chain-of-thought prompt. Training builds its records with the same
functions, so the prompts a model is trained on and served with never drift apart.

Imports nothing heavy: no FastAPI, no vLLM.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence

from potcot.answers.choices import CHOICE_LETTERS


class PromptStyle(enum.StrEnum):
    AUTO = "auto"
    ALPACA = "alpaca"  # MAmmoTH checkpoints: the Alpaca instruction template
    CHAT = "chat"  # instruct models: the tokenizer's chat template


class Rationale(enum.StrEnum):
    POT = "pot"  # program of thought: a Python program that prints the answer
    COT = "cot"  # chain of thought: step-by-step text ending in the answer
    TIR = "tir"  # tool-integrated reasoning: text and code blocks, each block's real output read back


# MAmmoTH's evaluation trigger for programs of thought, appended to the question.
POT_TRIGGER = "Let's write a program."

ALPACA_TEMPLATE = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Response:"
)
# An Alpaca-tuned model that finishes its response tends to start the next instruction.
ALPACA_STOP = ("### Instruction",)

CHAT_POT_INSTRUCTION = (
    "Write a Python program that computes the answer and prints it with print(). "
    "Reply with the program in a ```python code block."
)
CHAT_COT_INSTRUCTION = 'Solve the problem step by step. End your reply with "The answer is X." where X is {what}.'
# Qwen2.5-Math's tool-integrated reasoning instruction, verbatim (QwenLM/Qwen2.5-Math, evaluation/).
TIR_INSTRUCTION = (
    "Please integrate natural language reasoning with programs to solve the problem above, "
    "and put your final answer within \\boxed{}."
)
# A chat model's program of thought stops where its code block closes: what it writes after the
# program (an explanation, often a third of the reply) is never read. An opening fence carries its
# language (```python), so only a closing one is a bare fence on its own line.
POT_CLOSING_FENCE = "\n```\n"
# A tool-integrated rationale stops where the code's output belongs: potcot writes the real one.
TIR_OUTPUT_FENCE = "```output"


@dataclasses.dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str
    content: str


@dataclasses.dataclass(frozen=True, slots=True)
class Prompt:
    """What an engine is asked: raw text for completion-style models, chat messages that the
    engine renders with the model's chat template, or token ids the model reads as they are (what
    evaluation harnesses send, having tokenized with the model's tokenizer)."""

    text: str | None = None
    messages: tuple[ChatMessage, ...] | None = None
    stop: tuple[str, ...] = ()
    # The start of the model's reply, which it continues (tool-integrated reasoning's rounds so far):
    # appended to the text, or, for messages, to the rendered chat template's assistant turn.
    continuation: str = ""
    token_ids: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if [self.text, self.messages, self.token_ids].count(None) != 2:
            raise ValueError("a prompt is either text, messages or token ids")
        if self.token_ids is not None and self.continuation:
            raise ValueError("token ids are the whole prompt: there is no continuation to append")


def with_choices(question: str, choices: Sequence[str] | None) -> str:
    """A multiple-choice question as MAmmoTH wrote it: ``Answer Choices: (A) 12 (B) 15``."""
    if not choices:
        return question
    options = " ".join(f"({CHOICE_LETTERS[index]}) {choice}" for index, choice in enumerate(choices))
    return f"{question}\nAnswer Choices: {options}"


def instruction(question: str, rationale: Rationale, style: PromptStyle, choices: Sequence[str] | None = None) -> str:
    """The instruction a model is given, in training records and at serving time alike."""
    question = with_choices(question, choices)
    if rationale is Rationale.TIR:  # one instruction in every style: the one TIR models are trained on
        return f"{question}\n\n{TIR_INSTRUCTION}"
    if style is PromptStyle.ALPACA:
        return f"{question} {POT_TRIGGER}" if rationale is Rationale.POT else question
    if rationale is Rationale.POT:
        return f"{question}\n\n{CHAT_POT_INSTRUCTION}"
    what = "the letter of the correct choice" if choices else "the final answer"
    return f"{question}\n\n{CHAT_COT_INSTRUCTION.format(what=what)}"


def render(instruction_text: str, style: PromptStyle) -> Prompt:
    """The prompt for an instruction, in the given (resolved) style."""
    if style is PromptStyle.ALPACA:
        return Prompt(text=ALPACA_TEMPLATE.format(instruction=instruction_text), stop=ALPACA_STOP)
    if style is PromptStyle.CHAT:
        return Prompt(messages=(ChatMessage("user", instruction_text),))
    raise ValueError(f"resolve the prompt style before rendering, got {style}")


def program_of_thought(question: str, style: PromptStyle, choices: Sequence[str] | None = None) -> Prompt:
    """MAmmoTH's checkpoints answer with bare code, which no fence ends; chat models fence theirs."""
    prompt = render(instruction(question, Rationale.POT, style, choices), style)
    return dataclasses.replace(prompt, stop=(*prompt.stop, POT_CLOSING_FENCE)) if style is PromptStyle.CHAT else prompt


def chain_of_thought(question: str, style: PromptStyle, choices: Sequence[str] | None = None) -> Prompt:
    return render(instruction(question, Rationale.COT, style, choices), style)


def tool_integrated(question: str, style: PromptStyle, choices: Sequence[str] | None = None) -> Prompt:
    """The first round of tool-integrated reasoning; each later round is the same prompt with the
    reply so far as its ``continuation``."""
    prompt = render(instruction(question, Rationale.TIR, style, choices), style)
    return dataclasses.replace(prompt, stop=(*prompt.stop, TIR_OUTPUT_FENCE))


def resolve_style(requested: PromptStyle, model_name: str, has_chat_template: bool) -> PromptStyle:
    """``auto``: MAmmoTH checkpoints were tuned on Alpaca records; other models use their chat
    template when they have one."""
    if requested is not PromptStyle.AUTO:
        return requested
    if "mammoth" in model_name.lower() or not has_chat_template:
        return PromptStyle.ALPACA
    return PromptStyle.CHAT
