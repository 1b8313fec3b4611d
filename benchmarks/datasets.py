"""The evaluation suite: the MAmmoTH datasets by name, shipped with potcot (``benchmarks/data/``), or
any JSONL file of the same shape.

Rows are ``{"id", "question", "answer", "choices", "source", "meta"}``. A malformed row is reported
(file, line, why) and skipped; the run's summary counts the skipped rows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from potcot.answers import CHOICE_LETTERS, option_letters
from potcot.shipped import data_folder, open_text, shipped_file

logger = logging.getLogger(__name__)

_PACKAGE = "potcot.benchmarks"
_PUBLISHED = "mammoth_published.json"

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


def configured_data_dir() -> Path | None:
    """``POTCOT_DATA_DIR``: a folder of the suite's ``<name>.jsonl`` files to read instead of the shipped
    copies (a newer build of the data, or one potcot may not ship)."""
    configured = os.environ.get("POTCOT_DATA_DIR")
    return Path(configured) if configured else None


def load_dataset(name_or_path: str, data_dir: Path | None = None) -> Dataset:
    """A dataset of the suite by name (``gsm8k``): from ``data_dir`` or ``POTCOT_DATA_DIR`` where one is
    set, else the copy shipped with potcot; or any JSONL file (``.jsonl`` or ``.jsonl.gz``) by path."""
    with _located(name_or_path, data_dir) as (path, name):
        return read_dataset(path, name)


def check_dataset(name_or_path: str, data_dir: Path | None = None) -> None:
    """Fail as ``load_dataset`` would on a name or file that is not there, without reading it, so that
    a benchmark says so before it spends minutes starting an engine."""
    with _located(name_or_path, data_dir) as (path, _):
        if not path.is_file():
            raise FileNotFoundError(_missing(path))


@contextlib.contextmanager
def _located(name_or_path: str, data_dir: Path | None) -> Iterator[tuple[Path, str]]:
    """The file a dataset is read from, and the dataset's name."""
    if name_or_path in DATASETS:
        directory = data_dir or configured_data_dir()
        if directory is None:
            with shipped_file(_PACKAGE, name_or_path) as shipped:
                yield shipped, name_or_path
        else:
            yield directory / f"{name_or_path}.jsonl", name_or_path
        return
    path = Path(name_or_path)
    if not path.name.endswith((".jsonl", ".jsonl.gz")):
        raise ValueError(f"unknown dataset {name_or_path!r}: use one of {', '.join(DATASETS)} or a .jsonl file")
    yield path, path.name.removesuffix(".gz").removesuffix(".jsonl")


def _missing(path: Path) -> str:
    return f"no dataset file at {path} (set --data-dir or POTCOT_DATA_DIR)"


def read_dataset(path: Path, name: str) -> Dataset:
    """Every well-formed row of the file; a malformed or repeated one is logged and counted as skipped."""
    if not path.is_file():
        raise FileNotFoundError(_missing(path))
    items: list[Item] = []
    skipped: list[SkippedRow] = []
    seen: set[str] = set()
    with open_text(path) as rows:
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
    return Dataset(name, tuple(items), tuple(skipped))


def published_figures() -> str:
    """The MAmmoTH paper's published accuracies (JSON), the default for ``potcot bench compare``."""
    return (data_folder(_PACKAGE) / _PUBLISHED).read_text(encoding="utf-8")


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
