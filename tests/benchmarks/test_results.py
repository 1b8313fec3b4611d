import dataclasses
from pathlib import Path

from potcot.benchmarks.results import ItemResult, ResultsFile, RunState, Session


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
