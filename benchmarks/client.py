"""The batch benchmark client: run datasets of the suite through potcot's solver, grade every answer,
and write per-item results, a summary, a table and a chart.

Questions go to a potcot server (``HttpSolver``: ``concurrency`` requests in flight, retrying what
the server asks to retry) or to the solver in this process (``LocalSolver``: the same engine and
sandbox as ``potcot serve``, no HTTP, every question submitted at once to vLLM's batching).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from pathlib import Path
from typing import Any, Protocol

import httpx
import pydantic
from tqdm import tqdm

from potcot.answers import Grader, Grading
from potcot.benchmarks.datasets import Item, load_dataset
from potcot.benchmarks.results import ItemResult, ResultsFile, RunState, Session, write_json
from potcot.benchmarks.summary import draw_chart, markdown_table, summarize
from potcot.server.schema import SolveParameters, SolveRequest, SolveResponse
from potcot.server.solver import Strategy

logger = logging.getLogger(__name__)

_MAX_ATTEMPTS = 8
_MAX_BACKOFF_S = 30.0


class ServerUnreachable(RuntimeError):
    """The server cannot be reached, or stopped answering for good; the results so far are kept."""


class ItemFailed(RuntimeError):
    """The server refused one question for good (a prompt longer than the context, say)."""


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    datasets: tuple[str, ...]
    out: Path
    # The run's /solve fields, the same for every question, and only those it was given: the
    # solver's defaults (a server's, or this process's settings) decide the rest.
    solve: SolveParameters = dataclasses.field(default_factory=SolveParameters)
    limit: int | None = None
    concurrency: int = 16
    grading: Grading = Grading.STRICT
    data_dir: Path | None = None

    @property
    def strategy(self) -> Strategy:
        return self.solve.strategy

    def record(self) -> dict[str, str]:
        """The configuration as ``run.json`` keeps it, as text: the run's settings, the strategy its
        results are filed under, and the other ``/solve`` fields it asked for, only those: the
        solver's defaults decided the rest."""
        settings = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        asked = {"strategy": self.strategy} | settings.pop("solve").model_dump(mode="json", exclude_unset=True)
        return {key: str(value) for key, value in (settings | asked).items()}


class QuestionSolver(Protocol):
    """What the benchmark asks questions of: a potcot server (``HttpSolver``) or the solver in
    this process (``benchmarks.local.LocalSolver``)."""

    async def solve(self, item: Item, config: BenchConfig) -> SolveResponse:
        """The ``/solve`` response for one question."""


def solve_request(item: Item, config: BenchConfig) -> SolveRequest:
    """The ``/solve`` request for one question, the same in process and through a server: the
    row's question and choices, and the run's fields. A row ``/solve`` would refuse fails its item."""
    row = {"question": item.question} | ({"choices": list(item.choices)} if item.choices else {})
    try:
        return SolveRequest.model_validate(config.solve.model_dump(exclude_unset=True) | row)
    except pydantic.ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ItemFailed(f"no /solve request: {problems}") from None


_UNAUTHORIZED_HINT = "pass the server's key with --api-key or POTCOT_API_KEY"


class HttpSolver:
    """``POST /solve`` on a potcot server, with backoff on 429, 503 and dropped connections."""

    def __init__(self, url: str, client: httpx.AsyncClient) -> None:
        self.url = url.rstrip("/")
        self._client = client

    async def check(self) -> None:
        """Stop before the first question when the server is down, loading, or refuses our key:
        ``/health`` answers without one, so ``/v1/models`` is asked as well."""
        for path in ("/health", "/v1/models"):
            try:
                response = await self._client.get(self.url + path, timeout=10)
            except httpx.HTTPError as error:
                raise ServerUnreachable(f"cannot reach a potcot server at {self.url}: {error}") from None
            if response.status_code == 401:
                raise ServerUnreachable(f"the server at {self.url} refused the API key: {_UNAUTHORIZED_HINT}")
            if response.status_code != 200:
                raise ServerUnreachable(
                    f"the server at {self.url} is not ready: {response.status_code} {response.text}"
                )

    async def solve(self, item: Item, config: BenchConfig) -> SolveResponse:
        body = solve_request(item, config).body()
        problem = "no attempt"
        for attempt in range(_MAX_ATTEMPTS):
            try:
                response = await self._client.post(self.url + "/solve", json=body)
            except httpx.TransportError as error:
                problem = f"connection failed: {error}"
                await asyncio.sleep(_backoff(attempt))
                continue
            if response.status_code in (429, 503):
                problem = f"server busy ({response.status_code})"
                await asyncio.sleep(_retry_after(response) or _backoff(attempt))
                continue
            if response.status_code == 401:
                raise ServerUnreachable(f"the server at {self.url} refused the API key: {_UNAUTHORIZED_HINT}")
            if response.status_code != 200:
                raise ItemFailed(f"{response.status_code}: {_error_message(response)}")
            return _solve_response(response)
        raise ServerUnreachable(f"gave up on {self.url} after {_MAX_ATTEMPTS} attempts: {problem}")


def _solve_response(response: httpx.Response) -> SolveResponse:
    """A 200 answer as the response it must be; ``ItemFailed`` when it is not one."""
    try:
        return SolveResponse.model_validate_json(response.content)
    except pydantic.ValidationError as error:
        raise ItemFailed(f"the server's answer is no /solve response: {error.error_count()} errors") from None


def _backoff(attempt: int) -> float:
    return min(_MAX_BACKOFF_S, 0.5 * 2**attempt) * (0.5 + random.random() / 2)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.replace(".", "", 1).isdigit() else None


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:300]


async def run_benchmark(config: BenchConfig, solver: QuestionSolver, grader: Grader) -> dict[str, Any]:
    """Run every dataset, resuming from whatever ``config.out`` already holds; return the summary."""
    config.out.mkdir(parents=True, exist_ok=True)
    state_path = config.out / "run.json"
    state = RunState.read(state_path)
    graded = state.config.get("grading")
    if graded not in (None, config.grading.value):
        raise ValueError(f"{config.out} holds results graded {graded}; use another --out for {config.grading} grading")
    state.config = config.record()
    try:
        for name in config.datasets:
            dataset = load_dataset(name, config.data_dir)
            state.skipped_rows[dataset.name] = len(dataset.skipped)
            items = dataset.items[: config.limit] if config.limit else dataset.items
            results = ResultsFile(config.out / "results" / f"{dataset.name}-{config.strategy}.jsonl")
            session = await _run_dataset(dataset.name, items, results, config, solver, grader)
            state.sessions.setdefault(f"{dataset.name}/{config.strategy}", []).append(session)
            state.write(state_path)
    finally:
        state.write(state_path)
    return write_summary(config.out, config.grading)


async def _run_dataset(
    name: str,
    items: tuple[Item, ...],
    results: ResultsFile,
    config: BenchConfig,
    solver: QuestionSolver,
    grader: Grader,
) -> Session:
    done = {result.id: result for result in results.read() if result.strategy == config.strategy}
    todo = [item for item in items if item.id not in done]
    correct = sum(done[item.id].correct for item in items if item.id in done)
    progress = tqdm(total=len(items), initial=len(items) - len(todo), desc=f"{name} ({config.strategy})", unit="q")
    slots = asyncio.Semaphore(config.concurrency)
    started, finished, tokens = time.perf_counter(), 0, 0

    async def one(item: Item) -> ItemResult:
        async with slots:
            return await _solve_and_grade(name, item, config, solver, grader)

    tasks = [asyncio.create_task(one(item)) for item in todo]
    try:
        for next_result in asyncio.as_completed(tasks):
            result = await next_result
            results.append(result)
            finished += 1
            correct += result.correct
            tokens += result.prompt_tokens + result.completion_tokens
            progress.update()
            progress.set_postfix(accuracy=f"{correct / progress.n:.3f}")
    finally:
        for task in tasks:
            task.cancel()
        progress.close()
    return Session(items=finished, wall_s=round(time.perf_counter() - started, 3), tokens=tokens)


async def _solve_and_grade(
    name: str, item: Item, config: BenchConfig, solver: QuestionSolver, grader: Grader
) -> ItemResult:
    started = time.perf_counter()
    try:
        response = await solver.solve(item, config)
    except ItemFailed as failure:
        return ItemResult(name, item.id, config.strategy, item.answer, None, None, None, None, False, False,
                          time.perf_counter() - started, 0, 0, error=str(failure), samples=0)  # fmt: skip
    latency = time.perf_counter() - started
    prediction, strict = response.answer, response.strict_answer
    correct = await asyncio.to_thread(grader.match, prediction, item.answer, item.choices)
    correct_strict = (
        correct if strict == prediction else await asyncio.to_thread(grader.match, strict, item.answer, item.choices)
    )
    return ItemResult(
        dataset=name,
        id=item.id,
        strategy=config.strategy,
        gold=item.answer,
        prediction=prediction,
        prediction_strict=strict,
        answered_by=response.answered_by,
        fallback_reason=response.fallback_reason,
        correct=correct,
        correct_strict=correct_strict,
        latency_s=round(latency, 4),
        prompt_tokens=response.usage.prompt_tokens,
        completion_tokens=response.usage.completion_tokens,
        samples=generations(response),
    )


def generations(response: SolveResponse) -> int:
    """The generations a solve drew, its cost in samples: an attempt is one (a vote's every sample
    is an attempt of its own), except a tool-integrated one, which is a generation per round."""
    return sum(len(attempt.rounds or ()) or 1 for attempt in response.attempts)


def write_summary(out: Path, grading: Grading) -> dict[str, Any]:
    """Summary JSON, markdown table and chart from every result file in ``out``."""
    state = RunState.read(out / "run.json")
    results = [result for path in sorted((out / "results").glob("*.jsonl")) for result in ResultsFile(path).read()]
    summary = summarize(results, state.sessions, state.skipped_rows, grading.value)
    write_json(out / "summary.json", summary)
    (out / "summary.md").write_text(markdown_table(summary), encoding="utf-8")
    if summary["rows"]:
        draw_chart(summary, out / "accuracy.png")
    return summary
