"""The benchmark client's typed boundary: what a solver returns is a ``SolveResponse``, validated
from JSON over HTTP, and the client grades the solver's lenient and strict answers as they are."""

import json
from pathlib import Path

import httpx
import pytest

from potcot.answers import Grader
from potcot.benchmarks.client import BenchConfig, HttpSolver, ItemFailed, run_benchmark
from potcot.benchmarks.datasets import Item
from potcot.benchmarks.results import ResultsFile, RunState
from potcot.server.schema import SolveParameters, SolveResponse, SolveUsage, Timings
from potcot.server.solver import Strategy
from tests.conftest import DATA_DIR

pytestmark = pytest.mark.anyio


def response(answer: str | None, strict_answer: str | None) -> SolveResponse:
    return SolveResponse(
        id="solve-1",
        model="scripted",
        answer=answer,
        strict_answer=strict_answer,
        answered_by="cot" if answer else None,
        requested_strategy=Strategy.COT,
        fallback_reason=None,
        attempts=[],
        usage=SolveUsage.of(10, 5),
        timings=Timings(total_s=0.1, generation_s=0.1, execution_s=0.0),
    )


class LenientOnly:
    """Answers every question right, but only by the lenient extraction."""

    async def solve(self, item: Item, config: BenchConfig) -> SolveResponse:
        return response(item.answer, None)


async def test_the_client_grades_both_answers_of_the_solver(tmp_path: Path) -> None:
    config = BenchConfig(
        datasets=("gsm8k",), out=tmp_path / "run", solve=SolveParameters(strategy=Strategy.COT), data_dir=DATA_DIR
    )
    with Grader(workers=1) as grader:
        summary = await run_benchmark(config, LenientOnly(), grader)
    (row,) = summary["rows"]
    assert (row["items"], row["accuracy"], row["accuracy_strict"]) == (4, 1.0, 0.0)
    results = ResultsFile(config.out / "results" / "gsm8k-cot.jsonl").read()
    assert {(r.prediction_strict, r.answered_by, r.prompt_tokens) for r in results} == {(None, "cot", 10)}
    state = RunState.read(config.out / "run.json")
    assert state.skipped_rows == {"gsm8k": 1} and [s.items for s in state.sessions["gsm8k/cot"]] == [4]
    assert state.config["strategy"] == "cot" and state.config["grading"] == "strict"


def test_a_run_records_the_solve_fields_it_asked_for_and_no_others() -> None:
    asked = SolveParameters(max_rounds=2, temperature=0.5, race=True)
    recorded = BenchConfig(datasets=("gsm8k",), out=Path("run"), solve=asked).record()
    assert {key: recorded.get(key) for key in SolveParameters.model_fields} == {
        "strategy": "hybrid", "choices": None, "max_tokens": None, "temperature": "0.5", "seed": None,
        "max_rounds": "2", "samples": None, "race": "True",
    }  # fmt: skip
    assert (recorded["datasets"], recorded["out"]) == ("('gsm8k',)", "run")


def http_solver(transport: httpx.MockTransport) -> HttpSolver:
    return HttpSolver("http://potcot", httpx.AsyncClient(transport=transport))


async def test_http_solver_validates_the_response() -> None:
    body = response("B", "B").model_dump_json()
    solver = http_solver(httpx.MockTransport(lambda request: httpx.Response(200, content=body)))
    config = BenchConfig(datasets=("aqua",), out=Path("unused"))
    solved = await solver.solve(Item("1", "q", "B", ("1", "2")), config)
    assert isinstance(solved, SolveResponse) and (solved.answer, solved.strict_answer) == ("B", "B")


async def test_a_response_that_is_no_solve_response_fails_the_item() -> None:
    body = json.dumps({"answer": "B"})
    solver = http_solver(httpx.MockTransport(lambda request: httpx.Response(200, content=body)))
    with pytest.raises(ItemFailed, match="no /solve response"):
        await solver.solve(Item("1", "q", "B", None), BenchConfig(datasets=("gsm8k",), out=Path("unused")))


async def test_http_solver_asks_for_the_configured_vote_samples() -> None:
    sent: list[dict[str, object]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, content=response("7", "7").model_dump_json())

    asked = SolveParameters(strategy=Strategy.VOTE, samples=3, seed=5)
    config = BenchConfig(datasets=("gsm8k",), out=Path("unused"), solve=asked)
    await http_solver(httpx.MockTransport(answer)).solve(Item("1", "q", "7", None), config)
    assert [(body["strategy"], body["samples"], body["seed"]) for body in sent] == [("vote", 3, 5)]
