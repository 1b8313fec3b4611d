"""Programs of thought that stop where their code block closes, against the same prompts left to
run on, on the same questions and engine.

    python -m potcot.benchmarks.performance.pot_stop [--questions 32] [--max-tokens 384]

A chat model writes prose after its program (what it does, how to run it), which potcot never
reads. In one run, the embedded model answers the same GSM8K questions twice, greedily: with the
program-of-thought prompt as potcot serves it (stopping at the closing fence), and with that stop
removed (the baseline). It prints the generated tokens per solve of each, their ratio, and how often
the two programs' answers agree: stopping must cut tokens, never change the program.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import time

from potcot.answers import extract_program, program_answer
from potcot.benchmarks.datasets import load_dataset
from potcot.sandbox import Sandbox
from potcot.server.engines import Engine, SamplingOptions, start_engine
from potcot.server.prompts import Prompt, PromptStyle, program_of_thought
from potcot.server.settings import EngineSettings


@dataclasses.dataclass(frozen=True)
class Run:
    tokens: list[int]
    answers: list[str | None]
    wall_s: float


async def answer_all(engine: Engine, sandbox: Sandbox, prompts: list[Prompt], max_tokens: int) -> Run:
    """Every prompt at once, greedy; each program run in the sandbox."""
    sampling = SamplingOptions(max_tokens=max_tokens, temperature=0.0)
    started = time.perf_counter()
    generations = await asyncio.gather(
        *(engine.generate(prompt, sampling, f"pot-stop-{index}-{id(prompts)}") for index, prompt in enumerate(prompts))
    )
    wall_s = time.perf_counter() - started
    programs = [extract_program(generation.texts[0]) for generation in generations]
    results = sandbox.run_many([program or "" for program in programs])
    answers = [
        program_answer(result.answer, None) if program and result.ok and result.answer else None
        for program, result in zip(programs, results, strict=True)
    ]
    return Run([generation.completion_tokens for generation in generations], answers, wall_s)


async def measure(questions: list[str], max_tokens: int) -> tuple[Run, Run]:
    engine = await start_engine(EngineSettings(max_model_len=2048, gpu_memory_utilization=0.3))
    try:
        stopped = [program_of_thought(question, PromptStyle.CHAT) for question in questions]
        unstopped = [dataclasses.replace(prompt, stop=()) for prompt in stopped]
        with Sandbox() as sandbox:
            baseline = await answer_all(engine, sandbox, unstopped, max_tokens)
            served = await answer_all(engine, sandbox, stopped, max_tokens)
    finally:
        await engine.close()
    return baseline, served


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=384)
    args = parser.parse_args()
    questions = [item.question for item in load_dataset("gsm8k").items[: args.questions]]
    baseline, served = asyncio.run(measure(questions, args.max_tokens))
    before, after = statistics.mean(baseline.tokens), statistics.mean(served.tokens)
    same = sum(a == b for a, b in zip(baseline.answers, served.answers, strict=True))
    print(
        f"{len(questions)} GSM8K questions, embedded model, chat PoT prompt, greedy, at most {args.max_tokens} tokens"
    )
    print(f"without the stop (baseline): {before:6.1f} generated tokens per solve, {baseline.wall_s:5.1f} s")
    print(f"stopping at the fence:       {after:6.1f} generated tokens per solve, {served.wall_s:5.1f} s")
    print(f"ratio:                       {after / before:6.3f} (tokens, stopped / baseline); "
          f"{baseline.wall_s / served.wall_s:.2f}x faster")  # fmt: skip
    print(f"same program answer:         {same} of {len(questions)}")


if __name__ == "__main__":
    main()
