"""The execution filter, the hybrid mix and the training config."""

from pathlib import Path

import pytest

from potcot.benchmarks.grading import Grader
from potcot.sandbox import Sandbox
from potcot.server.prompts import POT_TRIGGER, PromptStyle, Rationale
from potcot.training.config import LoraSettings, TrainConfig
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
        pot("wrong", "print(5)"),
        pot("silent", "x = 4"),
        pot("broken", "print(1 / 0)"),
        pot("forbidden", "import os"),
    ]
    with Grader(workers=1) as grader:
        kept, report = filter_programs(records, sandbox, grader)
    assert [record.id for record in kept] == ["right", "right as float"]
    assert report.counts == {"kept": 2, "wrong_answer": 1, "no_answer": 1, "runtime_error": 1, "forbidden": 1}
    assert report.total == 6


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


def test_train_config_from_file(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("train_file: data/train.jsonl\noutput_dir: out\nlora: {r: 8}\nmax_steps: 5\n")
    config = TrainConfig.from_file(path)
    assert config.train_file == str(tmp_path / "data" / "train.jsonl")
    assert config.lora == LoraSettings(r=8) and config.max_steps == 5
    assert (config.learning_rate, config.num_train_epochs, config.global_batch_size) == (2e-5, 3.0, 128)
    assert (config.lr_scheduler_type, config.warmup_ratio) == ("cosine", 0.03)
    path.write_text("train_file: x\noutput_dir: y\nlearnign_rate: 1\n")
    with pytest.raises(ValueError, match="unknown settings \\['learnign_rate'\\]"):
        TrainConfig.from_file(path)


@pytest.mark.parametrize("config", sorted((Path(__file__).parents[2] / "training" / "configs").glob("*.yaml")))
def test_shipped_configs_parse(config: Path) -> None:
    if not config.name.startswith("accelerate"):
        assert TrainConfig.from_file(config).output_dir
