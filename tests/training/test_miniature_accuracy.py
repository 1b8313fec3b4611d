"""The reasoning regression test: the miniature model, served by vLLM through potcot's solver, keeps
the accuracy it was measured at on its test split. A change to the solver, the prompts, the
sandbox or the answer extraction that costs programs their answers fails here.

The model is the one committed in tests/fixtures/miniature (its README says how it was trained),
not a retrain: the same weights on every machine, so the floors measure the solver rather than a
retrain's luck, and the suite does not spend 20 minutes training. Measured on it
(docs/experiments/2026-12-miniature-runs.md, run 24): pot 0.993, hybrid 0.993, tir 0.963, cot 0.017 on the test
split. The floors sit two to three standard errors of a 300-item split below those: a lost
fiftieth of the programs' answers fails, the few greedy replies that another CPU's bfloat16 sums
round the other way do not. A change to the family or the config that retrains the model refreezes it
(``potcot train miniature --freeze tests/fixtures/miniature``) and remeasures the floors.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from potcot.benchmarks.local import run_solves
from potcot.server.solver import Strategy
from potcot.training.miniature.pipeline import MiniatureRun, run_miniature
from potcot.training.miniature.splits import TEST_SPLIT, MiniatureConfig

# The family's data (about 3 minutes on 2 cores) and four strategies on 300 questions.
pytestmark = [pytest.mark.engine, pytest.mark.timeout(1200)]

MODEL = Path(__file__).parents[1] / "fixtures" / "miniature"

POT_FLOOR = 0.98
TIR_FLOOR = 0.93
# Programs do the arithmetic the model cannot do in text: the paper's argument, at its largest.
PROGRAMS_OVER_TEXT = 0.94
BATCHING_NOISE = 0.02


@pytest.fixture(scope="module")
def accuracy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, float]:
    run = MiniatureRun(
        out=tmp_path_factory.mktemp("miniature"),
        cache_dir=tmp_path_factory.mktemp("cache"),  # unread: the model is given
        data=MiniatureConfig(),
        strategies=(Strategy.COT, Strategy.POT, Strategy.HYBRID, Strategy.TIR),
        splits=(TEST_SPLIT,),
        checkpoint=MODEL,
    )
    summary = run_miniature(run, run_solves)
    assert summary["items"] == {TEST_SPLIT: 300}
    return summary["splits"][TEST_SPLIT]


def test_programs_keep_their_accuracy(accuracy: dict[str, float]) -> None:
    assert accuracy["pot"] >= POT_FLOOR, accuracy


def test_programs_beat_chains_of_thought_by_far(accuracy: dict[str, float]) -> None:
    assert accuracy["pot"] >= accuracy["cot"] + PROGRAMS_OVER_TEXT, accuracy


def test_the_fallback_only_adds(accuracy: dict[str, float]) -> None:
    """Hybrid answers with the program whenever it runs, so it loses nothing to pot but the few
    greedy replies that batching's bfloat16 sums round the other way."""
    assert accuracy["hybrid"] >= accuracy["pot"] - BATCHING_NOISE, accuracy


def test_tool_integrated_reasoning_keeps_its_accuracy(accuracy: dict[str, float]) -> None:
    assert accuracy["tir"] >= TIR_FLOOR, accuracy
