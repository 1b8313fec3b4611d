"""What the loss sees of a training example: the response, less the tool's output, with the real
tokenizer and chat template of the embedded model."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from potcot.server.embedded import embedded_model_dir
from potcot.server.prompts import PromptStyle
from potcot.server.settings import EngineSettings
from potcot.training.masking import IGNORED, labelled_examples, tool_output_spans
from potcot.training.records import write_jsonl
from potcot.training.sft import tokenized_examples

TIR = (
    "Let's compute it.\n```python\nprint(6 * 7)\n```\n```output\n42\n```\n"
    "Then twice that.\n```python\nprint(84)\n```\n```output\n84\n```\nThe answer is $\\boxed{84}$."
)

SPANS = [
    ("no tool", "The answer is 4.", []),
    ("one block", "x\n```output\n4\n```\nso 4", ["4\n```\n"]),
    ("two blocks", TIR, ["42\n```\n", "84\n```\n"]),
    ("a block the text ends in", "x\n```output\n4\n", ["4\n"]),
    ("an unclosed block", "x\n```output\n4\n5", ["4\n5"]),
    ("a python block is the model's", "```python\nprint(1)\n```\n", []),
]


@pytest.mark.parametrize(("text", "expected"), [case[1:] for case in SPANS], ids=[case[0] for case in SPANS])
def test_tool_output_spans(text: str, expected: list[str]) -> None:
    assert [text[start:end] for start, end in tool_output_spans(text)] == expected


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(embedded_model_dir(EngineSettings().cache_dir))


def learnt_text(tokenizer: PreTrainedTokenizerBase, example: dict[str, list[int]]) -> str:
    return tokenizer.decode([label for label in example["labels"] if label != IGNORED])


def test_the_loss_sees_the_response_but_not_the_tool_output(tokenizer: PreTrainedTokenizerBase) -> None:
    (example,) = labelled_examples(tokenizer, [("Question: 6 * 7 * 2?\n", TIR)], add_special_tokens=False)
    learnt = learnt_text(tokenizer, example)
    assert "Question" not in learnt
    assert "print(6 * 7)" in learnt and "```output" in learnt and "The answer is $\\boxed{84}$." in learnt
    assert "42" not in learnt  # the sandbox writes it
    assert len(example["input_ids"]) == len(example["labels"])
    assert tokenizer.decode(example["input_ids"]) == "Question: 6 * 7 * 2?\n" + TIR


def test_a_batch_labels_each_example_as_it_would_alone(tokenizer: PreTrainedTokenizerBase) -> None:
    pairs = [("Question: 6 * 7 * 2?\n", TIR), ("Q: 1 + 1?\n", "The answer is 2."), ("", "42")]
    batch = labelled_examples(tokenizer, pairs, add_special_tokens=False)
    alone = [labelled_examples(tokenizer, [pair], add_special_tokens=False)[0] for pair in pairs]
    assert batch == alone
    unpadded = [len(tokenizer(p + c, add_special_tokens=False)["input_ids"]) for p, c in pairs]
    assert [len(example["input_ids"]) for example in batch] == unpadded


@pytest.mark.parametrize("style", [PromptStyle.CHAT, PromptStyle.ALPACA])
def test_training_examples_end_as_the_model_must_end(
    tokenizer: PreTrainedTokenizerBase, style: PromptStyle, tmp_path: Path
) -> None:
    write_jsonl(tmp_path / "train.jsonl", [{"instruction": "What is 6 * 7?", "output": TIR, "source": "test"}])
    (example,) = tokenized_examples(tmp_path / "train.jsonl", style, tokenizer)
    learnt = learnt_text(tokenizer, example)
    end = "<|im_end|>" if style is PromptStyle.CHAT else tokenizer.eos_token
    assert learnt.rstrip().endswith("$\\boxed{84}$." + end)
    assert "What is 6 * 7?" not in learnt and "42\n" not in learnt
