"""A fine-tuning run as a dataclass, read from a YAML file (``potcot train --config FILE``).

The defaults are Stanford Alpaca's published recipe, which MAmmoTH's training code descends from:
learning rate 2e-5, 3 epochs, global batch 128, cosine schedule, warmup ratio 0.03.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml


@dataclasses.dataclass(frozen=True)
class LoraSettings:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: str | list[str] = "all-linear"


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    train_file: str
    output_dir: str
    model: str = "embedded"  # a checkpoint directory, a hub id, or the embedded SmolLM2-135M-Instruct
    eval_file: str | None = None
    prompt_style: str = "auto"  # alpaca, chat, or auto (as potcot serve resolves it)
    lora: LoraSettings | None = None  # full fine-tuning when absent
    # Stanford Alpaca's recipe (and so MAmmoTH's):
    learning_rate: float = 2e-5
    num_train_epochs: float = 3.0
    global_batch_size: int = 128
    lr_scheduler_type: str = "cosine"
    warmup_ratio: float = 0.03
    # Ours:
    per_device_batch_size: int = 4
    max_length: int = 1024
    max_steps: int = -1  # overrides num_train_epochs when positive
    gradient_checkpointing: bool = True
    logging_steps: int = 10
    save_steps: int = 500
    eval_steps: int | None = None
    seed: int = 42

    @classmethod
    def from_file(cls, path: Path) -> TrainConfig:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of settings")
        return cls.from_dict(data, relative_to=path.parent)

    @classmethod
    def from_dict(cls, data: dict[str, Any], relative_to: Path | None = None) -> TrainConfig:
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown settings {unknown}; known: {sorted(known)}")
        lora = data.get("lora")
        if isinstance(lora, dict):
            data = {**data, "lora": LoraSettings(**lora)}
        elif lora is True:
            data = {**data, "lora": LoraSettings()}
        if relative_to is not None:
            for key in ("train_file", "eval_file", "output_dir"):
                if data.get(key) and not Path(data[key]).is_absolute():
                    data = {**data, key: str((relative_to / data[key]).resolve())}
        return cls(**data)
