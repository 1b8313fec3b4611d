"""The paper's claim in miniature, end to end (``make miniature``, ``potcot train miniature``): the
family's data, a model trained from nothing on it, every strategy benchmarked on the test splits,
and one summary of it all in ``runs/miniature/summary.json`` and ``summary.md``: every split's
accuracies, and, for a run that benchmarks the text kinds beside the arithmetic, the split that
mixes them and which half of the claim the run shows (``claims``).

The checkpoint is cached under the cache directory by a hash of the training data and the training
config, so a second run only generates and benchmarks. A run given a trained checkpoint benchmarks
that one: the reasoning regression test gives the frozen one committed in tests/fixtures/miniature,
so it measures the solver on the same weights on every machine, not a retrain's luck.

The benchmark step is given (``Benchmark``): the training does not import the benchmarks, so the
``potcot`` command joins the evaluation suite to it (``potcot.benchmarks.local.run_solves``), as do
the tests.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from potcot.sandbox import Sandbox
from potcot.server.prompts import PromptStyle
from potcot.server.schema import SolveParameters
from potcot.server.settings import SolverSettings
from potcot.server.solver import Strategy
from potcot.training.config import TrainConfig
from potcot.training.miniature.claims import claims, mixed_accuracies, summary_markdown
from potcot.training.miniature.splits import (
    HELD_OUT_SPLIT,
    MIXED_SPLIT,
    SOURCE,
    TEST_SPLIT,
    TEXT_TEST_SPLIT,
    MiniatureConfig,
    write_miniature,
)
from potcot.training.sft import train

CONFIG = Path(__file__).parents[1] / "configs" / "miniature.yaml"
STRATEGIES = (Strategy.COT, Strategy.POT, Strategy.HYBRID, Strategy.TIR, Strategy.VOTE)
SPLITS = (TEST_SPLIT, HELD_OUT_SPLIT)  # the arithmetic's: what the claim's first half is judged on
# With the text kinds: the mixed split (test, then text_test) is reckoned from these, and both
# halves of the claim are judged (``potcot train miniature`` benchmarks these).
ALL_SPLITS = (*SPLITS, TEXT_TEST_SPLIT)
_MAX_TOKENS = 320  # the longest rationale of the family is about 200 tokens of this tokenizer
# A vote's most samples of each rationale: a quarter of the solver's default, which made vote alone
# most of the run's half hour.
_VOTE_SAMPLES = 2
_CONCURRENCY = 64
_RECORD = "trained.json"  # beside a trained checkpoint: the minutes its training took


class Benchmark(Protocol):
    """What benchmarks the trained model: every dataset with each of ``solves`` (one strategy
    each), the model of ``settings`` loaded once, results in ``out``; returns the summary, whose
    ``rows`` give each dataset's and strategy's ``accuracy`` and ``items``."""

    def __call__(
        self,
        settings: SolverSettings,
        datasets: Sequence[Path],
        solves: Sequence[SolveParameters],
        out: Path,
        concurrency: int,
    ) -> dict[str, Any]: ...


@dataclasses.dataclass(frozen=True)
class MiniatureRun:
    out: Path
    cache_dir: Path  # where trained checkpoints are kept, under miniature/HASH
    data: MiniatureConfig
    config: Path = CONFIG
    strategies: tuple[Strategy, ...] = STRATEGIES
    splits: tuple[str, ...] = SPLITS
    checkpoint: Path | None = None  # a trained model to benchmark in place of training one


def run_miniature(run: MiniatureRun, benchmark: Benchmark) -> dict[str, Any]:
    """Data, checkpoint (trained, cached or given), benchmarks, summary; returns the summary it writes."""
    if run.checkpoint is not None and not (run.checkpoint / _RECORD).is_file():
        raise ValueError(f"{run.checkpoint} is not a miniature checkpoint: it has no {_RECORD}")
    data_dir = run.out / "data"
    with Sandbox() as sandbox:
        write_miniature(data_dir, run.data, sandbox)
    if run.checkpoint is None:
        checkpoint, train_minutes = cached_checkpoint(run, data_dir)
    else:
        checkpoint, train_minutes = run.checkpoint, _train_minutes(run.checkpoint)
    datasets = {split: data_dir / "benchmarks" / f"{SOURCE}_{split}.jsonl" for split in run.splits}
    settings = SolverSettings(model=str(checkpoint), prompt_style=PromptStyle.ALPACA, max_model_len=None)
    solves = [SolveParameters(strategy=strategy, max_tokens=_MAX_TOKENS, seed=0, samples=_VOTE_SAMPLES)
              for strategy in run.strategies]  # fmt: skip
    bench = benchmark(settings, list(datasets.values()), solves, run.out / "bench", _CONCURRENCY)
    summary = {
        "train_minutes": train_minutes,
        "checkpoint": str(checkpoint),
        "datasets": {split: str(path) for split, path in datasets.items()},
    } | _results(bench, run.splits)
    _write_summary(run.out, summary, checkpoint)
    return summary


def _write_summary(out: Path, summary: dict[str, Any], checkpoint: Path) -> None:
    """summary.json; summary.md, the claim in words above the benchmark's own table; the charts."""
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    words = summary_markdown(summary["splits"], summary["items"], summary.get("claims"))
    table = (out / "bench" / "summary.md").read_text(encoding="utf-8")
    (out / "summary.md").write_text(f"{words}\n## The benchmark\n\n{table}", encoding="utf-8")
    shutil.copyfile(out / "bench" / "accuracy.png", out / "accuracy.png")
    shutil.copyfile(checkpoint / "loss.png", out / "loss.png")


def _results(bench: dict[str, Any], splits: Sequence[str]) -> dict[str, Any]:
    """Every benchmarked split's accuracies and items; with both the arithmetic and the text test
    splits, the mixed split reckoned from them and the claim's two halves judged."""
    accuracies = {split: _accuracies(bench, f"{SOURCE}_{split}") for split in splits}
    items = {split: _items(bench, f"{SOURCE}_{split}") for split in splits}
    if TEST_SPLIT not in splits or TEXT_TEST_SPLIT not in splits:
        return {"splits": accuracies, "items": items}
    accuracies[MIXED_SPLIT] = mixed_accuracies(accuracies, items)
    items[MIXED_SPLIT] = items[TEST_SPLIT] + items[TEXT_TEST_SPLIT]
    return {"splits": accuracies, "items": items, "claims": claims(accuracies)}


def cached_checkpoint(run: MiniatureRun, data_dir: Path) -> tuple[Path, float]:
    """The trained model for this data and config, and the minutes its training took: from the
    cache when it holds it, else trained into it."""
    train_file, eval_file = data_dir / "mix" / "train.jsonl", data_dir / "mix" / "eval.jsonl"
    key = hashlib.sha256(train_file.read_bytes() + b"\0" + run.config.read_bytes()).hexdigest()[:16]
    directory = run.cache_dir / "miniature" / key
    record = directory / _RECORD
    if record.exists():
        return directory, _train_minutes(directory)
    config = TrainConfig.from_file(run.config)
    config = dataclasses.replace(config, train_file=train_file, eval_file=eval_file, output_dir=directory)
    config = dataclasses.replace(config, sft=dataclasses.replace(config.sft, output_dir=str(directory)))
    started = time.monotonic()
    train(config)
    minutes = (time.monotonic() - started) / 60
    record.write_text(json.dumps({"train_minutes": minutes}) + "\n", encoding="utf-8")
    return directory, minutes


def freeze_checkpoint(checkpoint: Path, target: Path) -> Path:
    """A trained model as the files vLLM serves it from, its weights in bfloat16 (what vLLM computes
    in on a CPU, so it answers as before), with its training record and loss curve: half the size
    of the cache's copy and without its optimizer states, small enough to commit, as the reasoning
    regression test's model is (tests/fixtures/miniature)."""
    model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.bfloat16)
    model.save_pretrained(target)
    AutoTokenizer.from_pretrained(checkpoint).save_pretrained(target)
    for name in (_RECORD, "loss.png"):
        shutil.copyfile(checkpoint / name, target / name)
    return target


def _train_minutes(checkpoint: Path) -> float:
    return float(json.loads((checkpoint / _RECORD).read_text(encoding="utf-8"))["train_minutes"])


def _accuracies(bench: dict[str, Any], dataset: str) -> dict[str, float]:
    return {row["strategy"]: row["accuracy"] for row in bench["rows"] if row["dataset"] == dataset}


def _items(bench: dict[str, Any], dataset: str) -> int:
    return max(row["items"] for row in bench["rows"] if row["dataset"] == dataset)
