"""Supervised fine-tuning on an instruction set from ``potcot data mix``, with TRL's SFTTrainer.

Prompts are rendered by ``server.prompts`` in the model's prompt style, and the loss is on the
response tokens only, less the tool outputs of tool-integrated responses (``training.masking``).
Everything else about training (precision, schedule, checkpoints, logging, gradient checkpointing)
is the run's ``SFTConfig``; potcot derives only the per-device batch and accumulation steps from a
global batch size, and resumes from the last checkpoint in the output directory. Several GPUs or
nodes go through accelerate (DeepSpeed ZeRO or FSDP)::

    accelerate launch --config_file training/configs/accelerate_fsdp.yaml -m potcot.training.sft CONFIG
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import logging
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import torch
from datasets import Dataset
from matplotlib.figure import Figure
from torch.optim.lr_scheduler import LambdaLR
from transformers import (
    AutoTokenizer,
    PreTrainedTokenizerBase,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)
from transformers.trainer_utils import get_last_checkpoint
from trl import SFTConfig, SFTTrainer

from potcot.server.embedded import EMBEDDED_MODEL_NAME, embedded_model_dir
from potcot.server.prompts import PromptStyle, render, resolve_style
from potcot.server.settings import EngineSettings
from potcot.training.config import SCRATCH, TrainConfig, split_global_batch
from potcot.training.masking import labelled_examples
from potcot.training.records import read_jsonl
from potcot.training.scratch import ScratchModel, initial_checkpoint

logger = logging.getLogger(__name__)


def train(config: TrainConfig) -> Path:
    """Fine-tune, then save the model (or LoRA adapter), tokenizer, log history and loss curve to ``output_dir``."""
    args = training_arguments(config)
    model_path, model_name = _model(config)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    style = resolve_style(config.prompt_style, model_name, bool(tokenizer.chat_template))
    budget = TimeBudget(config.max_train_minutes) if config.max_train_minutes is not None else None
    trainer = BudgetedSFTTrainer(
        budget=budget,
        model=str(model_path),
        args=args,
        train_dataset=tokenized_examples(config.train_file, style, tokenizer),
        eval_dataset=tokenized_examples(config.eval_file, style, tokenizer) if config.eval_file else None,
        processing_class=tokenizer,
        peft_config=copy.deepcopy(config.lora),  # peft fills in the config it is given; the run stays reusable
        callbacks=[ThroughputCallback(), *([TimeBudgetCallback(budget)] if budget else [])],
    )
    trainer.train(resume_from_checkpoint=_checkpoint(args))
    _save(trainer, tokenizer, config.output_dir)
    return config.output_dir


def training_arguments(config: TrainConfig) -> SFTConfig:
    """The run's ``SFTConfig`` as parsed, with the batch split derived from ``global_batch_size`` when set."""
    if config.global_batch_size is None:
        return config.sft
    world_size = config.sft.world_size
    per_device, accumulation = split_global_batch(
        config.global_batch_size, config.sft.per_device_train_batch_size, world_size
    )
    logger.info(
        "global batch %d = %d per device x %d processes x %d accumulation steps",
        config.global_batch_size,
        per_device,
        world_size,
        accumulation,
    )
    return dataclasses.replace(
        config.sft, per_device_train_batch_size=per_device, gradient_accumulation_steps=accumulation
    )


def _checkpoint(args: SFTConfig) -> str | None:
    """``resume_from_checkpoint`` when given, else the last checkpoint in the output directory, so a
    run that was stopped picks up where it was when started again."""
    if args.resume_from_checkpoint:
        return args.resume_from_checkpoint
    output_dir = Path(args.output_dir)
    checkpoint = get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
    if checkpoint:
        logger.info("resuming from %s", checkpoint)
    return checkpoint


def _save(trainer: SFTTrainer, tokenizer: PreTrainedTokenizerBase, output_dir: Path) -> None:
    """A checkpoint directory that vLLM loads as is, with the run's log history and loss curve beside it."""
    trainer.save_model(str(output_dir))
    tokenizer.save_pretrained(str(output_dir))
    history = trainer.state.log_history
    (output_dir / "log_history.json").write_text(json.dumps(history, indent=2), encoding="utf-8")
    draw_loss_curve(history, output_dir / "loss.png")


def _model(config: TrainConfig) -> tuple[Path | str, str]:
    """Where the weights to start from are, and the model's name (which decides its prompt style)."""
    if config.model == "embedded":
        return embedded_model_dir(EngineSettings().cache_dir), EMBEDDED_MODEL_NAME
    if config.model == SCRATCH:
        initial = initial_checkpoint(config.scratch or ScratchModel(), config.train_file, config.output_dir / "initial")
        return initial, config.output_dir.name
    return config.model, config.model


def tokenized_examples(path: Path, style: PromptStyle, tokenizer: PreTrainedTokenizerBase) -> Dataset:
    """Instruction records as tokenized examples whose labels are the response's tokens but a tool's
    output (``training.masking``): the prompt rendered as potcot serves it (Alpaca text, or the chat
    template's user turn), the response ended as the model must end it (the end-of-text token, or
    the template's end of turn)."""
    pairs = [_prompt_and_response(record, style, tokenizer) for record in read_jsonl(path)]
    # Alpaca text has no special tokens in it, so the tokenizer adds its own; a chat template writes them.
    examples = labelled_examples(tokenizer, pairs, add_special_tokens=style is not PromptStyle.CHAT)
    return Dataset.from_list(examples)


def _prompt_and_response(
    record: dict[str, Any], style: PromptStyle, tokenizer: PreTrainedTokenizerBase
) -> tuple[str, str]:
    if style is not PromptStyle.CHAT:
        return render(record["instruction"], style).text or "", record["output"] + tokenizer.eos_token
    question = [{"role": "user", "content": record["instruction"]}]
    prompt = tokenizer.apply_chat_template(question, tokenize=False, add_generation_prompt=True)
    reply = {"role": "assistant", "content": record["output"]}
    whole = tokenizer.apply_chat_template([*question, reply], tokenize=False)
    if not whole.startswith(prompt):
        raise ValueError("the chat template renders the user turn differently once a reply follows it")
    return prompt, whole[len(prompt) :]


class ThroughputCallback(TrainerCallback):
    """Adds training tokens per second to each log line, from TRL's running token count.

    Only the time inside training steps counts, so evaluations and checkpoint saves between two log
    lines do not drag the figure down.
    """

    def __init__(self) -> None:
        self._step_started = 0.0
        self._training_s = 0.0
        self._last: tuple[float, float] | None = None  # (training seconds, tokens) at the last log line

    def on_step_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self._step_started = time.monotonic()

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        self._training_s += time.monotonic() - self._step_started

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not logs or "num_tokens" not in logs:
            return
        tokens = float(logs["num_tokens"])
        if self._last is not None and self._training_s > self._last[0]:
            logs["tokens_per_second"] = round((tokens - self._last[1]) / (self._training_s - self._last[0]), 1)
        self._last = (self._training_s, tokens)


class TimeBudget:
    """The minutes a run may train, counted from its first step."""

    def __init__(self, minutes: float) -> None:
        self.minutes = minutes
        self._started: float | None = None

    def start(self) -> None:
        if self._started is None:
            self._started = time.monotonic()

    @property
    def spent(self) -> float:
        """The share of the minutes used so far: 0 before the first step, 1 or more once all are."""
        return 0.0 if self._started is None else (time.monotonic() - self._started) / (self.minutes * 60)


class TimeBudgetCallback(TrainerCallback):
    """Ends training once its steps have spent the budget: the step in progress finishes, and the
    model is saved as at the end of a run, so a slower machine trains less rather than longer."""

    def __init__(self, budget: TimeBudget) -> None:
        self.budget = budget

    def on_step_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self.budget.start()

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        if self.budget.spent >= 1:
            logger.info("stopping at step %d of %d: the %g-minute budget is spent", state.global_step,
                        state.max_steps, self.budget.minutes)  # fmt: skip
            control.should_training_stop = True


def fit_schedule_to_budget(scheduler: LambdaLR, budget: TimeBudget, total_steps: int) -> LambdaLR:
    """The same learning-rate schedule, run to its end by the time the budget is spent when that
    comes before ``total_steps``: each step takes the rate the schedule has at whichever is further
    along, the steps or the minutes. A run its budget cuts short then ends as a whole run does, its
    rate decayed, not stopped at whatever rate the cut found (docs/experiments/2026-12-miniature-runs.md,
    runs 13 and 14)."""
    rates = [functools.partial(_rate_on_budget, rate, budget, total_steps) for rate in scheduler.lr_lambdas]
    return LambdaLR(scheduler.optimizer, rates)


def _rate_on_budget(rate: Callable[[int], float], budget: TimeBudget, total_steps: int, step: int) -> float:
    return rate(max(step, min(total_steps, math.ceil(budget.spent * total_steps))))


class BudgetedSFTTrainer(SFTTrainer):
    """TRL's SFTTrainer, whose learning-rate schedule fits the run's time budget when it has one."""

    def __init__(self, *args: Any, budget: TimeBudget | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.budget = budget
        self._fitted: LambdaLR | None = None

    def create_scheduler(
        self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None
    ) -> torch.optim.lr_scheduler.LRScheduler:
        scheduler = super().create_scheduler(num_training_steps, optimizer)
        if self.budget is None or scheduler is self._fitted:
            return scheduler
        # A schedule of steps: TrainConfig refuses a budget with the one schedule that is not.
        self._fitted = fit_schedule_to_budget(cast(LambdaLR, scheduler), self.budget, num_training_steps)
        self.lr_scheduler = self._fitted
        return self._fitted


def draw_loss_curve(history: list[dict[str, Any]], path: Path) -> None:
    """Training and held-out loss by step, drawn without pyplot so that no global backend is chosen."""
    figure = Figure(figsize=(7, 4))
    axes = figure.add_subplot()
    for key, label in (("loss", "training loss"), ("eval_loss", "held-out loss")):
        points = [(entry["step"], entry[key]) for entry in history if key in entry]
        if points:
            axes.plot(*zip(*points, strict=True), marker="o" if key == "eval_loss" else None, label=label)
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    """``python -m potcot.training.sft CONFIG``: the entry point for ``accelerate launch``."""
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m potcot.training.sft CONFIG")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    train(TrainConfig.from_file(Path(sys.argv[1])))


if __name__ == "__main__":
    main()
