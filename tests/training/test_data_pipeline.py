"""The execution filter, the hybrid mix and the shipped training configs."""

from pathlib import Path

import pytest

from potcot.answers import Grader
from potcot.sandbox import Sandbox
from potcot.server.prompts import POT_TRIGGER, PromptStyle, Rationale
from potcot.training.config import TrainConfig, split_global_batch
from potcot.training.filter import filter_programs
from potcot.training.mix import MixConfig, mix
from potcot.training.records import RationaleRecord, chain_of_thought, from_row


def pot(identifier: str, program: str, answer: str = "4", question: str | None = None) -> RationaleRecord:
    return RationaleRecord(identifier, question or f"question {identifier}", answer, Rationale.POT, program, "test")


def cot(identifier: str, text: str = "2 + 2 is 4. The answer is 4.", question: str | None = None) -> RationaleRecord:
    return RationaleRecord(identifier, question or f"question {identifier}", "4", Rationale.COT, text, "test")


def test_filter_counts_add_up(sandbox: Sandbox) -> None:
    records = [
        pot("right", "print(2 + 2)"),
        pot("right as float", "print(8 / 2)"),
        pot("right, labelled as the solver reads it", "print('The answer is', 2 + 2)"),
        pot("wrong", "print(5)"),
        pot("silent", "x = 4"),
        pot("broken", "print(1 / 0)"),
        pot("forbidden", "import os"),
    ]
    with Grader(workers=1) as grader:
        kept, report = filter_programs(records, sandbox, grader)
    assert [record.id for record in kept] == ["right", "right as float", "right, labelled as the solver reads it"]
    assert report.counts == {"kept": 3, "wrong_answer": 1, "no_answer": 1, "runtime_error": 1, "forbidden": 1}
    assert report.total == 7


def test_chain_of_thought_from_a_gsm8k_row() -> None:
    row = {"id": "g1", "question": "q", "answer": "72", "source": "gsm8k",
           "meta": {"solution": "She sold 48/2 = <<48/2=24>>24 clips.\n#### 72"}}  # fmt: skip
    record = chain_of_thought(row)
    assert record.output == "She sold 48/2 = 24 clips.\nThe answer is 72."
    assert from_row(row) == record
    assert from_row({"id": "x", "question": "q", "answer": "1", "meta": {}}) is None


def test_mix_alpaca_style_uses_the_serving_trigger() -> None:
    train, held_out, stats = mix([pot("1", "print(4)"), cot("1")], MixConfig(eval_fraction=0))
    assert held_out == [] and (stats.cot, stats.pot, stats.train) == (1, 1, 2)
    assert train[0] == {"instruction": f"question 1 {POT_TRIGGER}", "output": "print(4)", "source": "test/pot"}
    assert train[1]["instruction"] == "question 1" and train[1]["source"] == "test/cot"


def test_mix_chat_style_fences_programs() -> None:
    train, _, _ = mix([pot("1", "print(4)")], MixConfig(style=PromptStyle.CHAT, eval_fraction=0))
    assert train[0]["output"] == "```python\nprint(4)\n```"
    assert "```python code block" in train[0]["instruction"]


def test_mix_drops_duplicates_and_balances() -> None:
    records = [pot(str(i), f"print({i})") for i in range(30)] + [cot(str(i)) for i in range(10)]
    records += [pot("0", "print(0)")]
    train, _, stats = mix(records, MixConfig(cot_share=0.5, eval_fraction=0))
    assert stats.duplicates_dropped == 1
    assert (stats.cot, stats.pot) == (10, 10)
    assert mix(records, MixConfig(cot_share=0.5, eval_fraction=0))[0] == train  # reproducible


def test_held_out_split_is_by_question() -> None:
    records = [record for i in range(400) for record in (pot(str(i), "print(4)"), cot(str(i)))]
    train, held_out, stats = mix(records, MixConfig(eval_fraction=0.25))
    assert 0.15 < stats.held_out / len(records) < 0.35
    questions = {r["instruction"].removesuffix(f" {POT_TRIGGER}") for r in train}
    assert not questions & {r["instruction"].removesuffix(f" {POT_TRIGGER}") for r in held_out}


def test_mix_refuses_bad_settings() -> None:
    with pytest.raises(ValueError, match="alpaca or chat"):
        MixConfig(style=PromptStyle.AUTO)
    with pytest.raises(ValueError, match="cot_share"):
        MixConfig(cot_share=2)


ROOT = Path(__file__).parents[2]
# Supervised runs; the GRPO runs (*_grpo.yaml) are tests/training/test_grpo.py's.
SHIPPED_RUNS = sorted(
    path
    for path in (ROOT / "training" / "configs").glob("*.yaml")
    if "accelerate" not in path.name and not path.stem.endswith("_grpo")
)


@pytest.mark.parametrize("path", SHIPPED_RUNS, ids=lambda path: path.name)
def test_shipped_configs_parse(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every shipped run parses as on a GPU machine (TRL refuses bf16 where there is none), carries
    the defaults potcot used to hard-code, and splits its global batch exactly on one or eight GPUs."""
    monkeypatch.setattr("transformers.training_args.is_torch_bf16_gpu_available", lambda: True)
    config = TrainConfig.from_file(path)
    assert config.train_file.is_relative_to(ROOT / "runs") and config.output_dir.is_relative_to(ROOT / "runs")
    assert (config.sft.save_total_limit, config.sft.report_to) == (2, [])
    assert config.global_batch_size is not None
    for world_size in (1, 8):
        per_device, accumulation = split_global_batch(
            config.global_batch_size, config.sft.per_device_train_batch_size, world_size
        )
        assert per_device * accumulation * world_size == config.global_batch_size
