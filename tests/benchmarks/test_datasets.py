import json
from pathlib import Path

import pytest

from potcot.benchmarks.datasets import load_dataset, parse_row
from tests.conftest import DATA_DIR


def test_loads_by_name_and_reports_malformed_rows() -> None:
    dataset = load_dataset("gsm8k", DATA_DIR)
    assert dataset.name == "gsm8k"
    assert [item.id for item in dataset.items] == [f"gsm8k-test-000{i}" for i in range(4)]
    assert dataset.items[0].answer == "18" and dataset.items[0].choices is None
    (skipped,) = dataset.skipped
    assert (skipped.file.name, skipped.line, skipped.reason) == (
        "gsm8k.jsonl",
        5,
        "'question' must be a non-empty string",
    )


def test_multiple_choice_rows_keep_their_choices() -> None:
    item = load_dataset("aqua", DATA_DIR).items[1]
    assert item.answer == "E" and item.choices == ("$61", "$65", "$67.40", "$70", "$78.20")


def test_loads_any_jsonl_file_of_the_same_shape(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps({"id": 7, "question": "1 + 1?", "answer": 2}) + "\n\n")
    dataset = load_dataset(str(path))
    assert dataset.name == "mine"
    assert [(item.id, item.answer) for item in dataset.items] == [("7", "2")]


ROWS = [
    ("not json", "{", "not JSON"),
    ("not an object", "[1, 2]", "not a JSON object"),
    ("no id", '{"question": "q", "answer": "1"}', "'id'"),
    ("empty answer", '{"id": "a", "question": "q", "answer": " "}', "'answer'"),
    ("one choice", '{"id": "a", "question": "q", "answer": "A", "choices": ["x"]}', "'choices'"),
    ("letter out of range", '{"id": "a", "question": "q", "answer": "C", "choices": ["x", "y"]}', "letter"),
    ("two letters", '{"id": "a", "question": "q", "answer": "AB", "choices": ["x", "y"]}', "letter"),
    (
        "more options than letters",
        json.dumps({"id": "a", "question": "q", "answer": "A", "choices": ["x"] * 27}),
        "2 to 26",
    ),
]


@pytest.mark.parametrize(("line", "reason"), [row[1:] for row in ROWS], ids=[row[0] for row in ROWS])
def test_malformed_rows(line: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_row(line)


def test_duplicate_ids_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "twice.jsonl"
    row = json.dumps({"id": "a", "question": "q", "answer": "1"})
    path.write_text(f"{row}\n{row}\n")
    dataset = load_dataset(str(path))
    assert len(dataset.items) == 1 and "duplicate id" in dataset.skipped[0].reason


def test_unknown_dataset_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("gsm9k", DATA_DIR)
    with pytest.raises(FileNotFoundError, match="--data-dir"):
        load_dataset("math", tmp_path)


def test_option_letters_go_past_j() -> None:
    row = {"id": "a", "question": "q", "answer": "z", "choices": [f"option {n}" for n in range(26)]}
    item = parse_row(json.dumps(row))
    assert item.answer == "z" and len(item.choices) == 26
