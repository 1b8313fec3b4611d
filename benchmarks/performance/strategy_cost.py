"""What each solve strategy costs: generated tokens per solve and solves per second, against cot.

    python -m potcot.benchmarks.performance.strategy_cost [--questions 8] [--strategies cot,pot,vote,...] [--k 8]

In one run, on one engine in this process (the embedded model unless ``--model``) and the same GSM8K
questions: a warm-up, then every question solved with each strategy in turn, all the questions of a
strategy at once so that the engine batches them as a server would. Prints, per strategy, the
generations and generated tokens per solve, solves/s and accuracy, and the ratios of tokens and
solves/s against cot, the baseline. ``vote`` is the vote with its early stop, ``vote-fixed`` the
same vote drawing all its ``--k`` samples of each rationale.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time
import uuid
from pathlib import Path

from potcot.answers import Grader
from potcot.benchmarks.datasets import Item, load_dataset
from potcot.server.inprocess import local_solver
from potcot.server.schema import SolveRequest
from potcot.server.settings import SolverSettings
from potcot.server.solver import DEFAULT_SAMPLES, Solver, Strategy

BASELINE = "cot"
FIXED_VOTE = "vote-fixed"
ALL_STRATEGIES = "cot,pot,hybrid,tir,vote," + FIXED_VOTE
_WARM_UP_QUESTIONS = 1  # the first batch pays for what the engine sets up lazily


@dataclasses.dataclass(frozen=True)
class Run:
    """What every solve of the run shares."""

    solver: Solver
    settings: SolverSettings
    grader: Grader
    seed: int
    k: int


@dataclasses.dataclass(frozen=True)
class Solved:
    """What one question cost with one strategy, and its answer."""

    answer: str | None
    completion_tokens: int
    samples: int


@dataclasses.dataclass(frozen=True)
class Measurement:
    """One strategy over all the questions."""

    name: str
    solves: int
    wall_s: float
    completion_tokens: int
    samples: int
    correct: int

    @property
    def tokens_per_solve(self) -> float:
        return self.completion_tokens / self.solves

    @property
    def solves_per_s(self) -> float:
        return self.solves / self.wall_s


async def solve(run: Run, item: Item, name: str) -> Solved:
    """One solve as ``/solve`` would do it, with the run's budget and defaults; ``vote-fixed`` is
    the vote drawing all its ``k`` samples of each rationale."""
    strategy = Strategy.VOTE if name == FIXED_VOTE else Strategy(name)
    choices = list(item.choices) if item.choices else None
    request = SolveRequest(question=item.question, strategy=strategy, choices=choices, seed=run.seed, samples=run.k)
    options = request.solve_options(run.settings)
    if name == FIXED_VOTE:
        options = dataclasses.replace(options, stop_early=False)
    solution = await run.solver.solve(request.question, options, uuid.uuid4().hex)
    generations = sum(len(attempt.rounds) or 1 for attempt in solution.attempts)  # a tool round is one
    return Solved(solution.answer, solution.completion_tokens, generations)


async def solve_and_grade(run: Run, item: Item, name: str) -> tuple[Solved, bool]:
    """A solve graded as ``potcot bench`` grades it, so that the accuracies are the benchmark's."""
    solved = await solve(run, item, name)
    correct = await asyncio.to_thread(run.grader.match, solved.answer, item.answer, item.choices)
    return solved, correct


async def measure(run: Run, items: tuple[Item, ...], name: str) -> Measurement:
    """Every question with one strategy, all submitted at once."""
    started = time.perf_counter()
    graded = await asyncio.gather(*(solve_and_grade(run, item, name) for item in items))
    wall = time.perf_counter() - started
    return Measurement(
        name=name,
        solves=len(items),
        wall_s=wall,
        completion_tokens=sum(solved.completion_tokens for solved, _ in graded),
        samples=sum(solved.samples for solved, _ in graded),
        correct=sum(correct for _, correct in graded),
    )


async def measure_all(
    settings: SolverSettings, items: tuple[Item, ...], names: list[str], args: argparse.Namespace
) -> None:
    """Each strategy in turn on one engine, after a warm-up; a row printed as each finishes, so
    that a run stopped early still shows what it measured. The baseline, cot, runs first."""
    with Grader() as grader:
        async with local_solver(settings) as solver:
            print(f"model: {solver.engine.model_name}")
            run = Run(solver, settings, grader, args.seed, args.k)
            await measure(run, items[:_WARM_UP_QUESTIONS], BASELINE)
            print(f"{'strategy':<11}{'samples/solve':>14}{'gen tok/solve':>14}{'solves/s':>10}{'accuracy':>10}"
                  f"{'tokens x cot':>14}{'solves/s x cot':>16}{'wall s':>8}", flush=True)  # fmt: skip
            baseline = None
            for name in names:
                measured = await measure(run, items, name)
                baseline = baseline or measured
                print(row(measured, baseline), flush=True)


def row(measured: Measurement, baseline: Measurement) -> str:
    """One strategy's line of the table, its cost and speed also as ratios to the baseline's."""
    return (
        f"{measured.name:<11}{measured.samples / measured.solves:>14.2f}{measured.tokens_per_solve:>14.1f}"
        f"{measured.solves_per_s:>10.2f}{100 * measured.correct / measured.solves:>9.1f}%"
        f"{measured.tokens_per_solve / baseline.tokens_per_solve:>14.2f}"
        f"{measured.solves_per_s / baseline.solves_per_s:>16.3f}{measured.wall_s:>8.1f}"
    )


def strategy_names(text: str) -> list[str]:
    """The strategies asked for, the baseline first; a name that is neither a strategy nor
    ``vote-fixed`` is refused before the engine starts."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    known = {strategy.value for strategy in Strategy} | {FIXED_VOTE}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SystemExit(f"unknown strategies {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return [BASELINE] + [name for name in dict.fromkeys(names) if name != BASELINE]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--strategies", default=ALL_STRATEGIES, help=f"comma-separated; default {ALL_STRATEGIES}")
    parser.add_argument("--k", type=int, default=DEFAULT_SAMPLES, help="vote-fixed: samples of each rationale")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--max-model-len", type=int, default=1024)
    parser.add_argument("--model", default=None, help="default: the embedded model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=None, help="default: the shipped suite")
    args = parser.parse_args()
    names = strategy_names(args.strategies)
    items = load_dataset("gsm8k", args.data_dir).items[: args.questions]
    settings = SolverSettings(model=args.model, max_tokens=args.max_tokens, max_model_len=args.max_model_len)
    print(f"{len(items)} GSM8K questions, {args.max_tokens} tokens per generation, each strategy's questions "
          f"all at once; vote-fixed: k={args.k}; strategies: {', '.join(names)}", flush=True)  # fmt: skip
    asyncio.run(measure_all(settings, items, names, args))


if __name__ == "__main__":
    main()
