"""The ``potcot`` command line: one settings model per subcommand, read from flags and
``POTCOT_*`` environment variables by pydantic-settings."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import BaseSettings, CliApp, CliPositionalArg, CliSubCommand, SettingsConfigDict

from potcot.benchmarks.grading import Grading
from potcot.sandbox import Sandbox, SandboxLimits
from potcot.server.settings import ServerSettings
from potcot.server.solver import Strategy

if TYPE_CHECKING:
    from potcot.benchmarks.client import BenchConfig


class SandboxCommand(BaseModel):
    """Run one program in the sandbox and print its ExecutionResult as JSON.

    Exits 0 when the program ran to completion (status ok), 1 otherwise.
    """

    file: CliPositionalArg[str] = Field(description="the program: a file path, or - for standard input")
    timeout: float = Field(5.0, gt=0, le=3600, description="wall-clock limit in seconds")

    def cli_cmd(self) -> None:
        code = sys.stdin.read() if self.file == "-" else _read_text(self.file)
        with Sandbox(max_workers=1, limits=SandboxLimits(timeout_s=self.timeout)) as sandbox:
            result = sandbox.run(code)
        print(json.dumps(result.to_dict(), indent=2))
        raise SystemExit(0 if result.ok else 1)


class ServeCommand(ServerSettings):
    """Serve a math model over HTTP: POST /solve and an OpenAI-compatible API."""

    def cli_cmd(self) -> None:
        from potcot.server.serve import serve

        serve(self)


class SolveCommand(ServerSettings):
    """Solve one question and print the result as JSON: in this process, or through a server (--url)."""

    question: CliPositionalArg[str] = Field(description="the question")
    url: str | None = Field(None, description="a running potcot server; default: solve in this process")
    strategy: Strategy = Field(Strategy.HYBRID, description="hybrid, pot or cot")
    choices: list[str] | None = Field(None, description="the options of a multiple-choice question")
    temperature: float = Field(0.0, ge=0, le=2, description="sampling temperature")
    seed: int | None = Field(None, description="sampling seed")

    def cli_cmd(self) -> None:
        response = _solve_remotely(self.url, self) if self.url else asyncio.run(_solve_here(self))
        print(json.dumps(response, indent=2))


class CompareCommand(BaseModel):
    """Put a run's accuracy next to the MAmmoTH paper's published figures, and save the table."""

    run: CliPositionalArg[Path] = Field(description="a benchmark output folder (--out of potcot bench)")
    model: str = Field("MAmmoTH-7B", description="the published model to compare with")
    published: Path | None = Field(None, description="default: shared/data/published/mammoth.json")

    def cli_cmd(self) -> None:
        from potcot.benchmarks.datasets import default_data_dir
        from potcot.benchmarks.summary import comparison_table

        published_path = self.published or default_data_dir().parent / "published" / "mammoth.json"
        summary = json.loads(_read_text(str(self.run / "summary.json")))
        published = json.loads(_read_text(str(published_path)))
        try:
            table = comparison_table(summary, published, self.model)
        except ValueError as error:
            raise SystemExit(f"potcot: {error}") from None
        (self.run / "comparison.md").write_text(table, encoding="utf-8")
        print(table)


class BenchCommand(ServerSettings):
    """Run datasets of the MAmmoTH suite through potcot's solver and grade the answers: against a
    server (--url), or in this process (the model and engine flags of potcot serve)."""

    compare: CliSubCommand[CompareCommand]
    url: str | None = Field(None, description="a running potcot server; default: solve in this process")
    datasets: str = Field("gsm8k", description="comma-separated names, or paths of JSONL files of the same shape")
    strategy: Strategy = Field(Strategy.HYBRID, description="hybrid, pot or cot")
    limit: int | None = Field(None, ge=1, description="the first N questions of each dataset")
    concurrency: int | None = Field(None, ge=1, description="questions in flight; default 16, in process 512")
    out: Path | None = Field(None, description="results folder; run again with the same one to resume")
    grading: Grading = Field(Grading.STRICT, description="strict, or mammoth (the paper's scoring)")
    data_dir: Path | None = Field(None, description="where the suite's JSONL files are")
    max_tokens: int | None = Field(None, ge=1, description="generation budget per attempt")
    seed: int | None = Field(None, description="sampling seed")

    def cli_cmd(self) -> None:
        if self.compare is not None:
            CliApp.run_subcommand(self)
            return
        from potcot.benchmarks.client import BenchConfig, ServerUnreachable

        config = BenchConfig(
            datasets=tuple(name.strip() for name in self.datasets.split(",") if name.strip()),
            out=self.out or Path("runs") / time.strftime("%Y%m%d-%H%M%S"),
            strategy=self.strategy,
            limit=self.limit,
            concurrency=self.concurrency or (16 if self.url else 512),
            grading=self.grading,
            data_dir=self.data_dir,
            max_tokens=self.max_tokens,
            seed=self.seed,
        )
        try:
            summary = asyncio.run(_bench(self, config))
        except (ServerUnreachable, FileNotFoundError, ValueError) as error:
            raise SystemExit(f"potcot bench: {error}") from None
        from potcot.benchmarks.summary import markdown_table

        print(markdown_table(summary))
        print(f"results, summary.json, summary.md and accuracy.png in {config.out}")


class Gsm8kPotCommand(BaseModel):
    """Turn GSM8K training rationales into programs of thought, from their calculator annotations."""

    input: Path = Field(description="GSM8K training rows with meta.solution (shared/data/train/gsm8k.jsonl)")
    output: Path = Field(description="program-of-thought records (JSONL)")

    def cli_cmd(self) -> None:
        from potcot.training.gsm8k_pot import convert
        from potcot.training.records import write_jsonl

        rows = _read_jsonl(self.input)
        written = write_jsonl(self.output, convert(rows))
        print(f"{written} of {len(rows)} rationales became programs ({100 * written / max(len(rows), 1):.1f}%); "
              f"`potcot data filter` keeps those whose answer matches")  # fmt: skip


class FilterCommand(BaseModel):
    """Run every program of thought in the sandbox; keep it only if its answer matches the reference."""

    input: Path = Field(description="program-of-thought records (JSONL)")
    output: Path = Field(description="the records kept")
    workers: int | None = Field(None, ge=1, description="sandbox workers; default: one per core")

    def cli_cmd(self) -> None:
        from potcot.benchmarks.grading import Grader
        from potcot.training.filter import filter_programs
        from potcot.training.records import read_records, write_jsonl

        records = list(read_records(self.input))
        with Sandbox(self.workers) as sandbox, Grader() as grader:
            kept, report = filter_programs(records, sandbox, grader)
        write_jsonl(self.output, kept)
        print(
            f"kept {report.kept} of {report.total}: " + ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items()))
        )


class MixCommand(BaseModel):
    """Build a hybrid instruction set (instruction, output, source) with train and held-out splits."""

    pot: list[Path] = Field(default_factory=list, description="program-of-thought records (repeat the flag)")
    cot: list[Path] = Field(
        default_factory=list, description="chain-of-thought records, or training rows with meta.solution"
    )
    output: Path = Field(description="a folder for train.jsonl and eval.jsonl")
    style: str = Field("alpaca", pattern="^(alpaca|chat)$", description="alpaca (MathInstruct) or chat")
    cot_share: float | None = Field(None, ge=0, le=1, description="share of chains of thought; default: keep all")
    eval_fraction: float = Field(0.05, ge=0, lt=1, description="questions held out for evaluation")
    seed: int = Field(0, description="for sampling and the split")

    def cli_cmd(self) -> None:
        from potcot.server.prompts import PromptStyle
        from potcot.training.mix import MixConfig, mix
        from potcot.training.records import read_records, write_jsonl

        records = [record for path in [*self.pot, *self.cot] for record in read_records(path)]
        config = MixConfig(PromptStyle(self.style), self.cot_share, self.eval_fraction, self.seed)
        train, held_out, stats = mix(records, config)
        write_jsonl(self.output / "train.jsonl", train)
        write_jsonl(self.output / "eval.jsonl", held_out)
        print(f"{stats.cot} chains of thought and {stats.pot} programs, {stats.duplicates_dropped} duplicates dropped: "
              f"{stats.train} for training, {stats.held_out} held out, in {self.output}")  # fmt: skip


class DataCommand(BaseModel):
    """Curate training data: programs from GSM8K, the execution filter, the hybrid mix."""

    gsm8k_pot: CliSubCommand[Gsm8kPotCommand]
    filter: CliSubCommand[FilterCommand]
    mix: CliSubCommand[MixCommand]

    def cli_cmd(self) -> None:
        CliApp.run_subcommand(self)


class MergeCommand(BaseModel):
    """Merge a LoRA adapter into its base model, for vLLM and potcot serve --model."""

    adapter: Path = Field(description="the adapter directory (a potcot train output with LoRA)")
    output: Path = Field(description="where the merged checkpoint goes")

    def cli_cmd(self) -> None:
        from potcot.training.merge import merge_adapter

        print(f"merged checkpoint in {merge_adapter(self.adapter, self.output)}")


class TrainCommand(BaseModel):
    """Supervised fine-tuning from a YAML config (see training/configs/)."""

    merge: CliSubCommand[MergeCommand]
    config: Path | None = Field(None, description="the run's YAML config")

    def cli_cmd(self) -> None:
        if self.merge is not None:
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


class Potcot(BaseSettings):
    """potcot: math reasoning models served with hybrid program-of-thought / chain-of-thought decoding."""

    model_config = SettingsConfigDict(cli_prog_name="potcot", cli_kebab_case=True, cli_implicit_flags=True)

    sandbox: CliSubCommand[SandboxCommand]
    serve: CliSubCommand[ServeCommand]
    solve: CliSubCommand[SolveCommand]
    bench: CliSubCommand[BenchCommand]
    data: CliSubCommand[DataCommand]
    train: CliSubCommand[TrainCommand]

    def cli_cmd(self) -> None:
        CliApp.run_subcommand(self)


def _solve_remotely(url: str, command: SolveCommand) -> dict[str, object]:
    body = command.model_dump(include={"question", "strategy", "choices", "temperature", "seed"})
    try:
        response = httpx.post(url.rstrip("/") + "/solve", json=body, headers=_auth_headers(command), timeout=600)
    except httpx.HTTPError as error:
        raise SystemExit(f"potcot: cannot reach {url}: {error}") from None
    if response.status_code != 200:
        raise SystemExit(f"potcot: the server answered {response.status_code}: {response.text}")
    return response.json()


async def _solve_here(command: SolveCommand) -> dict[str, object]:
    from potcot.server.inprocess import local_solver
    from potcot.server.protocol import SolveResponse
    from potcot.server.solver import SolveOptions

    options = SolveOptions(
        strategy=command.strategy,
        choices=command.choices,
        max_tokens=command.default_max_tokens,
        temperature=command.temperature,
        seed=command.seed,
    )
    async with local_solver(command) as solver:
        solution = await solver.solve(command.question, options, uuid.uuid4().hex)
        return SolveResponse.of(solution, options.strategy, solver.engine.model_name).model_dump()


async def _bench(settings: BenchCommand, config: BenchConfig) -> dict[str, object]:
    from potcot.benchmarks.client import HttpSolver, run_benchmark
    from potcot.benchmarks.grading import Grader
    from potcot.benchmarks.local import LocalSolver

    with Grader(config.grading) as grader:
        if settings.url:
            timeout = httpx.Timeout(900.0, connect=10.0)
            async with httpx.AsyncClient(timeout=timeout, headers=_auth_headers(settings)) as client:
                solver = HttpSolver(settings.url, client)
                await solver.check()
                return await run_benchmark(config, solver, grader)
        async with LocalSolver.start(settings) as local:
            return await run_benchmark(config, local, grader)


def _auth_headers(settings: ServerSettings) -> dict[str, str]:
    """A client's credentials for a server with keys: the first of --api-key or POTCOT_API_KEY, so
    that one variable configures a server and the commands that talk to it."""
    if not settings.api_key:
        return {}
    return {"Authorization": f"Bearer {settings.api_key[0].get_secret_value()}"}


def _read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in _read_text(str(path)).split("\n") if line.strip()]


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SystemExit(f"potcot: cannot read {path}: {error}") from None


def main(argv: list[str] | None = None) -> None:
    # Standard output is for results (JSON); vLLM logs to standard error like everything else.
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        CliApp.run(Potcot, cli_args=sys.argv[1:] if argv is None else argv)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise SystemExit(f"potcot: invalid arguments: {problems}") from None
