"""A model built from nothing: the tokenizer keeps digits apart, the model has the shape asked for,
and ``potcot train`` with ``model: scratch`` trains it into a checkpoint transformers loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from transformers import AutoModelForCausalLM, AutoTokenizer

from potcot.training.config import TrainConfig
from potcot.training.records import write_jsonl
from potcot.training.scratch import ScratchModel, build_model, build_tokenizer, initial_checkpoint
from potcot.training.sft import train

CPU = {"use_cpu": True, "bf16": False}
TEXTS = [f"{a} * {b} = {a * b}. The answer is {a * b}." for a in range(2, 60, 3) for b in range(3, 40, 7)]


def test_every_digit_is_a_token_of_its_own() -> None:
    tokenizer = build_tokenizer(TEXTS, vocab_size=300)
    pieces = tokenizer.tokenize("347 * 6 = 2082")
    digits = [piece for piece in pieces if piece.strip("Ġ").isdigit()]
    assert [piece.strip("Ġ") for piece in digits] == list("34762082")
    assert tokenizer.decode(tokenizer("347 * 6 = 2082")["input_ids"]) == "347 * 6 = 2082"


def test_special_tokens_and_size() -> None:
    tokenizer = build_tokenizer(TEXTS, vocab_size=300)
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token) == ("<s>", "</s>", "<pad>")
    assert len(tokenizer) <= 300
    assert tokenizer.chat_template is None  # served with Alpaca prompts, as it is trained


def test_the_model_has_the_shape_asked_for() -> None:
    tokenizer = build_tokenizer(TEXTS, vocab_size=300)
    model = build_model(ScratchModel(hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128), tokenizer)
    assert model.config.vocab_size == len(tokenizer)
    assert (model.config.num_hidden_layers, model.config.hidden_size) == (2, 64)
    assert model.config.eos_token_id == tokenizer.eos_token_id


def records(count: int) -> list[dict[str, str]]:
    return [
        {"instruction": f"What is {a} times {b}?", "output": f"{a} * {b} = {a * b}. The answer is {a * b}."}
        for a, b in zip(range(2, 2 + count), range(5, 5 + count), strict=True)
    ]


def test_the_initial_checkpoint_is_made_once(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "train.jsonl", records(40))
    spec = ScratchModel(vocab_size=300, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64)
    first = initial_checkpoint(spec, tmp_path / "train.jsonl", tmp_path / "initial")
    made = (first / "config.json").stat().st_mtime_ns
    assert initial_checkpoint(spec, tmp_path / "train.jsonl", tmp_path / "initial") == first
    assert (first / "config.json").stat().st_mtime_ns == made


def test_potcot_train_builds_and_trains_a_model_from_nothing(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "train.jsonl", records(64))
    config = {
        "model": "scratch",
        "train_file": "train.jsonl",
        "output_dir": "run",
        "scratch": {"vocab_size": 300, "hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 64},
        "sft": {"max_steps": 4, "per_device_train_batch_size": 8, "learning_rate": 1e-3, "report_to": "none",
                "save_strategy": "no", "logging_steps": 2, "use_cpu": True},
    }  # fmt: skip
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    output = train(TrainConfig.from_file(tmp_path / "run.yaml"))
    model = AutoModelForCausalLM.from_pretrained(output)
    tokenizer = AutoTokenizer.from_pretrained(output)
    assert model.config.num_hidden_layers == 1
    assert tokenizer.tokenize("12") == ["1", "2"]
    history = json.loads((output / "log_history.json").read_text(encoding="utf-8"))
    losses = [entry["loss"] for entry in history if "loss" in entry]
    assert losses and losses[-1] < losses[0]


@pytest.mark.parametrize("key", ["hidden", "layers"])
def test_an_unknown_scratch_option_is_named(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match=f"scratch.{key}: not an option of ScratchModel"):
        TrainConfig.from_dict({"model": "scratch", "train_file": "t", "output_dir": "o", "scratch": {key: 1}})


def test_scratch_needs_model_scratch() -> None:
    with pytest.raises(ValueError, match="set model: scratch"):
        TrainConfig.from_dict({"model": "embedded", "train_file": "t", "output_dir": "o", "scratch": {}, "sft": CPU})
