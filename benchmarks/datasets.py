"""The evaluation suite: the MAmmoTH datasets by name, or any JSONL file of the same shape.

Rows are ``{"id", "question", "answer", "choices", "source", "meta"}``. A malformed row is reported
(file, line, why) and skipped; the run's summary counts the skipped rows.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path

from potcot.answers import CHOICE_LETTERS, option_letters

logger = logging.getLogger(__name__)

DATASETS = (
    "gsm8k",
    "math",
    "math500",
    "svamp",
    "aqua",
    "numglue",
    "simuleq",
    "mathematics",
    "sat_math",
    "mmlu_math",
    "theoremqa",
)


@dataclasses.dataclass(frozen=True, slots=True)
class Item:
    id: str
    question: str
    answer: str
    choices: tuple[str, ...] | None


@dataclasses.dataclass(frozen=True, slots=True)
class SkippedRow:
    file: Path
    line: int
    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    items: tuple[Item, ...]
    skipped: tuple[SkippedRow, ...]


def default_data_dir() -> Path:
    """``POTCOT_DATA_DIR``, else the ``shared/data/benchmarks`` folder beside this checkout."""
    configured = os.environ.get("POTCOT_DATA_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "benchmarks"


def load_dataset(name_or_path: str, data_dir: Path | None = None) -> Dataset:
    """A dataset by name (``gsm8k``) from ``data_dir``, or any JSONL file by path."""
    path = Path(name_or_path)
    if name_or_path in DATASETS:
        path = (data_dir or default_data_dir()) / f"{name_or_path}.jsonl"
    elif path.suffix != ".jsonl":
        raise ValueError(f"unknown dataset {name_or_path!r}: use one of {', '.join(DATASETS)} or a .jsonl file")
    if not path.is_file():
        raise FileNotFoundError(f"no dataset file at {path} (set --data-dir or POTCOT_DATA_DIR)")
    items: list[Item] = []
    skipped: list[SkippedRow] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as rows:
        for number, line in enumerate(rows, start=1):
            if not line.strip():
                continue
            try:
                item = parse_row(line)
                if item.id in seen:
                    raise ValueError(f"duplicate id {item.id!r}")
            except ValueError as error:
                skipped.append(SkippedRow(path, number, str(error)))
                logger.warning("%s:%d skipped: %s", path, number, error)
                continue
            seen.add(item.id)
            items.append(item)
    return Dataset(path.stem if name_or_path not in DATASETS else name_or_path, tuple(items), tuple(skipped))


def parse_row(line: str) -> Item:
    """One JSONL row as an item; ``ValueError`` says what is wrong with it."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON: {error.msg}") from None
    if not isinstance(row, dict):
        raise ValueError("not a JSON object")
    identifier, question, answer, choices = row.get("id"), row.get("question"), row.get("answer"), row.get("choices")
    if not isinstance(identifier, (str, int)) or isinstance(identifier, bool) or str(identifier) == "":
        raise ValueError("'id' must be a non-empty string")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("'question' must be a non-empty string")
    if isinstance(answer, (int, float)) and not isinstance(answer, bool):
        answer = str(answer)
    if not isinstance(answer, str) or not answer.strip():
        raise ValueError("'answer' must be a non-empty string")
    if choices is not None:
        if not isinstance(choices, list) or not 2 <= len(choices) <= len(CHOICE_LETTERS):
            raise ValueError(f"'choices' must be null or a list of 2 to {len(CHOICE_LETTERS)} strings")
        if not all(isinstance(choice, str) and choice for choice in choices):
            raise ValueError("'choices' must be non-empty strings")
        if len(answer.strip()) != 1 or answer.strip().upper() not in option_letters(len(choices)):
            raise ValueError(f"answer {answer!r} is not the letter of one of the {len(choices)} choices")
        choices = tuple(choices)
    return Item(str(identifier), question, answer.strip(), choices)
