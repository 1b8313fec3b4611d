"""The racing hybrid against the sequential one, on the same questions and engine.

    python -m potcot.benchmarks.performance.hybrid_race [--dataset gsm8k] [--questions 12]
        [--max-tokens 192] [--rounds 2] [--copies 4] [--json FILE]

A hybrid solve runs its chain of thought only when the program gives no answer; racing starts it
beside the program and halts it once the program answers. In each round the embedded model solves
the same questions (GSM8K's first, by default) one at a time, greedily, both ways (which goes first
alternates between questions and rounds). A question counts as one where the program answers or
one that falls back by what the sequential solve did. Per kind: p50 and p99 latency of a solve and
generated tokens per solve, each way, and racing / sequential for both, computed within each
round, with their median and spread; and how often the two answered alike. Then, what racing costs
a loaded server: every question ``--copies`` times at once, each way (alternating which goes
first), answers/s racing / sequential. ``--json`` writes every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import time
import uuid
from pathlib import Path

from potcot.benchmarks.datasets import load_dataset
from potcot.sandbox import Sandbox
from potcot.server.engines import start_engine
from potcot.server.settings import EngineSettings
from potcot.server.solver import SolveOptions, Solver, Strategy

MODES = ("sequential", "racing")
KINDS = ("program answers", "falls back")


@dataclasses.dataclass(frozen=True)
class Solve:
    round: int
    question: int
    mode: str
    latency_s: float
    completion_tokens: int
    fell_back: bool
    answer: str | None


async def solve_both_ways(solver: Solver, question: str, index: int, round_: int, max_tokens: int) -> list[Solve]:
    """One question, sequential and racing, one after the other, in an order that alternates."""
    order = MODES if (index + round_) % 2 == 0 else MODES[::-1]
    solves = []
    for mode in order:
        options = SolveOptions(Strategy.HYBRID, max_tokens=max_tokens, race=mode == "racing")
        solution = await solver.solve(question, options, uuid.uuid4().hex)
        fell_back = solution.fallback_reason is not None
        solves.append(
            Solve(round_, index, mode, solution.total_s, solution.completion_tokens, fell_back, solution.answer)
        )
    return solves


@dataclasses.dataclass(frozen=True)
class Load:
    """Every question ``copies`` times at once, one way, as a loaded server would solve them."""

    round: int
    mode: str
    answers_per_s: float
    answers: list[str | None]  # the questions in order, ``copies`` times over


async def solve_at_once(solver: Solver, questions: list[str], max_tokens: int, round_: int, copies: int) -> list[Load]:
    loads = []
    for mode in MODES if round_ % 2 == 0 else MODES[::-1]:
        options = SolveOptions(Strategy.HYBRID, max_tokens=max_tokens, race=mode == "racing")
        started = time.perf_counter()
        solutions = await asyncio.gather(
            *(solver.solve(question, options, uuid.uuid4().hex) for question in questions * copies)
        )
        answers_per_s = len(solutions) / (time.perf_counter() - started)
        loads.append(Load(round_, mode, answers_per_s, [solution.answer for solution in solutions]))
    return loads


@dataclasses.dataclass(frozen=True)
class Measured:
    solves: list[Solve]
    loads: list[Load]


async def measure(questions: list[str], max_tokens: int, rounds: int, copies: int) -> Measured:
    settings = EngineSettings(max_model_len=2048, gpu_memory_utilization=0.3)
    engine = await start_engine(settings)
    try:
        with Sandbox() as sandbox:
            solver = Solver.for_settings(engine, sandbox, settings)
            measured = Measured([], [])
            for round_ in range(rounds):
                for index, question in enumerate(questions):
                    measured.solves.extend(await solve_both_ways(solver, question, index, round_, max_tokens))
                measured.loads.extend(await solve_at_once(solver, questions, max_tokens, round_, copies))
            return measured
    finally:
        await engine.close()


def kind_of(solves: list[Solve], solve: Solve) -> str:
    """The question's kind in this round, by what its sequential solve did."""
    sequential = next(s for s in solves if (s.round, s.question, s.mode) == (solve.round, solve.question, "sequential"))
    return KINDS[sequential.fell_back]


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98] if len(values) > 1 else values[0]


def summary(solves: list[Solve], kind: str, mode: str) -> tuple[float, float, float]:
    """p50 and p99 latency, and mean generated tokens, of one kind solved one way."""
    chosen = [solve for solve in solves if solve.mode == mode and kind_of(solves, solve) == kind]
    latencies = [solve.latency_s for solve in chosen]
    return statistics.median(latencies), p99(latencies), statistics.mean(s.completion_tokens for s in chosen)


def ratios(solves: list[Solve], kind: str) -> list[tuple[float, float]]:
    """Per round, racing / sequential for p50 latency and for tokens per solve."""
    found = []
    for round_ in sorted({solve.round for solve in solves}):
        in_round = [solve for solve in solves if solve.round == round_]
        if not any(kind_of(in_round, solve) == kind for solve in in_round):
            continue
        (seq_p50, _, seq_tokens), (race_p50, _, race_tokens) = (summary(in_round, kind, mode) for mode in MODES)
        found.append((race_p50 / seq_p50, race_tokens / seq_tokens))
    return found


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def report(measured: Measured, questions: str, max_tokens: int) -> None:
    solves = measured.solves
    rounds = len({solve.round for solve in solves})
    print(f"{questions} x {rounds} rounds, embedded model, greedy, at most {max_tokens} tokens/attempt")
    print(f"{'kind':<16} {'way':<11} {'solves':>6} {'p50 s':>7} {'p99 s':>7} {'tokens':>7}")
    for kind in KINDS:
        for mode in MODES:
            count = sum(1 for solve in solves if solve.mode == mode and kind_of(solves, solve) == kind)
            if count:
                p50_s, p99_s, tokens = summary(solves, kind, mode)
                print(f"{kind:<16} {mode:<11} {count:>6} {p50_s:>7.2f} {p99_s:>7.2f} {tokens:>7.1f}")
    for kind in KINDS:
        if found := ratios(solves, kind):
            latency, generated = ([pair[i] for pair in found] for i in (0, 1))
            print(f"racing / sequential, {kind}: p50 latency {spread(latency)}, tokens {spread(generated)}")
    print(agreement(measured))
    for round_ in range(rounds):
        at_once = {load.mode: load.answers_per_s for load in measured.loads if load.round == round_}
        print(f"round {round_}, all at once: answers/s sequential {at_once['sequential']:.3f}, "
              f"racing {at_once['racing']:.3f}")  # fmt: skip
    print(f"racing / sequential, answers/s at once: {spread(load_ratios(measured.loads))}")


def agreement(measured: Measured) -> str:
    """How often each other way answered as the sequential solve alone did: the engine's numerics
    depend on what it batches together (vLLM is not batch-invariant by default), so greedy
    answers move whenever a solve shares the engine, raced or not."""
    alone = {(s.round, s.question): s.answer for s in measured.solves if s.mode == "sequential"}
    questions = len({solve.question for solve in measured.solves})
    raced = sum(alone[(s.round, s.question)] == s.answer for s in measured.solves if s.mode == "racing")
    parts = [f"racing alone {raced} of {len(alone)}"]
    for load in measured.loads:
        same = sum(alone[(load.round, index % questions)] == answer for index, answer in enumerate(load.answers))
        parts.append(f"{load.mode} at once (round {load.round}) {same} of {len(load.answers)}")
    return "same answer as the sequential solve alone: " + "; ".join(parts)


def load_ratios(loads: list[Load]) -> list[float]:
    """Per round, racing / sequential answers/s with every question at once."""
    by_round: dict[int, dict[str, float]] = {}
    for load in loads:
        by_round.setdefault(load.round, {})[load.mode] = load.answers_per_s
    return [modes["racing"] / modes["sequential"] for modes in by_round.values()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="gsm8k", help="a shipped dataset's name, or a JSONL file")
    parser.add_argument("--questions", type=int, default=12)
    parser.add_argument("--max-tokens", type=int, default=192)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--copies", type=int, default=4, help="at once: each question this many times")
    parser.add_argument("--json", type=Path, help="write every solve's figures here")
    args = parser.parse_args()
    questions = [item.question for item in load_dataset(args.dataset).items[: args.questions]]
    measured = asyncio.run(measure(questions, args.max_tokens, args.rounds, args.copies))
    report(measured, f"{len(questions)} {args.dataset} questions", args.max_tokens)
    if args.json:
        args.json.write_text(json.dumps(dataclasses.asdict(measured), indent=1))


if __name__ == "__main__":
    main()
