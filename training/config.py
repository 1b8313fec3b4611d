"""A fine-tuning run read from YAML: potcot's own settings beside TRL's ``SFTConfig`` and peft's ``LoraConfig``;
and a reinforcement-learning run (``GrpoRunConfig``), the same with TRL's ``GRPOConfig`` under ``grpo:``.

potcot owns only what it adds to TRL: where the model, the data and the output are, the prompt style
the records are rendered in, and the global batch size a recipe states. How to train is TRL's: the
``sft:`` mapping goes through TRL's own parser (``trl.TrlParser``) into an ``SFTConfig``, so every
``SFTConfig`` and ``TrainingArguments`` option works from YAML, with TRL's defaults, without potcot
naming it. ``lora:`` holds ``peft.LoraConfig`` fields; a run without it fine-tunes every weight::

    model: embedded
    prompt_style: chat
    train_file: data/train.jsonl      # paths are relative to this file
    output_dir: runs/lora
    global_batch_size: 16
    lora: {r: 16, lora_alpha: 32, target_modules: all-linear}
    sft: {learning_rate: 2.0e-4, lr_scheduler_type: cosine, save_total_limit: 2, report_to: none}
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from peft import LoraConfig, TaskType
from transformers import SchedulerType
from trl import GRPOConfig, SFTConfig, TrlParser

from potcot.server.prompts import PromptStyle, Rationale
from potcot.server.solver import DEFAULT_MAX_ROUNDS
from potcot.training.fetch import SOURCES
from potcot.training.scratch import ScratchModel

_PATHS = ("train_file", "eval_file", "output_dir")
_SECTIONS = ("sft", "lora", "scratch")
SCRATCH = "scratch"  # the model: one built from nothing (``training.scratch``)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """One run. ``sft.output_dir`` is ``output_dir``; with ``global_batch_size`` set, ``sft``'s
    per-device batch is the most one device takes, and training derives the accumulation steps."""

    train_file: Path
    output_dir: Path
    sft: SFTConfig
    model: str = "embedded"  # a checkpoint directory, a hub id, the embedded SmolLM2-135M-Instruct, or scratch
    eval_file: Path | None = None
    prompt_style: PromptStyle = PromptStyle.AUTO  # auto resolves as potcot serve does
    global_batch_size: int | None = None  # None: sft's per-device batch and accumulation steps as given
    lora: LoraConfig | None = None  # None: full fine-tuning
    scratch: ScratchModel | None = None  # with model: scratch, its shape; None: ScratchModel's defaults
    # Training stops after this many minutes of steps, at the step it is in, even short of max_steps,
    # and its learning-rate schedule is fitted to end there: a bound that holds on a slower machine
    # too. None: no bound.
    max_train_minutes: float | None = None

    def __post_init__(self) -> None:
        """A global batch that cannot be split fails when the config is read, not after the model loads."""
        if self.max_train_minutes is not None and not self.max_train_minutes > 0:
            raise ValueError(f"max_train_minutes: expected a positive number, got {self.max_train_minutes!r}")
        if self.max_train_minutes is not None and self.sft.lr_scheduler_type == SchedulerType.REDUCE_ON_PLATEAU:
            raise ValueError("max_train_minutes fits a schedule of steps to the time; reduce_lr_on_plateau has none")
        if self.scratch is not None and self.model != SCRATCH:
            raise ValueError(f"scratch: describes a model built from nothing; set model: {SCRATCH}")
        if self.global_batch_size is not None:
            split_global_batch(self.global_batch_size, self.sft.per_device_train_batch_size, self.sft.world_size)

    @classmethod
    def from_file(cls, path: Path) -> TrainConfig:
        """Read a YAML run; relative paths in it are relative to the file, so a config runs from anywhere."""
        return cls.from_dict(_read_yaml(path), base_dir=path.parent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base_dir: Path | None = None) -> TrainConfig:
        """Build a run from a mapping shaped like the YAML file; unknown keys are errors that name them."""
        _check_top_level(data)
        settings = {key: value for key, value in data.items() if key not in _SECTIONS}
        for key in _PATHS:
            if settings.get(key) is not None:
                settings[key] = _path(settings[key], base_dir)
        if "prompt_style" in settings:
            settings["prompt_style"] = _prompt_style(settings["prompt_style"])
        sft_options = _section(data, "sft")
        if settings.get("global_batch_size") is not None and "gradient_accumulation_steps" in sft_options:
            raise ValueError(
                "set global_batch_size or sft.gradient_accumulation_steps, not both: "
                "the accumulation steps are derived from the global batch size"
            )
        lora = parse_lora(_section(data, "lora")) if data.get("lora") is not None else None
        scratch = parse_scratch(_section(data, "scratch")) if data.get("scratch") is not None else None
        return cls(**settings, sft=parse_sft(sft_options, settings["output_dir"]), lora=lora, scratch=scratch)


def split_global_batch(global_batch_size: int, max_per_device: int, world_size: int) -> tuple[int, int]:
    """Per-device batch and accumulation steps that make exactly ``global_batch_size`` on ``world_size`` processes.

    A recipe states its global batch (Alpaca's and MAmmoTH's 128); the per-device batch is what fits in
    memory. The per-device batch taken is the largest at most ``max_per_device`` that divides each
    process's share, so the recipe holds on any number of devices instead of being rounded down.
    """
    if isinstance(global_batch_size, bool) or not isinstance(global_batch_size, int) or global_batch_size < 1:
        raise ValueError(f"global_batch_size: expected a positive integer, got {global_batch_size!r}")
    if global_batch_size % world_size:
        raise ValueError(f"global_batch_size {global_batch_size} does not divide among {world_size} processes")
    share = global_batch_size // world_size
    per_device = next(size for size in range(min(max_per_device, share), 0, -1) if share % size == 0)
    return per_device, share // per_device


FORMAT = "format"  # the format reward's name, beside the rationales' (pot, cot, tir)
GRPO_REWARDS = (*(rationale.value for rationale in Rationale), FORMAT)
# An answer's reward counts 1; the format term only nudges towards well-formed completions.
DEFAULT_REWARD_WEIGHTS = MappingProxyType({**{rationale.value: 1.0 for rationale in Rationale}, FORMAT: 0.1})
_GRPO_SECTIONS = ("grpo", "lora")


@dataclasses.dataclass(frozen=True)
class GrpoRunConfig:
    """A GRPO run (``potcot train grpo``): potcot's settings, TRL's ``GRPOConfig`` under ``grpo:``
    (``grpo.output_dir`` is ``output_dir``), peft's ``LoraConfig`` under ``lora:``.

    Every question of ``train_file`` (benchmark rows: ``id``, ``question``, ``answer``, ``choices``)
    is asked once for each of ``rationales``, in the model's prompt style, as potcot serves it; each
    rationale's completions are scored by its reward, every completion by the format reward, with the
    weights of ``rewards``."""

    train_file: str  # a JSONL file (resolved against the config's folder) or the name of training data
    output_dir: Path
    grpo: GRPOConfig
    model: str = "embedded"  # a checkpoint directory, a hub id, or the embedded SmolLM2-135M-Instruct
    prompt_style: PromptStyle = PromptStyle.AUTO
    rationales: tuple[Rationale, ...] = (Rationale.POT,)
    # A reward's weight by name (pot, cot, tir, format); one left out has its default weight.
    rewards: Mapping[str, float] = dataclasses.field(default_factory=lambda: DEFAULT_REWARD_WEIGHTS)
    max_questions: int | None = None  # the first N distinct questions of train_file; None: all
    program_timeout_s: float | None = None  # None: the sandbox's own limit, as serving uses it
    sandbox_workers: int | None = None  # None: one per core
    max_rounds: int = DEFAULT_MAX_ROUNDS  # a tool-integrated rollout's most code blocks run
    # Training stops after this many minutes of steps, at the step it is in, even short of max_steps.
    max_train_minutes: float | None = None
    lora: LoraConfig | None = None

    def __post_init__(self) -> None:
        if not self.rationales or len(set(self.rationales)) != len(self.rationales):
            raise ValueError(f"rationales: expected distinct rationales of {[r.value for r in Rationale]}")
        for name, weight in self.rewards.items():
            if name not in GRPO_REWARDS:
                raise ValueError(f"rewards.{name}: not a reward{_suggestion(name, list(GRPO_REWARDS))}; "
                                 f"the rewards are {list(GRPO_REWARDS)}")  # fmt: skip
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
                raise ValueError(f"rewards.{name}: expected a weight of 0 or more, got {weight!r}")
        unrewarded = [rationale.value for rationale in self.rationales if not self.weight(rationale.value) > 0]
        if unrewarded:
            raise ValueError(f"rewards: {unrewarded} are trained on but weighted 0")
        if self.model == SCRATCH:
            raise ValueError("model: GRPO starts from a trained checkpoint, not from nothing")
        if Rationale.TIR in self.rationales and self.grpo.use_vllm:
            raise ValueError(
                "rationales: tool-integrated rollouts generate with transformers; set grpo.use_vllm: false"
            )
        if self.max_questions is not None and self.max_questions < 1:
            raise ValueError(f"max_questions: expected a positive number, got {self.max_questions!r}")
        if self.max_rounds < 1:
            raise ValueError(f"max_rounds: expected at least 1, got {self.max_rounds!r}")
        if self.max_train_minutes is not None and not self.max_train_minutes > 0:
            raise ValueError(f"max_train_minutes: expected a positive number, got {self.max_train_minutes!r}")

    def weight(self, name: str) -> float:
        return float(self.rewards.get(name, DEFAULT_REWARD_WEIGHTS[name]))

    @property
    def reward_names(self) -> tuple[str, ...]:
        """The rewards that run, in order: each rationale's, then the format term unless weighted 0."""
        names = tuple(rationale.value for rationale in self.rationales)
        return (*names, FORMAT) if self.weight(FORMAT) > 0 else names

    def with_overrides(self, max_steps: int | None = None, output_dir: Path | None = None) -> GrpoRunConfig:
        """The run with ``--max-steps`` and ``--output-dir`` in place of the config's, for short runs."""
        # A copy with the two fields set: GRPOConfig's own checks refuse to run twice on derived batch sizes.
        grpo = copy.copy(self.grpo)
        if max_steps is not None:
            grpo.max_steps = max_steps
        if output_dir is not None:
            grpo.output_dir = str(output_dir)
        return dataclasses.replace(self, grpo=grpo, output_dir=output_dir or self.output_dir)

    @classmethod
    def from_file(cls, path: Path) -> GrpoRunConfig:
        """Read a YAML run; relative paths in it are relative to the file."""
        return cls.from_dict(_read_yaml(path), base_dir=path.parent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base_dir: Path | None = None) -> GrpoRunConfig:
        """Build a run from a mapping shaped like the YAML file; unknown keys are errors that name them."""
        known = [field.name for field in dataclasses.fields(cls)]
        for key in data:
            if key in known:
                continue
            if key in _init_fields(GRPOConfig):
                raise ValueError(f"{key!r} is a GRPOConfig option: put it under grpo:")
            raise ValueError(f"unknown setting {key!r}{_suggestion(key, known)}; potcot's settings are {known}")
        missing = [key for key in ("train_file", "output_dir") if data.get(key) is None]
        if missing:
            raise ValueError(f"missing settings {missing}")
        settings = {key: value for key, value in data.items() if key not in _GRPO_SECTIONS}
        settings["output_dir"] = _path(settings["output_dir"], base_dir)
        settings["train_file"] = _input(str(settings["train_file"]), base_dir)
        if "model" in settings:
            settings["model"] = _model(str(settings["model"]), base_dir)
        if "prompt_style" in settings:
            settings["prompt_style"] = _prompt_style(settings["prompt_style"])
        if "rationales" in settings:
            settings["rationales"] = _rationales(settings["rationales"])
        if "rewards" in settings:
            settings["rewards"] = MappingProxyType(dict(_section(data, "rewards")))
        lora = parse_lora(_section(data, "lora")) if data.get("lora") is not None else None
        return cls(**settings, grpo=parse_grpo(_section(data, "grpo"), settings["output_dir"]), lora=lora)


def parse_sft(options: Mapping[str, Any], output_dir: Path) -> SFTConfig:
    """``SFTConfig`` through TRL's parser, so YAML values get the types TRL's command line gives them
    (YAML 1.1 reads ``2e-5`` as a string) and every default is TRL's."""
    sft: SFTConfig = _parse_trl("sft", options, output_dir, SFTConfig)
    return sft


def parse_grpo(options: Mapping[str, Any], output_dir: Path) -> GRPOConfig:
    """``GRPOConfig`` as ``parse_sft`` reads ``SFTConfig``; the reward weights are potcot's ``rewards:``."""
    if "reward_weights" in options:
        raise ValueError("grpo.reward_weights: set rewards: at the top level, a weight for each reward by name")
    grpo: GRPOConfig = _parse_trl("grpo", options, output_dir, GRPOConfig)
    return grpo


def _parse_trl(section: str, options: Mapping[str, Any], output_dir: Path, config_class: type) -> Any:
    _reject_unknown(section, options, config_class)
    if "output_dir" in options:
        raise ValueError(f"{section}.output_dir: set output_dir at the top level, beside the data files")
    parser = TrlParser(config_class)
    parser.set_defaults_with_config(**options, output_dir=str(output_dir))
    (config,) = parser.parse_args_into_dataclasses(args=[])
    return config


def parse_lora(options: Mapping[str, Any]) -> LoraConfig:
    """peft's ``LoraConfig`` as written, for a causal language model unless the YAML says otherwise
    (SFTTrainer trains nothing else)."""
    _reject_unknown("lora", options, LoraConfig)
    return LoraConfig(**{"task_type": TaskType.CAUSAL_LM, **options})


def parse_scratch(options: Mapping[str, Any]) -> ScratchModel:
    _reject_unknown("scratch", options, ScratchModel)
    return ScratchModel(**options)


def _check_top_level(data: Mapping[str, Any]) -> None:
    """Name an unknown key, and point a TrainingArguments option written at the top level to ``sft:``."""
    known = [field.name for field in dataclasses.fields(TrainConfig)]
    trl_options = _init_fields(SFTConfig)
    for key in data:
        if key in known:
            continue
        if key in trl_options:
            raise ValueError(f"{key!r} is an SFTConfig option: put it under sft:")
        raise ValueError(f"unknown setting {key!r}{_suggestion(key, known)}; potcot's settings are {known}")
    missing = [key for key in ("train_file", "output_dir") if data.get(key) is None]
    if missing:
        raise ValueError(f"missing settings {missing}")


def _reject_unknown(section: str, options: Mapping[str, Any], dataclass_type: type) -> None:
    known = _init_fields(dataclass_type)
    for key in options:
        if key not in known:
            name = dataclass_type.__name__
            raise ValueError(f"{section}.{key}: not an option of {name}{_suggestion(key, known)}")


def _init_fields(dataclass_type: type) -> list[str]:
    return [field.name for field in dataclasses.fields(dataclass_type) if field.init]


def _suggestion(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _section(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    section = data.get(name) or {}
    if not isinstance(section, Mapping):
        raise ValueError(f"{name}: expected a mapping of options, got {section!r}")
    return section


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of settings")
    return data


def _input(value: str, base_dir: Path | None) -> str:
    """A training input: the name of training data stays a name, anything else is a path."""
    return value if value in SOURCES else str(_path(value, base_dir))


def _model(value: str, base_dir: Path | None) -> str:
    """A checkpoint: a path (one that begins with ``.``, ``/`` or ``~``, or that exists beside the
    config) relative to the config's folder; otherwise a hub id, or ``embedded``, as written."""
    if value.startswith("~"):
        return str(Path(value).expanduser())
    if value.startswith((".", "/")) or (base_dir is not None and (base_dir / value).exists()):
        return str(_path(value, base_dir))
    return value


def _rationales(value: object) -> tuple[Rationale, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values:
        raise ValueError(f"rationales: expected a list of {[r.value for r in Rationale]}, got {value!r}")
    try:
        return tuple(Rationale(item) for item in values)
    except ValueError:
        raise ValueError(f"rationales: {value!r} is not a list of {[r.value for r in Rationale]}") from None


def _path(value: str | Path, base_dir: Path | None) -> Path:
    path = Path(value)
    return (base_dir / path).resolve() if base_dir is not None and not path.is_absolute() else path


def _prompt_style(value: str | PromptStyle) -> PromptStyle:
    try:
        return PromptStyle(value)
    except ValueError:
        raise ValueError(f"prompt_style: {value!r} is not one of {[style.value for style in PromptStyle]}") from None
