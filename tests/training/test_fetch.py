"""``potcot data fetch`` and training inputs by name: each source's own schema (fixtures in the hub's
column layout, tests/data/fetch/) converted to the rows the pipeline reads, local files converted
without the network, a clear error in seconds where the hub cannot be reached, and the walk-through's
names resolved from the package and the cache."""

import json
from pathlib import Path
from typing import Any

import pyarrow
import pyarrow.parquet
import pytest

from potcot.cli import main
from potcot.server.fleet.processes import free_port
from potcot.server.prompts import POT_TRIGGER
from potcot.training.fetch import SOURCES, converted, without_program_request
from potcot.training.inputs import read_input
from potcot.training.records import read_jsonl, records_of
from tests.conftest import DATA_DIR

FIXTURES = DATA_DIR / "fetch"
GSM8K = FIXTURES / "gsm8k_main_train.jsonl"
MATH = FIXTURES / "hendrycks_math_train.jsonl"
MATHINSTRUCT = FIXTURES / "mathinstruct.json"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("POTCOT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def convert(name: str, records: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
    return list(converted(SOURCES[name], records))


def test_gsm8k_records_become_the_rows_potcot_ships(cache: Path) -> None:
    rows = convert("gsm8k-train", read_jsonl(GSM8K))
    assert rows == read_input("gsm8k-train", cache)[: len(rows)]
    assert rows[0] is not None and rows[0]["answer"] == "72" and "<<48/2=24>>" in rows[0]["meta"]["solution"]


def test_math_records_keep_the_solution_and_answer_with_the_last_box() -> None:
    rows = convert("math-train", read_jsonl(MATH))
    first, unboxed, counting, intermediate = rows
    assert first is not None and first["id"] == "math-train-00000" and first["answer"] == "0"
    assert first["meta"]["level"] == "Level 5" and first["meta"]["subject"] == "algebra"
    assert unboxed is None  # its solution writes \boxed 9, without braces
    assert counting is not None and counting["meta"]["subject"] == "counting_and_probability"
    assert intermediate is not None and (intermediate["answer"], intermediate["source"]) == ("0,1", "math")


def test_mathinstruct_records_become_rationales_of_their_kind() -> None:
    rows = convert("mathinstruct", json.loads(MATHINSTRUCT.read_text()))
    assert [row["rationale"] for row in rows if row] == ["cot", "pot", "pot", "pot", "pot", "cot"]
    assert [row["answer"] for row in rows if row] == ["72", "", "", "", "", "\\sqrt{53}"]
    assert [row["source"] for row in rows if row][:2] == ["mathinstruct/gsm_rft", "mathinstruct/mathqa"]
    assert all(row and "program" not in row["question"].lower().split("?")[-1] for row in rows[1:5])


@pytest.mark.parametrize(
    ("instruction", "question"),
    [
        ("How old is b ? Let's write a Python program to solve it.", "How old is b ?"),
        ("Which? Answer Choices: (A) 7 (B) 8 Let's write a program.", "Which? Answer Choices: (A) 7 (B) 8"),
        ("What do they cost?\nPlease write a program to solve it", "What do they cost?"),
        ("A program prints 3 lines. How many lines does the program print?", None),
        ("How many? let's write a program.", None),  # no sentence to cut at: kept whole rather than cut short
    ],
)
def test_a_program_request_is_cut_from_the_question(instruction: str, question: str | None) -> None:
    assert without_program_request(instruction) == (question or instruction)


def test_fetched_mathinstruct_mixes_with_potcots_trigger(cache: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="not been fetched"):
        main(["data", "mix", "--cot", "mathinstruct", "--output", str(tmp_path / "mix")])
    main(["data", "fetch", "mathinstruct", "--input", str(MATHINSTRUCT)])
    main(["data", "mix", "--cot", "mathinstruct", "--eval-fraction", "0", "--output", str(tmp_path / "mix")])
    train = read_jsonl(tmp_path / "mix" / "train.jsonl")
    programs = [record["instruction"] for record in train if record["source"].endswith("/pot")]
    assert len(train) == 6 and len(programs) == 4
    assert all(instruction.endswith(f"? {POT_TRIGGER}") or "(E) 11" in instruction for instruction in programs)


def test_input_files_convert_without_the_network(
    cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parquet = tmp_path / "train-00000-of-00001.parquet"
    pyarrow.parquet.write_table(pyarrow.Table.from_pylist(read_jsonl(MATH)), parquet)
    main(["data", "fetch", "math-train", "--input", str(parquet), "--input", str(MATH)])
    written = cache / "data" / "math-train.jsonl"
    assert f"6 rows of math-train in {written}, 2 skipped" in capsys.readouterr().out
    assert [row["id"] for row in read_jsonl(written)][-1] == "math-train-00007"
    first = next(records_of(read_input("math-train", cache)))
    assert first.question.startswith("Let \\[f(x)") and first.output.endswith("$a+b=-3+3=\\boxed{0}$.")


def test_a_file_of_another_schema_is_a_clear_error(cache: Path) -> None:
    with pytest.raises(SystemExit, match=r"record 0 is not in EleutherAI/hendrycks_math's schema"):
        main(["data", "fetch", "math-train", "--input", str(GSM8K)])
    assert not (cache / "data" / "math-train.jsonl").exists()


@pytest.mark.timeout(30)
def test_no_hub_fails_at_once_and_names_the_offline_route(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    with pytest.raises(SystemExit) as raised:
        main(["data", "fetch", "gsm8k-train", "--timeout-s", "5"])
    message = str(raised.value)
    assert "cannot fetch openai/gsm8k" in message and "potcot data fetch gsm8k-train --input FILE" in message
    assert not (cache / "data").exists()


def test_an_unknown_source_or_input_lists_the_names(cache: Path) -> None:
    with pytest.raises(SystemExit, match="gsm8k-train, math-train, mathinstruct"):
        main(["data", "fetch", "gsm8k"])
    with pytest.raises(FileNotFoundError, match=r"gsm8k-train \(shipped with potcot\); math-train, mathinstruct"):
        read_input("no-such-file.jsonl", cache)


def test_the_walk_through_starts_from_the_shipped_split(cache: Path, tmp_path: Path) -> None:
    output = tmp_path / "gsm8k_pot.jsonl"
    main(["data", "gsm8k-pot", "--input", "gsm8k-train", "--output", str(output)])
    assert len(read_jsonl(output)) > 0.9 * 7473
