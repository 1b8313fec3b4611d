"""``potcot bench`` and ``potcot bench compare``: the MAmmoTH evaluation suite through potcot's
solver, graded, and a run beside the paper's figures. The client, with the ``bench`` extra's
dependencies, is imported only when a run starts."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import BaseModel, Field
from pydantic_settings import CliApp, CliPositionalArg, CliSubCommand

from potcot.answers import Grader, Grading
from potcot.sandbox.commands import read_text
from potcot.server.schema import SolveFlags
from potcot.server.settings import ClientSettings, Command, SolverSettings, choice_of

if TYPE_CHECKING:
    from potcot.benchmarks.client import BenchConfig

    GradingChoice = Grading  # a type checker sees the enum, which is what the field holds
else:
    GradingChoice = choice_of(Grading)

# Questions in flight: a server's admission control pushes back past this; in process, the
# engine batches everything it is given.
_HTTP_CONCURRENCY = 16
_LOCAL_CONCURRENCY = 512


class CompareCommand(BaseModel):
    """Put a run's accuracy next to the MAmmoTH paper's published figures, and save the table."""

    run: CliPositionalArg[Path] = Field(description="a benchmark output folder (--out of potcot bench)")
    model: str = Field("MAmmoTH-7B", description="the published model to compare with")
    published: Path | None = Field(
        None, description="a JSON file of published figures; default: the MAmmoTH paper's, shipped with potcot"
    )

    def cli_cmd(self) -> None:
        from potcot.benchmarks.datasets import published_figures
        from potcot.benchmarks.summary import comparison_table

        summary = json.loads(read_text(self.run / "summary.json"))
        published = json.loads(read_text(self.published) if self.published else published_figures())
        try:
            table = comparison_table(summary, published, self.model)
        except ValueError as error:
            raise SystemExit(f"potcot: {error}") from None
        (self.run / "comparison.md").write_text(table, encoding="utf-8")
        print(table)


class BenchCommand(Command, ClientSettings, SolverSettings, SolveFlags):
    """Run datasets of the MAmmoTH suite through potcot's solver and grade the answers: against a
    server (--url), or in this process (the model and engine flags of potcot serve)."""

    compare: CliSubCommand[CompareCommand]
    url: str | None = Field(None, description="a running potcot server; default: solve in this process")
    datasets: str = Field("gsm8k", description="comma-separated names, or paths of JSONL files of the same shape")
    limit: int | None = Field(None, ge=1, description="the first N questions of each dataset")
    concurrency: int | None = Field(
        None, ge=1, description=f"questions in flight; default {_HTTP_CONCURRENCY}, in process {_LOCAL_CONCURRENCY}"
    )
    out: Path | None = Field(None, description="results folder; run again with the same one to resume")
    grading: GradingChoice = Field(Grading.STRICT, description="strict, or mammoth (the paper's scoring)")
    data_dir: Path | None = Field(
        None, description="a folder of the suite's <name>.jsonl files; default: POTCOT_DATA_DIR, else the shipped suite"
    )

    def cli_cmd(self) -> None:
        if self.compare is not None:
            CliApp.run_subcommand(self)
            return
        from potcot.benchmarks.client import ServerUnreachable
        from potcot.benchmarks.datasets import check_dataset
        from potcot.benchmarks.summary import markdown_table
        from potcot.server.engines import EngineUnavailable

        config = self._config()
        try:
            for name in config.datasets:
                check_dataset(name, config.data_dir)
            summary = asyncio.run(self._bench(config))
        except (ServerUnreachable, EngineUnavailable, FileNotFoundError, ValueError) as error:
            raise SystemExit(f"potcot bench: {error}") from None
        print(markdown_table(summary))
        print(f"results, summary.json, summary.md and accuracy.png in {config.out}")

    def _config(self) -> BenchConfig:
        from potcot.benchmarks.client import BenchConfig

        return BenchConfig(
            datasets=tuple(name.strip() for name in self.datasets.split(",") if name.strip()),
            out=self.out or Path("runs") / time.strftime("%Y%m%d-%H%M%S"),
            solve=self.solve_parameters(),
            limit=self.limit,
            concurrency=self.concurrency or (_HTTP_CONCURRENCY if self.url else _LOCAL_CONCURRENCY),
            grading=self.grading,
            data_dir=self.data_dir,
        )

    async def _bench(self, config: BenchConfig) -> dict[str, Any]:
        from potcot.benchmarks.client import HttpSolver, run_benchmark
        from potcot.benchmarks.local import LocalSolver

        with Grader(config.grading) as grader:
            if self.url:
                timeout = httpx.Timeout(900.0, connect=10.0)
                async with httpx.AsyncClient(timeout=timeout, headers=self.auth_headers()) as client:
                    solver = HttpSolver(self.url, client)
                    await solver.check()
                    return await run_benchmark(config, solver, grader)
            async with LocalSolver.start(self) as local:
                return await run_benchmark(config, local, grader)
