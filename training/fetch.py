"""``potcot data fetch``: training data from the Hugging Face hub, converted to the rows potcot's
pipeline reads and written to potcot's cache (``<cache_dir>/data/<name>.jsonl``).

Each source is one entry of ``SOURCES``: where it lies on the hub and how one of its records becomes
a row. GSM8K and MATH are questions with worked solutions, so they become question rows, as the files
shipped with potcot (``{"id", "question", "answer", "choices", "source", "meta"}``), whose solution
``potcot data mix --cot`` reads as a chain of thought and ``potcot data gsm8k-pot`` turns into a
program. MathInstruct is already a set of rationales, each a chain of thought or a program (its
``source`` says which), so its records become rationale records, as ``potcot data gsm8k-pot`` writes
them (``{"id", "question", "answer", "rationale", "output", "source"}``), which ``potcot data mix``
takes as they are and turns into instructions in the style potcot serves.

Without the hub, the ``datasets`` library retries for half a minute before it gives up, so a fetch
asks the hub first, with a short timeout, and fails at once naming the offline route: ``--input``
converts a copy in the source's own schema (JSONL, JSON or Parquet) downloaded elsewhere.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any

import httpx

from potcot.answers import extract_answer, last_boxed
from potcot.server.prompts import Rationale
from potcot.training.records import read_jsonl

DEFAULT_HUB = "https://huggingface.co"
Row = dict[str, Any]
Converter = Callable[[Mapping[str, Any], int], Row | None]

_GSM8K_FINAL = re.compile(r"####\s*(.+?)\s*$")
# A sentence begins after an end mark, a closing parenthesis or a number (the last of MathInstruct's
# "Answer Choices: (A) 3 ... (E) 18"), or on a new line, with a capital letter.
_SENTENCE_START = re.compile(r"(?:(?<=[.?!)\d])[ \t]+|\n\s*)(?=[A-Z])")
_PROGRAM = re.compile(r"\b(?:program|python|code)", re.IGNORECASE)


class HubUnreachable(ConnectionError):
    """The hub did not answer; the message names the offline route."""


@dataclasses.dataclass(frozen=True, slots=True)
class HubSource:
    """Where a source lies on the hub, and how one of its records (with its index) becomes a row;
    ``fields`` are the columns the conversion reads, for the error a file of another schema gets."""

    hub_id: str
    configs: tuple[str | None, ...]
    split: str
    fields: tuple[str, ...]
    convert: Converter


@dataclasses.dataclass(frozen=True, slots=True)
class FetchReport:
    path: Path
    written: int
    skipped: int


def gsm8k_row(record: Mapping[str, Any], index: int) -> Row | None:
    """The row of the shipped ``gsm8k-train``: GSM8K's answer is its rationale, calculator annotations
    and all, ending in ``#### 72``; the rationale stays whole in ``meta.solution`` for the converters."""
    final = _GSM8K_FINAL.search(record["answer"])
    if final is None:
        return None
    answer = final[1].replace(",", "")
    return _row(f"gsm8k-train-{index:04d}", record["question"].strip(), answer, "gsm8k", {"solution": record["answer"]})


def math_row(record: Mapping[str, Any], index: int) -> Row | None:
    """MATH's answer is the last ``\\boxed{}`` of its solution, not normalised (the grader does that);
    a solution without one (a few write ``\\boxed 5``) gives no row."""
    answer = last_boxed(record["solution"])
    if answer is None:
        return None
    subject = record["type"].lower().replace(" & ", "_and_").replace(" ", "_")
    meta = {"solution": record["solution"], "level": record["level"], "type": record["type"], "subject": subject}
    return _row(f"math-train-{index:05d}", record["problem"], answer, "math", meta)


def mathinstruct_record(record: Mapping[str, Any], index: int) -> Row | None:
    """A MathInstruct rationale, a program where its source file is one of programs (``data/PoT/...``).
    A program's question loses the request for a program MathInstruct words its own way, so that
    ``potcot data mix`` gives it the trigger potcot serves with; its answer is known only by running it."""
    source = PurePosixPath(record["source"])
    rationale = Rationale.POT if "PoT" in source.parts else Rationale.COT
    question, output = record["instruction"].strip(), record["output"].strip()
    if rationale is Rationale.POT:
        question, answer = without_program_request(question), ""
    else:
        answer = extract_answer(output, lenient=False) or ""
    return {"id": f"mathinstruct-{index:06d}", "question": question, "answer": answer,
            "rationale": rationale.value, "output": output, "source": f"mathinstruct/{source.stem}"}  # fmt: skip


def without_program_request(instruction: str) -> str:
    """The instruction without its last sentence where that sentence asks for a program ("Let's write
    a Python program to solve it."); one that asks a question of its own stays, as a problem about a
    program is still a problem."""
    starts = [match.start() for match in _SENTENCE_START.finditer(instruction)]
    if not starts:
        return instruction
    head, last = instruction[: starts[-1]].rstrip(), instruction[starts[-1] :]
    if head and _PROGRAM.search(last) and "?" not in last:
        return head
    return instruction


def _row(identifier: str, question: str, answer: str, source: str, meta: Row) -> Row:
    return {"id": identifier, "question": question, "answer": answer, "choices": None, "source": source, "meta": meta}


MATH_SUBJECTS = ("algebra", "counting_and_probability", "geometry", "intermediate_algebra", "number_theory",
                 "prealgebra", "precalculus")  # fmt: skip

SOURCES: Mapping[str, HubSource] = MappingProxyType(
    {
        "gsm8k-train": HubSource("openai/gsm8k", ("main",), "train", ("question", "answer"), gsm8k_row),
        "math-train": HubSource(
            "EleutherAI/hendrycks_math", MATH_SUBJECTS, "train", ("problem", "level", "type", "solution"), math_row
        ),
        "mathinstruct": HubSource(
            "TIGER-Lab/MathInstruct", (None,), "train", ("source", "instruction", "output"), mathinstruct_record
        ),
    }
)


def source_of(name: str) -> HubSource:
    if name not in SOURCES:
        raise ValueError(f"no source {name!r}; the sources are {', '.join(SOURCES)}")
    return SOURCES[name]


def fetched_path(cache_dir: Path, name: str) -> Path:
    return cache_dir / "data" / f"{name}.jsonl"


def hub_endpoint() -> str:
    """The hub ``huggingface_hub`` and ``datasets`` download from: ``HF_ENDPOINT`` (a mirror), else the hub."""
    return os.environ.get("HF_ENDPOINT", DEFAULT_HUB).rstrip("/")


def source_records(name: str, inputs: Iterable[Path], timeout_s: float) -> Iterable[Mapping[str, Any]]:
    """The source's records: from the files given, else from the hub once it has answered."""
    source, files = source_of(name), list(inputs)
    if files:
        return (record for path in files for record in read_local(path))
    check_hub(name, source, hub_endpoint(), timeout_s)
    return download(source)


def check_hub(name: str, source: HubSource, endpoint: str, timeout_s: float) -> None:
    """One request with a short timeout, so that no hub means an error in seconds, not a hang."""
    try:
        response = httpx.get(f"{endpoint}/api/datasets/{source.hub_id}", timeout=timeout_s, follow_redirects=True)
        response.raise_for_status()
    except httpx.HTTPError as error:
        configs = ", ".join(config or "default" for config in source.configs)
        raise HubUnreachable(
            f"cannot fetch {source.hub_id} from the Hugging Face hub at {endpoint} ({error or type(error).__name__}). "
            f"Without the network: download its '{source.split}' split (configs: {configs}) elsewhere as "
            f"JSONL, JSON or Parquet files, then convert them here: potcot data fetch {name} --input FILE"
        ) from None


def download(source: HubSource) -> Iterator[Mapping[str, Any]]:
    """Every record of the split, config after config (MATH comes as one config per subject)."""
    import datasets

    for config in source.configs:
        yield from datasets.load_dataset(source.hub_id, config, split=source.split)


def read_local(path: Path) -> Iterable[Mapping[str, Any]]:
    """A copy of a source in its own schema: JSON Lines, a JSON list (MathInstruct's own file) or the
    Parquet files the hub converts every dataset to."""
    if path.name.endswith((".jsonl", ".jsonl.gz")):
        return read_jsonl(path)
    if path.suffix == ".json":
        records = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(records, list):
            raise ValueError(f"{path} is not a JSON list of records")
        return records
    if path.suffix == ".parquet":
        import pyarrow.parquet

        return pyarrow.parquet.read_table(path).to_pylist()
    raise ValueError(f"{path}: --input takes .jsonl, .json or .parquet files")


def converted(source: HubSource, records: Iterable[Mapping[str, Any]]) -> Iterator[Row | None]:
    """Each record as a row, or None where it has no answer to train on."""
    for index, record in enumerate(records):
        try:
            yield source.convert(record, index)
        except (KeyError, TypeError, AttributeError) as error:
            fields = ", ".join(source.fields)
            raise ValueError(f"record {index} is not in {source.hub_id}'s schema ({fields}): {error!r}") from None


def write_rows(rows: Iterable[Row | None], path: Path) -> FetchReport:
    """All rows or none: a conversion cut short leaves no half file for a name to resolve to."""
    partial = path.with_name(f"{path.name}.part")
    partial.parent.mkdir(parents=True, exist_ok=True)
    written = skipped = 0
    try:
        with partial.open("w", encoding="utf-8") as output:
            for row in rows:
                if row is None:
                    skipped += 1
                    continue
                output.write(json.dumps(row) + "\n")
                written += 1
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)
    return FetchReport(path, written, skipped)
