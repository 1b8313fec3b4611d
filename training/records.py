"""Rationale records: one worked solution of one question, a program (``pot``), a chain of
thought (``cot``) or a tool-integrated rationale (``tir``, text and a program with its real output),
read and written as JSONL."""

from __future__ import annotations

import dataclasses
import gzip
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from potcot.server.prompts import Rationale

_ANNOTATION = re.compile(r"<<[^<>]*>>")
_GSM8K_FINAL = re.compile(r"\n?####\s*(.+?)\s*$")


@dataclasses.dataclass(frozen=True, slots=True)
class RationaleRecord:
    id: str
    question: str
    answer: str
    rationale: Rationale
    output: str
    source: str


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every row of a JSONL file (gzip-compressed where its name ends in ``.gz``), blank lines skipped."""
    data = path.read_bytes()
    text = (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8")
    return [json.loads(line) for line in text.split("\n") if line.strip()]


def read_records(path: Path) -> Iterator[RationaleRecord]:
    """Rationale records, or training rows (with ``meta.solution``) read as chains of thought."""
    return records_of(read_jsonl(path))


def records_of(rows: Iterable[dict[str, Any]]) -> Iterator[RationaleRecord]:
    """The rows that are rationale records, or training rows with a worked solution, as records."""
    for row in rows:
        record = from_row(row)
        if record is not None:
            yield record


def from_row(row: dict[str, object]) -> RationaleRecord | None:
    if "rationale" in row:
        return RationaleRecord(**{**row, "rationale": Rationale(str(row["rationale"]))})  # type: ignore[arg-type]
    return chain_of_thought(row)


def write_jsonl(path: Path, rows: Iterable[object]) -> int:
    """Write dataclasses or dicts as JSON lines; returns how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as output:
        for row in rows:
            record = dataclasses.asdict(row) if dataclasses.is_dataclass(row) and not isinstance(row, type) else row
            output.write(json.dumps(record) + "\n")
            count += 1
    return count


def chain_of_thought(row: dict[str, object]) -> RationaleRecord | None:
    """A training-split row's worked solution as a chain of thought ending the way potcot's CoT
    prompts ask: GSM8K's annotations removed and its ``#### N`` line as "The answer is N."; MATH's
    solution as written (it ends in ``\\boxed{}``)."""
    meta = row.get("meta")
    solution = meta.get("solution") if isinstance(meta, dict) else None
    if not isinstance(solution, str) or not solution.strip():
        return None
    text = _ANNOTATION.sub("", solution).strip()
    final = _GSM8K_FINAL.search(text)
    if final:
        text = f"{text[: final.start()].rstrip()}\nThe answer is {final[1]}."
    return RationaleRecord(
        str(row["id"]), str(row["question"]), str(row["answer"]), Rationale.COT, text, str(row.get("source", ""))
    )
