"""A run's YAML: potcot's own settings, TRL's SFTConfig under ``sft:``, peft's LoraConfig under ``lora:``."""

from pathlib import Path
from typing import Any

import pytest
from peft import TaskType
from transformers.trainer_utils import SchedulerType

from potcot.server.prompts import PromptStyle
from potcot.training.config import TrainConfig, split_global_batch
from potcot.training.sft import training_arguments

CPU = {"bf16": False}  # TRL's default is bf16, which a machine without a GPU refuses


def run(sft: dict[str, Any] | None = None, **settings: Any) -> dict[str, Any]:
    return {"train_file": "data/train.jsonl", "output_dir": "out", **settings, "sft": {**CPU, **(sft or {})}}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # any TrainingArguments option arrives in the SFTConfig without potcot naming it
        (run({"lr_scheduler_type": "cosine"}), {"lr_scheduler_type": SchedulerType.COSINE}),
        (run({"save_total_limit": 5, "report_to": "none"}), {"save_total_limit": 5, "report_to": []}),
        (run({"warmup_steps": 0.03, "logging_steps": 3}), {"warmup_steps": 0.03, "logging_steps": 3}),
        (run({"gradient_checkpointing": False, "seed": 7}), {"gradient_checkpointing": False, "seed": 7}),
        # an SFTConfig option, and a value YAML 1.1 reads as a string typed as TRL's command line types it
        (run({"max_length": 256, "learning_rate": "2e-5"}), {"max_length": 256, "learning_rate": 2e-5}),
        # without sft: options, TRL's defaults
        (run(), {"learning_rate": 2e-5, "num_train_epochs": 3.0, "save_total_limit": None}),
    ],
)
def test_sft_options_reach_the_sftconfig(data: dict[str, Any], expected: dict[str, Any]) -> None:
    sft = TrainConfig.from_dict(data).sft
    assert {key: getattr(sft, key) for key in expected} == expected


def test_potcot_settings_and_lora(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(
        "train_file: data/train.jsonl\neval_file: /abs/eval.jsonl\noutput_dir: out\nprompt_style: chat\n"
        "global_batch_size: 32\nlora: {r: 8, target_modules: all-linear}\nsft: {bf16: false}\n"
    )
    config = TrainConfig.from_file(path)
    assert config.train_file == tmp_path / "data" / "train.jsonl"
    assert config.eval_file == Path("/abs/eval.jsonl")
    assert config.output_dir == tmp_path / "out" and config.sft.output_dir == str(tmp_path / "out")
    assert config.prompt_style is PromptStyle.CHAT and config.global_batch_size == 32
    assert config.lora is not None
    assert (config.lora.r, config.lora.target_modules, config.lora.task_type) == (8, "all-linear", TaskType.CAUSAL_LM)
    assert TrainConfig.from_dict(run()).lora is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (run({"learnign_rate": 1.0}), r"sft\.learnign_rate: not an option of SFTConfig \(did you mean 'learning_rate'"),
        ({**run(), "learning_rate": 1.0}, r"'learning_rate' is an SFTConfig option: put it under sft:"),
        ({**run(), "modle": "x"}, r"unknown setting 'modle' \(did you mean 'model'\?\)"),
        ({**run(), "lora": {"rank": 8}}, r"lora\.rank: not an option of LoraConfig"),
        (run(prompt_style="plain"), r"prompt_style: 'plain' is not one of \['auto', 'alpaca', 'chat'\]"),
        (run({"output_dir": "x"}), r"sft\.output_dir: set output_dir at the top level"),
        (run({"gradient_accumulation_steps": 2}, global_batch_size=8), r"global_batch_size or sft\.gradient_acc"),
        (run(global_batch_size=0), r"global_batch_size: expected a positive integer"),
        (run(max_train_minutes=0), r"max_train_minutes: expected a positive number"),
        (
            run({"lr_scheduler_type": "reduce_lr_on_plateau", "eval_strategy": "steps"}, max_train_minutes=5),
            r"reduce_lr_on_plateau has none",
        ),
        ({"output_dir": "out"}, r"missing settings \['train_file'\]"),
        ({**run(), "sft": ["bf16"]}, r"sft: expected a mapping"),
    ],
)
def test_bad_configs_name_the_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_dict(data)


@pytest.mark.parametrize(
    ("global_batch", "max_per_device", "world_size", "expected"),
    [
        (128, 4, 8, (4, 4)),  # MAmmoTH: 4 per GPU x 8 GPUs x 4 accumulation steps
        (16, 8, 1, (8, 2)),
        (4, 8, 1, (4, 1)),  # a device that could take more takes the whole share
        (24, 16, 1, (12, 2)),  # the largest per-device batch that divides the share, never a rounded global batch
        (7, 4, 1, (1, 7)),
    ],
)
def test_global_batch_split(global_batch: int, max_per_device: int, world_size: int, expected: tuple[int, int]) -> None:
    assert split_global_batch(global_batch, max_per_device, world_size) == expected
    per_device, accumulation = expected
    assert per_device * world_size * accumulation == global_batch


def test_global_batch_must_divide_among_processes() -> None:
    with pytest.raises(ValueError, match="does not divide among 8 processes"):
        split_global_batch(12, 4, 8)


def test_training_arguments_derive_the_batch_split_only() -> None:
    config = TrainConfig.from_dict(run({"per_device_train_batch_size": 8, "save_total_limit": 5}, global_batch_size=16))
    args = training_arguments(config)
    assert (args.per_device_train_batch_size, args.gradient_accumulation_steps) == (8, 2)
    assert args.save_total_limit == 5 and args.output_dir == config.sft.output_dir
    unsplit = TrainConfig.from_dict(run({"per_device_train_batch_size": 2, "gradient_accumulation_steps": 3}))
    assert training_arguments(unsplit) is unsplit.sft
