"""``potcot train grpo``: the config, the data path (benchmark rows to prompts served as potcot serves
them, with the columns the rewards read), tool-integrated rollouts through the real sandbox, and one
real run on the committed miniature model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerBase

from potcot.answers import Grader
from potcot.sandbox import Sandbox
from potcot.server import prompts
from potcot.server.prompts import PromptStyle, Rationale
from potcot.training.commands import GrpoCommand
from potcot.training.config import DEFAULT_REWARD_WEIGHTS, GrpoRunConfig
from potcot.training.grpo import (
    Question,
    draw_reward_curves,
    grpo_arguments,
    grpo_examples,
    questions_of,
    reward_functions,
)
from potcot.training.records import read_jsonl
from potcot.training.rewards import RewardLedger, ToolIntegratedReward, final_round, format_reward
from potcot.training.rollouts import ToolIntegratedRollout, asks_for_tools
from tests.conftest import DATA_DIR

ROOT = Path(__file__).parents[2]
MINIATURE = ROOT / "tests" / "fixtures" / "miniature"
QUESTIONS = DATA_DIR / "miniature_questions.jsonl"
CPU = {"use_cpu": True, "bf16": False, "report_to": "none"}


def run_config(**settings: Any) -> GrpoRunConfig:
    grpo = settings.pop("grpo", {})
    return GrpoRunConfig.from_dict({"train_file": str(QUESTIONS), "output_dir": "/tmp/o", **settings,
                                    "grpo": {**CPU, **grpo}})  # fmt: skip


# The data path.


def test_rows_become_distinct_questions_with_their_references() -> None:
    rows = [
        {"id": "a", "question": "Q1?", "answer": "3"},
        {"id": "b", "question": "Q1?", "answer": "3"},  # asked again: once is enough
        {"id": "c", "question": "Q2?", "answer": 7},  # a number, as a JSON row may give it
        {"id": "d", "question": "Q3?"},  # nothing to reward against
        {"id": "e", "question": "Q4?", "answer": "B", "choices": ["1", "2"]},
    ]
    assert questions_of(rows) == [
        Question("a", "Q1?", "3"),
        Question("c", "Q2?", "7"),
        Question("e", "Q4?", "B", ("1", "2")),
    ]
    assert [question.id for question in questions_of(rows, limit=2)] == ["a", "c"]


def test_rationale_records_read_as_questions_too() -> None:
    record = {"id": "m-1", "question": "Q?", "answer": "5", "rationale": "pot", "output": "print(5)", "source": "m"}
    assert questions_of([record]) == [Question("m-1", "Q?", "5")]


def test_every_question_is_asked_once_per_rationale_as_potcot_serves_it() -> None:
    questions = questions_of(read_jsonl(QUESTIONS), limit=2)
    examples = grpo_examples(questions, [Rationale.POT, Rationale.COT, Rationale.TIR], PromptStyle.ALPACA)
    assert [(example["id"], example["rationale"]) for example in examples] == [
        (questions[0].id, "pot"), (questions[0].id, "cot"), (questions[0].id, "tir"),
        (questions[1].id, "pot"), (questions[1].id, "cot"), (questions[1].id, "tir"),
    ]  # fmt: skip
    pot, cot, tir = examples[:3]
    question = questions[0].question
    assert pot["prompt"] == prompts.program_of_thought(question, PromptStyle.ALPACA).text
    assert cot["prompt"] == prompts.chain_of_thought(question, PromptStyle.ALPACA).text
    assert tir["prompt"] == prompts.tool_integrated(question, PromptStyle.ALPACA).text
    assert [asks_for_tools(example["prompt"]) for example in examples[:3]] == [False, False, True]
    assert pot["answer"] == questions[0].answer and pot["choices"] is None


def test_chat_models_get_messages_and_multiple_choice_keeps_its_options() -> None:
    question = Question("q", "Which is 6 times 7?", "B", ("12", "42"))
    (pot, tir) = grpo_examples([question], [Rationale.POT, Rationale.TIR], PromptStyle.CHAT)
    instruction = prompts.instruction(question.question, Rationale.POT, PromptStyle.CHAT, question.choices)
    assert pot["prompt"] == [{"role": "user", "content": instruction}]
    assert "(A) 12 (B) 42" in pot["prompt"][0]["content"]
    assert asks_for_tools(tir["prompt"])
    dataset = Dataset.from_list([pot, *grpo_examples([Question("r", "Q?", "3")], [Rationale.POT], PromptStyle.CHAT)])
    assert dataset["choices"] == [["12", "42"], None]
    assert dataset["answer"] == ["B", "3"]


# The config.


def test_a_config_file_resolves_its_paths_and_keeps_names(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    config = {"model": "model", "train_file": "rows.jsonl", "output_dir": "out", "rationales": ["pot", "tir"],
              "rewards": {"format": 0.05}, "grpo": {**CPU, "learning_rate": "1e-5", "max_steps": 9}}  # fmt: skip
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    run = GrpoRunConfig.from_file(tmp_path / "run.yaml")
    assert run.model == str(tmp_path / "model")
    assert run.train_file == str(tmp_path / "rows.jsonl")
    assert run.output_dir == tmp_path / "out" and run.grpo.output_dir == str(tmp_path / "out")
    assert run.rationales == (Rationale.POT, Rationale.TIR)
    assert run.reward_names == ("pot", "tir", "format")
    assert [run.weight(name) for name in run.reward_names] == [1.0, 1.0, 0.05]
    assert run.grpo.learning_rate == 1e-5  # YAML reads 1e-5 as text; TRL's parser types it

    short = run.with_overrides(max_steps=2, output_dir=tmp_path / "short")
    assert (short.grpo.max_steps, short.grpo.output_dir, short.output_dir) == (2, str(tmp_path / "short"),
                                                                               tmp_path / "short")  # fmt: skip
    assert run.grpo.max_steps == 9  # the config read is left as it was

    assert run_config(train_file="gsm8k-train").train_file == "gsm8k-train"
    assert run_config(model="HuggingFaceTB/SmolLM2-135M-Instruct").model == "HuggingFaceTB/SmolLM2-135M-Instruct"


@pytest.mark.parametrize("path", sorted((ROOT / "training" / "configs").glob("*_grpo.yaml")), ids=lambda p: p.name)
def test_shipped_grpo_configs_parse_and_stay_short_on_a_cpu(path: Path) -> None:
    config = GrpoRunConfig.from_file(path)
    assert Path(config.model).is_relative_to(ROOT / "runs") and config.output_dir.is_relative_to(ROOT / "runs")
    assert Path(config.train_file).is_relative_to(ROOT / "runs")
    assert config.grpo.use_cpu and not config.grpo.bf16 and config.grpo.max_steps <= 50
    assert config.grpo.report_to == []


def test_the_defaults_train_programs_with_a_small_format_term() -> None:
    run = run_config()
    assert run.rationales == (Rationale.POT,)
    assert run.reward_names == ("pot", "format")
    assert DEFAULT_REWARD_WEIGHTS["format"] < DEFAULT_REWARD_WEIGHTS["pot"]
    assert run_config(rewards={"format": 0}).reward_names == ("pot",)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"learning_rate": 1e-5}, "'learning_rate' is a GRPOConfig option: put it under grpo:"),
        ({"rationale": ["pot"]}, "did you mean 'rationales'"),
        ({"rationales": ["program"]}, "rationales: .* is not a list of"),
        ({"rewards": {"pott": 1}}, "rewards.pott: not a reward .*did you mean 'pot'"),
        ({"rewards": {"pot": 0}}, r"\['pot'\] are trained on but weighted 0"),
        ({"rewards": {"cot": -1}}, "rewards.cot: expected a weight of 0 or more"),
        ({"model": "scratch"}, "GRPO starts from a trained checkpoint"),
        ({"grpo": {"reward_weights": [1.0]}}, "set rewards: at the top level"),
        ({"grpo": {"learnign_rate": 1}}, "grpo.learnign_rate: not an option of GRPOConfig"),
        ({"grpo": {"output_dir": "x"}}, "grpo.output_dir: set output_dir at the top level"),
        ({"max_rounds": 0}, "max_rounds: expected at least 1"),
        ({"max_questions": 0}, "max_questions: expected a positive number"),
    ],
)
def test_a_wrong_setting_is_named(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run_config(**settings)


def test_tool_integrated_rollouts_are_refused_on_vllm() -> None:
    with pytest.raises(ValueError, match=r"set grpo\.use_vllm: false"):
        run_config(rationales=["tir"], grpo={"use_vllm": True})


def test_the_rewards_run_in_the_configs_order_with_its_weights(sandbox: Sandbox) -> None:
    run = run_config(rationales=["cot", "pot"], rewards={"format": 0.2})
    with Grader(workers=1) as grader:
        functions, weights = reward_functions(run, sandbox, grader, RewardLedger())
    assert [function.__name__ for function in functions] == ["cot", "pot", "format"]
    assert weights == [1.0, 1.0, 0.2]
    assert functions[-1] is format_reward
    args = grpo_arguments(run, weights)
    assert args.reward_weights == [1.0, 1.0, 0.2] and run.grpo.reward_weights is None


def test_a_missing_config_or_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"potcot train grpo: .*none\.yaml"):
        GrpoCommand(config=tmp_path / "none.yaml").cli_cmd()
    config = {"model": "./no-model", "train_file": str(QUESTIONS), "output_dir": "out", "grpo": CPU}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    with pytest.raises(SystemExit, match=f"potcot train grpo: model: no checkpoint at {tmp_path / 'no-model'}"):
        GrpoCommand(config=tmp_path / "run.yaml").cli_cmd()


# Tool-integrated rollouts.


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(MINIATURE)


class ScriptedModel:
    """A model that writes each prompt's rounds as scripted, ending a round that has no output
    fence with the end-of-sequence token; records the budgets and stop strings it was given."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, script: dict[int, list[str]]) -> None:
        self.tokenizer, self.script = tokenizer, script
        self.calls: list[tuple[list[int], str | None]] = []
        self.rounds: dict[int, int] = {}

    def __call__(self, contexts: list[list[int]], budgets: list[int], stop: str | None) -> list[list[int]]:
        self.calls.append((budgets, stop))
        generated = []
        for context in contexts:
            prompt = context[0]  # each scripted prompt is one token of its own
            turn = self.rounds.get(prompt, 0)
            self.rounds[prompt] = turn + 1
            text = self.script[prompt][turn]
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            generated.append(ids if stop and stop in text else [*ids, self.tokenizer.eos_token_id])
        return generated


ROUND_ONE = "Let's compute.\n```python\nprint(6 * 7)\n```\n```output"
ROUND_TWO = "The answer is $\\boxed{42}$."


def test_a_tool_integrated_rollout_runs_its_code_in_the_sandbox_and_masks_the_output(
    tokenizer: PreTrainedTokenizerBase, sandbox: Sandbox
) -> None:
    model = ScriptedModel(tokenizer, {10: ["x1 = 6\nprint(x1 * 7)"], 11: [ROUND_ONE, ROUND_TWO]})
    plain, tool = ToolIntegratedRollout(sandbox, 2.0, max_rounds=4).roll_out(
        [[10], [11]], [False, True], model, tokenizer, max_length=200
    )
    assert plain.done and plain.outcomes == [] and set(plain.mask) == {1}
    assert tokenizer.decode(plain.completion_ids, skip_special_tokens=True) == "x1 = 6\nprint(x1 * 7)"

    completion = tokenizer.decode(tool.completion_ids, skip_special_tokens=True)
    assert completion == f"{ROUND_ONE}\n42\n```\n{ROUND_TWO}"
    assert tool.outcomes == ["ok"] and tool.done
    written_by_model = [token for token, by_model in zip(tool.completion_ids, tool.mask, strict=True) if by_model]
    by_sandbox = [token for token, by_model in zip(tool.completion_ids, tool.mask, strict=True) if not by_model]
    assert tokenizer.decode(by_sandbox) == "\n42\n```\n"  # the output and its closing fence, not the opening one
    assert tokenizer.decode(written_by_model, skip_special_tokens=True) == ROUND_ONE + ROUND_TWO
    assert [stop for _, stop in model.calls] == [None, "```output", "```output"]

    with Grader(workers=1) as grader:
        reward = ToolIntegratedReward(grader)(prompts=["p"], completions=[completion], answer=["42"],
                                              rationale=["tir"], tool_outcomes=[tool.outcomes])  # fmt: skip
    assert reward == [1.0]


def test_a_rollout_stops_when_its_rounds_or_its_tokens_run_out(
    tokenizer: PreTrainedTokenizerBase, sandbox: Sandbox
) -> None:
    crash = "```python\nprint(1/0)\n```\n```output"
    rollout = ToolIntegratedRollout(sandbox, 2.0, max_rounds=2)
    model = ScriptedModel(tokenizer, {10: [crash, ROUND_ONE], 11: [ROUND_ONE * 3]})
    (exhausted,) = rollout.roll_out([[10]], [True], model, tokenizer, max_length=200)
    (cut,) = rollout.roll_out([[11]], [True], model, tokenizer, max_length=40)
    text = tokenizer.decode(exhausted.completion_ids, skip_special_tokens=True)
    assert exhausted.outcomes == ["runtime_error", "ok"]
    assert "ZeroDivisionError" in text and final_round(text)[1]  # the rounds ran out
    assert len(cut.completion_ids) == 40 and cut.done  # the budget: no room to run its code
    assert cut.outcomes == []


# One real run.


@pytest.mark.training  # a minute or two of GRPO steps on 2 cores
def test_potcot_train_grpo_trains_the_miniature_through_the_sandbox(tmp_path: Path) -> None:
    config = {
        "model": str(MINIATURE),
        "prompt_style": "alpaca",
        "train_file": str(QUESTIONS),
        "output_dir": "unused",
        "rationales": ["pot", "tir"],
        "sandbox_workers": 2,
        "grpo": {**CPU, "gradient_checkpointing": False, "learning_rate": 1e-4, "max_steps": 50,
                 "per_device_train_batch_size": 4, "num_generations": 2, "max_completion_length": 160,
                 "shuffle_dataset": False, "logging_steps": 1, "save_strategy": "no", "seed": 0},
    }  # fmt: skip
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    output = tmp_path / "grpo"
    command = [sys.executable, "-m", "potcot", "train", "grpo", "--config", str(tmp_path / "run.yaml"),
               "--max-steps", "1", "--output-dir", str(output)]  # fmt: skip
    # One thread: on a 2-core machine shared with other work, a model this small generates over ten
    # times faster than with torch's two threads waiting on each other.
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600, env=environment)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert f"trained model in {output} (1 steps" in completed.stdout

    assert AutoModelForCausalLM.from_pretrained(output).config.num_hidden_layers == 4
    assert (output / "rewards.png").read_bytes().startswith(b"\x89PNG")
    summary = json.loads((output / "grpo_summary.json").read_text(encoding="utf-8"))
    assert summary["steps"] == 1 and summary["rationales"] == ["pot", "tir"]
    # The first question's pot and tir prompts, two completions each: every one judged.
    assert sum(summary["outcomes"]["pot"].values()) == 2
    assert sum(summary["outcomes"]["tir"].values()) == 2
    history = json.loads((output / "log_history.json").read_text(encoding="utf-8"))
    step = next(entry for entry in history if "reward" in entry)
    assert {"accuracy/pot", "accuracy/tir", "rewards/pot/mean", "rewards/format/mean"} <= step.keys()
    assert any(key.startswith("sandbox/pot/") for key in step)


def test_the_reward_plot_draws_a_history(tmp_path: Path) -> None:
    history = [
        {"step": 1, "reward": 0.5, "accuracy/pot": 0.5, "sandbox/pot/right": 0.5, "sandbox/pot/timeout": 0.5},
        {"step": 2, "reward": 0.8, "accuracy/pot": 0.75, "sandbox/pot/right": 0.75},
        {"train_runtime": 3.0},
    ]
    draw_reward_curves(history, tmp_path / "rewards.png")
    assert (tmp_path / "rewards.png").read_bytes().startswith(b"\x89PNG")
