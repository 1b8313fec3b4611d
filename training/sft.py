"""Supervised fine-tuning on an instruction set from ``potcot data mix``, with TRL's SFTTrainer.

Prompts are rendered by ``server.prompts`` in the model's prompt style, and the loss falls on the
response tokens only. Full fine-tuning or LoRA (peft); bfloat16 on GPU, float32 on CPU; gradient
checkpointing; resumes from the last checkpoint in the output directory. Several GPUs or nodes go
through accelerate (DeepSpeed ZeRO or FSDP), e.g.::

    accelerate launch --config_file training/configs/accelerate_fsdp.yaml -m potcot.training.sft CONFIG
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from peft import LoraConfig
from transformers import AutoTokenizer, TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.trainer_utils import get_last_checkpoint
from trl import SFTConfig, SFTTrainer

from potcot.server.embedded import EMBEDDED_MODEL_NAME, embedded_model_dir
from potcot.server.prompts import PromptStyle, render, resolve_style
from potcot.server.settings import ServerSettings
from potcot.training.config import TrainConfig
from potcot.training.records import read_jsonl

logger = logging.getLogger(__name__)


def train(config: TrainConfig) -> Path:
    """Fine-tune, save the model (or LoRA adapter) and tokenizer to ``output_dir``, draw the loss curve."""
    model_path, model_name = _model(config.model)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    style = resolve_style(PromptStyle(config.prompt_style), model_name, bool(tokenizer.chat_template))
    on_gpu = torch.cuda.is_available()
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    output_dir = Path(config.output_dir)
    args = SFTConfig(
        output_dir=str(output_dir),
        learning_rate=config.learning_rate,
        num_train_epochs=config.num_train_epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.per_device_batch_size,
        gradient_accumulation_steps=max(1, config.global_batch_size // (config.per_device_batch_size * world_size)),
        lr_scheduler_type=config.lr_scheduler_type,
        warmup_steps=config.warmup_ratio,  # below 1: a share of the training steps
        max_length=config.max_length,
        gradient_checkpointing=config.gradient_checkpointing,
        bf16=on_gpu,
        use_cpu=not on_gpu,
        model_init_kwargs={"dtype": torch.bfloat16 if on_gpu else torch.float32},
        completion_only_loss=True,
        logging_steps=config.logging_steps,
        save_steps=config.save_steps,
        save_total_limit=2,
        eval_strategy="steps" if config.eval_file else "no",
        eval_steps=config.eval_steps or config.save_steps,
        seed=config.seed,
        report_to="none",
    )
    trainer = SFTTrainer(
        model=str(model_path),
        args=args,
        train_dataset=_examples(Path(config.train_file), style),
        eval_dataset=_examples(Path(config.eval_file), style) if config.eval_file else None,
        processing_class=tokenizer,
        peft_config=_lora(config),
        callbacks=[ThroughputCallback()],
    )
    checkpoint = get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
    if checkpoint:
        logger.info("resuming from %s", checkpoint)
    trainer.train(resume_from_checkpoint=checkpoint)
    trainer.save_model(str(output_dir))
    tokenizer.save_pretrained(str(output_dir))
    history = trainer.state.log_history
    (output_dir / "log_history.json").write_text(json.dumps(history, indent=2), encoding="utf-8")
    draw_loss_curve(history, output_dir / "loss.png")
    return output_dir


def _model(model: str) -> tuple[Path | str, str]:
    if model == "embedded":
        return embedded_model_dir(ServerSettings().cache_dir), EMBEDDED_MODEL_NAME
    return model, model


def _examples(path: Path, style: PromptStyle) -> Dataset:
    """Instruction records as TRL prompt/completion pairs: text for Alpaca-style models, messages
    for chat models (TRL applies the chat template and masks the prompt either way)."""
    records = read_jsonl(path)
    if style is PromptStyle.CHAT:
        rows = [
            {
                "prompt": [{"role": "user", "content": record["instruction"]}],
                "completion": [{"role": "assistant", "content": record["output"]}],
            }
            for record in records
        ]
    else:
        rows = [{"prompt": render(r["instruction"], style).text, "completion": r["output"]} for r in records]
    return Dataset.from_list(rows)


def _lora(config: TrainConfig) -> LoraConfig | None:
    if config.lora is None:
        return None
    return LoraConfig(
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=config.lora.target_modules,
        task_type="CAUSAL_LM",
    )


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


def draw_loss_curve(history: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    for key, label in (("loss", "training loss"), ("eval_loss", "held-out loss")):
        points = [(entry["step"], entry[key]) for entry in history if key in entry]
        if points:
            axes.plot(*zip(*points, strict=True), marker="o" if key == "eval_loss" else None, label=label)
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> None:
    """``python -m potcot.training.sft CONFIG``: the entry point for ``accelerate launch``."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    train(TrainConfig.from_file(Path(sys.argv[1])))


if __name__ == "__main__":
    main()
