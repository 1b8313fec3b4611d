"""Reinforcement learning with rewards the sandbox verifies: TRL's ``GRPOTrainer`` on questions with
reference answers (``potcot train grpo``), as DeepSeekMath's GRPO and Qwen2.5-Math's RL stage
finish their models.

The run starts from any checkpoint potcot serves (an SFT output, a hub id, the embedded model).
Each question is asked as potcot serves it (``server.prompts``, in the model's prompt style), once
for each of the run's rationales; each completion is scored by the rewards of ``training.rewards``
(programs run in one ``Sandbox``, the same as serving, answers graded by potcot's ``Grader``), and
tool-integrated prompts are rolled out round by round through the sandbox (``training.rollouts``).
Generation is TRL's: vLLM on a GPU (``grpo.use_vllm``) for programs and chains of thought,
transformers otherwise. Beside the checkpoint: ``log_history.json`` (every step's mean reward,
accuracy by rationale and sandbox outcomes), ``rewards.png``, and ``grpo_summary.json`` (the run's
sandbox outcomes in all).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from datasets import Dataset
from matplotlib.figure import Figure
from transformers import AutoTokenizer, PreTrainedTokenizerBase
from transformers.trainer_utils import get_last_checkpoint
from trl import GRPOConfig, GRPOTrainer

from potcot.answers import Grader
from potcot.sandbox import Sandbox
from potcot.server import prompts
from potcot.server.embedded import EMBEDDED_MODEL_NAME, embedded_model_dir
from potcot.server.prompts import PromptStyle, Rationale, resolve_style
from potcot.server.settings import EngineSettings
from potcot.training.config import FORMAT, GrpoRunConfig
from potcot.training.inputs import read_input
from potcot.training.rewards import (
    ChainOfThoughtReward,
    ProgramReward,
    RewardLedger,
    ToolIntegratedReward,
    format_reward,
)
from potcot.training.rollouts import ToolIntegratedRollout
from potcot.training.sft import TimeBudget, TimeBudgetCallback

logger = logging.getLogger(__name__)

SUMMARY = "grpo_summary.json"
PLOT = "rewards.png"
_PROMPTS = {
    Rationale.POT: prompts.program_of_thought,
    Rationale.COT: prompts.chain_of_thought,
    Rationale.TIR: prompts.tool_integrated,
}


@dataclasses.dataclass(frozen=True, slots=True)
class Question:
    """A question with its reference answer: a benchmark row (``id``, ``question``, ``answer``,
    ``choices``: null, or the options, the answer being a letter)."""

    id: str
    question: str
    answer: str
    choices: tuple[str, ...] | None = None


def questions_of(rows: Iterable[dict[str, Any]], limit: int | None = None) -> list[Question]:
    """The distinct questions of benchmark rows (or of rationale records, which carry the same
    fields), in order, at most ``limit``. A row without a question or an answer has nothing to be
    rewarded against, and is skipped."""
    questions: list[Question] = []
    seen: set[str] = set()
    skipped = 0
    for row in rows:
        question, answer, choices = row.get("question"), row.get("answer"), row.get("choices")
        if isinstance(answer, (int, float)) and not isinstance(answer, bool):
            answer = str(answer)
        if not isinstance(question, str) or not question.strip() or not isinstance(answer, str) or not answer.strip():
            skipped += 1
            continue
        if question in seen:
            continue
        seen.add(question)
        options = tuple(str(choice) for choice in choices) if isinstance(choices, list) and choices else None
        questions.append(Question(str(row.get("id", len(questions))), question, answer.strip(), options))
        if limit is not None and len(questions) == limit:
            break
    if skipped:
        logger.warning("skipped %d rows without a question or an answer", skipped)
    return questions


def prompt_for(question: Question, rationale: Rationale, style: PromptStyle) -> str | list[dict[str, str]]:
    """The prompt a rationale is asked with, as potcot serves it: Alpaca text, or the chat messages
    TRL renders with the tokenizer's template."""
    prompt = _PROMPTS[rationale](question.question, style, question.choices)
    if prompt.text is not None:
        return prompt.text
    return [{"role": message.role, "content": message.content} for message in prompt.messages or ()]


def grpo_examples(
    questions: Sequence[Question], rationales: Sequence[Rationale], style: PromptStyle
) -> list[dict[str, Any]]:
    """GRPO's rows: every question once per rationale, with the columns the rewards read
    (``answer``, ``choices``, ``rationale``)."""
    return [
        {
            "id": question.id,
            "prompt": prompt_for(question, rationale, style),
            "answer": question.answer,
            "choices": list(question.choices) if question.choices else None,
            "rationale": rationale.value,
        }
        for question in questions
        for rationale in rationales
    ]


def reward_functions(
    config: GrpoRunConfig, sandbox: Sandbox, grader: Grader, ledger: RewardLedger
) -> tuple[list[Any], list[float]]:
    """The run's reward functions and their weights, in ``config.reward_names``' order."""
    made: dict[str, Any] = {
        Rationale.POT.value: ProgramReward(sandbox, grader, config.program_timeout_s, ledger),
        Rationale.COT.value: ChainOfThoughtReward(grader, ledger),
        Rationale.TIR.value: ToolIntegratedReward(grader, ledger),
        FORMAT: format_reward,
    }
    return [made[name] for name in config.reward_names], [config.weight(name) for name in config.reward_names]


def grpo_arguments(config: GrpoRunConfig, weights: list[float]) -> GRPOConfig:
    """The run's ``GRPOConfig`` as parsed, with the rewards' weights."""
    args = copy.copy(config.grpo)
    args.reward_weights = weights
    return args


def train_grpo(config: GrpoRunConfig, cache_dir: Path | None = None) -> Path:
    """Train, then save the model (or LoRA adapter), tokenizer, log history, reward curve and
    summary to ``output_dir``."""
    model_path, model_name = _model(config)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    style = resolve_style(config.prompt_style, model_name, bool(tokenizer.chat_template))
    rows = read_input(config.train_file, cache_dir or EngineSettings(engine="vllm").cache_dir)
    questions = questions_of(rows, config.max_questions)
    if not questions:
        raise ValueError(f"{config.train_file}: no rows with a question and an answer")
    dataset = Dataset.from_list(grpo_examples(questions, config.rationales, style))
    logger.info("%d questions x %s in the %s style", len(questions), [r.value for r in config.rationales], style)
    ledger = RewardLedger()
    budget = TimeBudget(config.max_train_minutes) if config.max_train_minutes is not None else None
    started = time.monotonic()
    with Sandbox(config.sandbox_workers) as sandbox, Grader() as grader:
        functions, weights = reward_functions(config, sandbox, grader, ledger)
        args = grpo_arguments(config, weights)
        tool_integrated = Rationale.TIR in config.rationales
        rollout = (
            ToolIntegratedRollout(sandbox, config.program_timeout_s, config.max_rounds) if tool_integrated else None
        )
        trainer = GRPOTrainer(
            model=str(model_path),
            reward_funcs=functions,
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=copy.deepcopy(config.lora),
            rollout_func=rollout,
            callbacks=[TimeBudgetCallback(budget)] if budget else None,
        )
        trainer.train(resume_from_checkpoint=_checkpoint(args))
    _save(trainer, tokenizer, config, ledger, (time.monotonic() - started) / 60)
    return config.output_dir


def _model(config: GrpoRunConfig) -> tuple[Path | str, str]:
    """Where the weights to start from are, and the model's name (which decides its prompt style)."""
    if config.model == "embedded":
        return embedded_model_dir(EngineSettings().cache_dir), EMBEDDED_MODEL_NAME
    if Path(config.model).is_absolute() and not Path(config.model).exists():
        raise ValueError(f"model: no checkpoint at {config.model}")
    return config.model, config.model


def _checkpoint(args: GRPOConfig) -> str | None:
    """``resume_from_checkpoint`` when given, else the last checkpoint in the output directory."""
    if args.resume_from_checkpoint:
        return str(args.resume_from_checkpoint)
    output_dir = Path(args.output_dir)
    checkpoint = get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
    if checkpoint:
        logger.info("resuming from %s", checkpoint)
    return checkpoint


def _save(
    trainer: GRPOTrainer,
    tokenizer: PreTrainedTokenizerBase,
    config: GrpoRunConfig,
    ledger: RewardLedger,
    minutes: float,
) -> None:
    """A checkpoint directory that vLLM loads as is, with the run's logs and reward curve beside it."""
    output_dir = config.output_dir
    trainer.save_model(str(output_dir))
    tokenizer.save_pretrained(str(output_dir))
    history = trainer.state.log_history
    (output_dir / "log_history.json").write_text(json.dumps(history, indent=2), encoding="utf-8")
    draw_reward_curves(history, output_dir / PLOT)
    summary = {
        "model": config.model,
        "train_file": config.train_file,
        "rationales": [rationale.value for rationale in config.rationales],
        "rewards": {name: config.weight(name) for name in config.reward_names},
        "steps": trainer.state.global_step,
        "train_minutes": round(minutes, 2),
        "outcomes": ledger.counts(),
    }
    (output_dir / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


def draw_reward_curves(history: list[dict[str, Any]], path: Path) -> None:
    """Mean reward and accuracy by rationale by step, above the share of each sandbox outcome;
    drawn without pyplot, so that no global backend is chosen."""
    figure = Figure(figsize=(7, 6))
    rewards, outcomes = figure.subplots(2, 1, sharex=True)
    steps = [entry for entry in history if "step" in entry]
    keys = sorted({key for entry in steps for key in entry})
    for key in ["reward", *(key for key in keys if key.startswith("accuracy/"))]:
        _plot(rewards, steps, key, "mean reward" if key == "reward" else key.removeprefix("accuracy/") + " accuracy")
    rewards.set_ylabel("per completion")
    rewards.legend(fontsize="small")
    for key in (key for key in keys if key.startswith("sandbox/")):
        # A step that ran programs of this kind but had none end this way had a share of 0.
        kind = key.rsplit("/", 1)[0] + "/"
        ran = [entry for entry in steps if any(name.startswith(kind) for name in entry)]
        _plot(
            outcomes, [{"step": entry["step"], key: entry.get(key, 0.0)} for entry in ran], key, key[len("sandbox/") :]
        )
    outcomes.set_xlabel("step")
    outcomes.set_ylabel("share of programs run")
    if outcomes.get_legend_handles_labels()[0]:
        outcomes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def _plot(axes: Any, history: list[dict[str, Any]], key: str, label: str) -> None:
    points = [(entry["step"], entry[key]) for entry in history if key in entry]
    if points:
        axes.plot(*zip(*points, strict=True), marker=".", label=label)


def main() -> None:
    """``python -m potcot.training.grpo CONFIG``: the entry point for ``accelerate launch``."""
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m potcot.training.grpo CONFIG")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    train_grpo(GrpoRunConfig.from_file(Path(sys.argv[1])))


if __name__ == "__main__":
    main()
