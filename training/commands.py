"""``potcot data`` and ``potcot train``: curating hybrid instruction data, and fine-tuning on it.
What needs the ``train`` extra (transformers, peft, trl) is imported only when a command runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field
from pydantic_settings import CliApp, CliPositionalArg, CliSubCommand, CliSuppress

from potcot.answers import Grader
from potcot.sandbox import Sandbox
from potcot.server.settings import Command, EngineSettings
from potcot.training.fetch import SOURCES

if TYPE_CHECKING:
    from potcot.training.filter import FilterReport
    from potcot.training.miniature.pipeline import Benchmark
    from potcot.training.records import RationaleRecord

# What a training input may name besides a file, for the flags' help.
_NAMED = "a JSONL file, or the name of training data (gsm8k-train ships with potcot; potcot data fetch gets others)"


def _cache_dir() -> Path:
    """potcot's cache (``POTCOT_CACHE_DIR``), where fetched data and trained miniatures are kept."""
    return EngineSettings(engine="vllm").cache_dir


def _rows(name_or_path: str, command: str) -> list[dict[str, Any]]:
    from potcot.training.inputs import read_input

    try:
        return read_input(name_or_path, _cache_dir())
    except (OSError, ValueError) as error:  # a missing file, no such name, or a file that is not JSONL
        raise SystemExit(f"potcot data {command}: {error}") from None


def _records(names_or_paths: list[str], command: str) -> list[RationaleRecord]:
    from potcot.training.records import records_of

    return [record for value in names_or_paths for record in records_of(_rows(value, command))]


class FetchCommand(BaseModel):
    """Download training data from the Hugging Face hub into potcot's cache, as the rows the pipeline
    reads; without the network, convert a copy downloaded elsewhere (--input)."""

    name: CliPositionalArg[str] = Field(description=f"what to fetch: {', '.join(SOURCES)}")
    input: list[Path] = Field(
        default_factory=list,
        description="convert this file (the source's own schema: JSONL, JSON or Parquet) instead of downloading; "
        "repeat the flag for several",
    )
    timeout_s: float = Field(10.0, gt=0, description="seconds to wait for the hub to answer")

    def cli_cmd(self) -> None:
        from tqdm import tqdm

        from potcot.training.fetch import converted, fetched_path, source_of, source_records, write_rows

        try:
            records = source_records(self.name, self.input, self.timeout_s)
            rows = converted(source_of(self.name), tqdm(records, desc=f"converting {self.name}", unit=" records"))
            report = write_rows(rows, fetched_path(_cache_dir(), self.name))
        except ModuleNotFoundError as error:
            needs = f"potcot data fetch needs the 'train' extra ({error})"
            raise SystemExit(f"{needs}: pip install 'potcot[train]'") from None
        except (OSError, ValueError) as error:  # no hub (a ConnectionError), a missing file, another schema
            raise SystemExit(f"potcot data fetch: {error}") from None
        skipped = f", {report.skipped} skipped (no answer to train on)" if report.skipped else ""
        print(f"{report.written} rows of {self.name} in {report.path}{skipped}; "
              f"use them as {self.name} wherever a training input is asked for")  # fmt: skip


class Gsm8kPotCommand(BaseModel):
    """Turn GSM8K training rationales into programs of thought, from their calculator annotations."""

    input: str = Field(description=f"GSM8K training rows with meta.solution: {_NAMED}")
    output: Path = Field(description="program-of-thought records (JSONL)")

    def cli_cmd(self) -> None:
        from potcot.training.gsm8k_pot import convert
        from potcot.training.records import write_jsonl

        rows = _rows(self.input, "gsm8k-pot")
        written = write_jsonl(self.output, convert(rows))
        print(f"{written} of {len(rows)} rationales became programs ({100 * written / max(len(rows), 1):.1f}%); "
              f"`potcot data filter` keeps those whose answer matches")  # fmt: skip


class FilterCommand(BaseModel):
    """Run every program of thought in the sandbox; keep it only if its answer matches the reference."""

    input: str = Field(description=f"program-of-thought records: {_NAMED}")
    output: Path = Field(description="the records kept")
    workers: int | None = Field(None, ge=1, description="sandbox workers; default: one per core")

    def cli_cmd(self) -> None:
        from potcot.training.filter import filter_programs
        from potcot.training.records import write_jsonl

        records = _records([self.input], "filter")
        with Sandbox(self.workers) as sandbox, Grader() as grader:
            kept, report = filter_programs(records, sandbox, grader)
        write_jsonl(self.output, kept)
        print(f"kept {report.kept} of {report.total}: {_outcomes(report)}")


class TirCommand(BaseModel):
    """Programs of thought as tool-integrated rationales with their real output; wrong answers dropped."""

    input: str = Field(description=f"program-of-thought records, e.g. the output of `potcot data filter`: {_NAMED}")
    output: Path = Field(description="tool-integrated records (JSONL), for `potcot data mix --tir`")
    workers: int | None = Field(None, ge=1, description="sandbox workers; default: one per core")

    def cli_cmd(self) -> None:
        from potcot.training.records import write_jsonl
        from potcot.training.tir import tir_records

        records = _records([self.input], "tir")
        try:
            with Sandbox(self.workers) as sandbox, Grader() as grader:
                written, report = tir_records(records, sandbox, grader)
        except ValueError as error:
            raise SystemExit(f"potcot data tir: {error}") from None
        write_jsonl(self.output, written)
        print(f"{report.kept} of {report.total} programs became tool-integrated rationales: {_outcomes(report)}")


def _outcomes(report: FilterReport) -> str:
    return ", ".join(f"{outcome} {count}" for outcome, count in sorted(report.counts.items()))


class MixCommand(BaseModel):
    """Build a hybrid instruction set (instruction, output, source) with train and held-out splits."""

    pot: list[str] = Field(default_factory=list, description=f"program-of-thought records (repeat the flag): {_NAMED}")
    cot: list[str] = Field(
        default_factory=list,
        description=f"chain-of-thought records, or training rows with meta.solution (repeat the flag): {_NAMED}",
    )
    tir: list[str] = Field(
        default_factory=list, description=f"tool-integrated records, from `potcot data tir` (repeat the flag): {_NAMED}"
    )
    output: Path = Field(description="a folder for train.jsonl and eval.jsonl")
    style: str = Field("alpaca", pattern="^(alpaca|chat)$", description="alpaca (MathInstruct) or chat")
    cot_share: float | None = Field(None, ge=0, le=1, description="share of chains of thought; default: keep all")
    eval_fraction: float = Field(0.05, ge=0, lt=1, description="questions held out for evaluation")
    seed: int = Field(0, description="for sampling and the split")

    def cli_cmd(self) -> None:
        from potcot.server.prompts import PromptStyle
        from potcot.training.mix import MixConfig, mix
        from potcot.training.records import write_jsonl

        records = _records([*self.pot, *self.cot, *self.tir], "mix")
        config = MixConfig(PromptStyle(self.style), self.cot_share, self.eval_fraction, self.seed)
        train, held_out, stats = mix(records, config)
        write_jsonl(self.output / "train.jsonl", train)
        write_jsonl(self.output / "eval.jsonl", held_out)
        print(f"{stats.cot} chains of thought, {stats.pot} programs and {stats.tir} tool-integrated rationales, "
              f"{stats.duplicates_dropped} duplicates dropped: "
              f"{stats.train} for training, {stats.held_out} held out, in {self.output}")  # fmt: skip


class MiniatureCommand(BaseModel):
    """Generate the miniature family: templated word problems with three rationales, and its test splits."""

    out: Path = Field(description="a folder for records/, mix/, benchmarks/ and manifest.json")
    seed: int = Field(0, description="the same seed writes the same files")
    train: int = Field(30_000, ge=1, description="training problems (each gives a cot, a pot and a tir record)")
    test: int = Field(300, ge=1, description="problems in each arithmetic test split: test, held_out_templates")
    text_train: int = Field(4_500, ge=0, description="training problems of the text kinds (a cot record each)")
    text_test: int = Field(120, ge=1, description="problems in the text kinds' test split, text_test")
    style: str = Field("alpaca", pattern="^(alpaca|chat)$", description="prompt style of mix/")
    eval_fraction: float = Field(0.02, ge=0, lt=1, description="training questions held out in mix/eval.jsonl")
    workers: int | None = Field(None, ge=1, description="sandbox workers; default: one per core")

    def cli_cmd(self) -> None:
        from potcot.server.prompts import PromptStyle
        from potcot.training.miniature.splits import MiniatureConfig, write_miniature

        style = PromptStyle(self.style)
        config = MiniatureConfig(
            self.seed, self.train, self.test, style, self.eval_fraction, self.text_train, self.text_test
        )
        try:
            with Sandbox(self.workers) as sandbox:
                write_miniature(self.out, config, sandbox)
        except ValueError as error:
            raise SystemExit(f"potcot data miniature: {error}") from None
        splits = ("test", "held_out_templates", "text_test")
        tests = ",".join(f"{self.out}/benchmarks/miniature_{split}.jsonl" for split in splits)
        print(f"train {self.train}, test {self.test}, held_out_templates {self.test} problems, text kinds "
              f"text_train {self.text_train}, text_test {self.text_test} (mixed_test: test then text_test) in "
              f"{self.out}; benchmark with `potcot bench --datasets {tests}`")  # fmt: skip


class DataCommand(Command):
    """Curate training data: fetching it, programs from GSM8K, the execution filter, TIR records, the
    hybrid mix, the miniature family."""

    fetch: CliSubCommand[FetchCommand]
    gsm8k_pot: CliSubCommand[Gsm8kPotCommand]
    filter: CliSubCommand[FilterCommand]
    tir: CliSubCommand[TirCommand]
    mix: CliSubCommand[MixCommand]
    miniature: CliSubCommand[MiniatureCommand]

    def cli_cmd(self) -> None:
        CliApp.run_subcommand(self)


class MergeCommand(BaseModel):
    """Merge a LoRA adapter into its base model, for vLLM and potcot serve --model."""

    adapter: Path = Field(description="the adapter directory (a potcot train output with LoRA)")
    output: Path = Field(description="where the merged checkpoint goes")

    def cli_cmd(self) -> None:
        from potcot.training.merge import merge_adapter

        print(f"merged checkpoint in {merge_adapter(self.adapter, self.output)}")


class MiniatureRunCommand(BaseModel):
    """The paper's claim in miniature: the family's data, a model trained from nothing (cached),
    every strategy benchmarked on the arithmetic and the text kinds' test splits, runs/miniature/summary.json
    with the split that mixes the kinds and which half of the claim the run shows."""

    out: Path = Field(Path("runs/miniature"), description="where the data, benchmarks and summary go")
    train_problems: int = Field(30_000, ge=1, description="training problems (a cot, a pot and a tir record each)")
    text_train_problems: int = Field(4_500, ge=0, description="training problems of the text kinds (a cot record each)")
    checkpoint: Path | None = Field(
        None, description="benchmark this trained model instead of training one (e.g. tests/fixtures/miniature)"
    )
    freeze: Path | None = Field(
        None, description="also write the model, in bfloat16, here (as tests/fixtures/miniature was)"
    )

    def run(self, benchmark: Benchmark | None) -> None:
        """The run, its models benchmarked by ``benchmark`` (the evaluation suite, which the
        ``potcot`` command gives ``potcot train``)."""
        from potcot.training.miniature.pipeline import ALL_SPLITS, MiniatureRun, freeze_checkpoint, run_miniature
        from potcot.training.miniature.splits import MiniatureConfig

        if benchmark is None:
            raise SystemExit("potcot train miniature: no benchmark was given (run it as the potcot command)")
        data = MiniatureConfig(train=self.train_problems, text_train=self.text_train_problems)
        run = MiniatureRun(self.out, _cache_dir(), data, splits=ALL_SPLITS, checkpoint=self.checkpoint)
        try:
            summary = run_miniature(run, benchmark)
        except ValueError as error:
            raise SystemExit(f"potcot train miniature: {error}") from None
        if self.freeze is not None:
            print(f"frozen model in {freeze_checkpoint(Path(summary['checkpoint']), self.freeze)}")
        for split, accuracies in summary["splits"].items():
            print(f"{split}: " + ", ".join(f"{strategy} {accuracy:.3f}" for strategy, accuracy in accuracies.items()))
        for claim in summary.get("claims", {}).values():
            print(claim["says"])
        print(f"trained in {summary['train_minutes']:.1f} min; summary.json, summary.md, accuracy.png in {self.out}")


class GrpoCommand(BaseModel):
    """Reinforcement learning with rewards the sandbox verifies (TRL's GRPOTrainer), from a YAML config
    (see training/configs/miniature_grpo.yaml)."""

    config: Path = Field(description="the run's YAML config")
    max_steps: int | None = Field(None, ge=1, description="train this many steps, in place of the config's")
    output_dir: Path | None = Field(None, description="write the model here, in place of the config's output_dir")

    def cli_cmd(self) -> None:
        from potcot.training.config import GrpoRunConfig
        from potcot.training.grpo import SUMMARY, train_grpo

        try:
            config = GrpoRunConfig.from_file(self.config).with_overrides(self.max_steps, self.output_dir)
            output = train_grpo(config, _cache_dir())
        except (OSError, ValueError, TypeError) as error:
            raise SystemExit(f"potcot train grpo: {error}") from None
        summary = json.loads((output / SUMMARY).read_text(encoding="utf-8"))
        outcomes = "; ".join(
            f"{kind}: " + ", ".join(f"{outcome} {count}" for outcome, count in counts.items())
            for kind, counts in summary["outcomes"].items()
        )
        print(f"trained model in {output} ({summary['steps']} steps, {summary['train_minutes']:.1f} min); {outcomes}")


class TrainCommand(Command):
    """Supervised fine-tuning from a YAML config (see training/configs/); train grpo: reinforcement learning."""

    merge: CliSubCommand[MergeCommand]
    miniature: CliSubCommand[MiniatureRunCommand]
    grpo: CliSubCommand[GrpoCommand]
    config: Path | None = Field(None, description="the run's YAML config")
    # The miniature's benchmark step: the evaluation suite, which the training does not import; the
    # potcot command gives it (potcot/cli.py joins the two), not a flag.
    benchmark: CliSuppress[Callable[..., dict[str, Any]] | None] = Field(None, exclude=True)

    def cli_cmd(self) -> None:
        if self.miniature is not None:
            self.miniature.run(self.benchmark)
            return
        if self.merge is not None or self.grpo is not None:
            CliApp.run_subcommand(self)
            return
        if self.config is None:
            raise SystemExit("potcot train: --config FILE is required")
        from potcot.training.config import TrainConfig
        from potcot.training.sft import train

        try:
            config = TrainConfig.from_file(self.config)
        except (OSError, ValueError, TypeError) as error:
            raise SystemExit(f"potcot train: {error}") from None
        print(f"trained model in {train(config)}")
