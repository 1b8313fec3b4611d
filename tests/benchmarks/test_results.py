import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from potcot.benchmarks.client import generations
from potcot.benchmarks.results import ItemResult, ResultsFile, RunState, Session
from potcot.server.schema import SolveResponse


def result(identifier: str, correct: bool = True) -> ItemResult:
    return ItemResult("gsm8k", identifier, "hybrid", "18", "18", "18", "pot", None, correct, correct, 0.5, 10, 20)


def test_results_round_trip(tmp_path: Path) -> None:
    results = ResultsFile(tmp_path / "results" / "gsm8k-hybrid.jsonl")
    results.append(result("a"))
    results.append(dataclasses.replace(result("b", correct=False), error="400: too long"))
    assert ResultsFile(results.path).read() == [
        result("a"),
        dataclasses.replace(result("b", False), error="400: too long"),
    ]


def test_a_line_cut_short_by_a_crash_is_dropped_and_not_glued_to(tmp_path: Path) -> None:
    path = tmp_path / "gsm8k-hybrid.jsonl"
    results = ResultsFile(path)
    results.append(result("a"))
    with path.open("a") as output:
        output.write('{"dataset": "gsm8k", "id": "b", "stra')
    resumed = ResultsFile(path)
    resumed.append(result("c"))
    assert [item.id for item in resumed.read()] == ["a", "c"]


def test_run_state_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    assert RunState.read(path) == RunState()
    state = RunState({"grading": "strict"}, {"gsm8k/cot": [Session(3, 1.5, 120)]}, {"gsm8k": 1})
    state.write(path)
    assert RunState.read(path) == state
    assert '"items": 3' in path.read_text()


def row(**fields: Any) -> dict[str, Any]:
    """A results line's fields as an older potcot wrote them: no ``samples``."""
    written = dataclasses.asdict(result("a"))
    del written["samples"]
    return written | fields


@pytest.mark.parametrize(
    ("fields", "samples"),
    [
        (row(strategy="cot", answered_by="cot"), 1),
        (row(strategy="pot"), 1),
        (row(strategy="hybrid"), 1),  # the program answered
        (row(strategy="hybrid", answered_by="cot", fallback_reason="runtime_error"), 2),
        (row(strategy="hybrid", answered_by=None, fallback_reason="no_program"), 2),  # the fallback found none either
        (row(strategy="hybrid", prompt_tokens=0, completion_tokens=0, error="400: too long"), 0),
        (row(strategy="vote") | {"samples": 5}, 5),  # a field written is read as written
    ],
)
def test_samples_of_rows_written_before_they_were_recorded(
    tmp_path: Path, fields: dict[str, Any], samples: int
) -> None:
    path = tmp_path / "gsm8k-old.jsonl"
    path.write_text(json.dumps(fields) + "\n")
    (read,) = ResultsFile(path).read()
    assert read.samples == samples
    assert dataclasses.asdict(read) == fields | {"samples": samples}


def attempt(rationale: str, rounds: int = 0) -> dict[str, Any]:
    """An attempt as ``/solve`` returns it; a tool-integrated one with ``rounds`` rounds."""
    turns = [{"text": "", "program": None, "execution": None, "output": None}] * rounds
    fields = {"completion": "", "finish_reason": "stop", "program": None, "execution": None, "answer": None}
    return {"rationale": rationale, **fields, "failure": None} | ({"rounds": turns} if rounds else {})


@pytest.mark.parametrize(
    ("attempts", "samples"),
    [
        ([attempt("cot")], 1),
        ([attempt("pot")], 1),
        ([attempt("pot"), attempt("cot")], 2),  # a hybrid that fell back
        ([attempt("tir", rounds=3)], 3),  # each round is a generation
        ([attempt("tir", rounds=4), attempt("cot")], 5),  # the rounds ran out; the chain of thought answered
        ([attempt("pot"), attempt("cot")] * 3, 6),  # a vote: every sample
        ([], 0),
    ],
)
def test_a_row_counts_every_generation_of_the_solve(attempts: list[dict[str, Any]], samples: int) -> None:
    response = SolveResponse.model_validate(
        {
            "id": "solve-1",
            "model": "scripted",
            "answer": "18",
            "strict_answer": "18",
            "answered_by": "cot",
            "requested_strategy": "hybrid",
            "fallback_reason": None,
            "attempts": attempts,
            "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30},
            "timings": {"total_s": 0.1, "generation_s": 0.1, "execution_s": 0.0},
        }
    )
    assert generations(response) == samples
