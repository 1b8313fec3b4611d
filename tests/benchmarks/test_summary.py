import json
from pathlib import Path

import pytest

from potcot.benchmarks.results import ItemResult, Session
from potcot.benchmarks.summary import comparison_table, draw_chart, markdown_table, summarize
from tests.conftest import DATA_DIR

RESULTS = [
    ItemResult("gsm8k", "1", "hybrid", "18", "18", "18", "pot", None, True, True, 1.0, 10, 20),
    ItemResult("gsm8k", "2", "hybrid", "3", "4", None, "cot", "runtime_error", False, False, 2.0, 10, 30, samples=2),
    ItemResult("gsm8k", "3", "hybrid", "5", "5", None, "cot", "no_program", True, False, 3.0, 10, 40, samples=2),
    ItemResult("gsm8k", "4", "hybrid", "7", None, None, None, None, False, False, 0.1, 0, 0, "400: too long", 0),
    ItemResult("aqua", "1", "cot", "B", "B", "B", "cot", None, True, True, 1.5, 10, 20),
]


def solved(strategy: str, samples: int, completion_tokens: int, correct: bool = True) -> ItemResult:
    return ItemResult(
        "gsm8k", "1", strategy, "18", "18", "18", "cot", None, correct, correct, 1.0, 10, completion_tokens,
        samples=samples,
    )  # fmt: skip


FAILED = ItemResult("gsm8k", "9", "vote", "7", None, None, None, None, False, False, 0.1, 0, 0, "503", 0)


def test_counts_add_up() -> None:
    summary = summarize(RESULTS, {"gsm8k/hybrid": [Session(3, 2.0, 100), Session(1, 2.0, 10)]}, {"gsm8k": 1}, "strict")
    aqua, gsm8k = summary["rows"]
    assert gsm8k["items"] == 4 and gsm8k["errors"] == 1 and gsm8k["skipped_rows"] == 1
    assert (gsm8k["accuracy"], gsm8k["accuracy_strict"], gsm8k["pot_success_rate"]) == (0.5, 0.25, 0.25)
    assert gsm8k["fallback_rate"] == 0.5
    assert gsm8k["fallbacks_by_reason"] == {"runtime_error": 0.25, "no_program": 0.25}
    assert (gsm8k["questions_per_s"], gsm8k["tokens_per_s"]) == (1.0, 27.5)
    assert gsm8k["latency_s"]["p50"] == 2.0
    assert (gsm8k["samples_per_question"], gsm8k["completion_tokens_per_question"]) == (1.6667, 30.0)
    assert (aqua["pot_success_rate"], aqua["fallback_rate"], aqua["questions_per_s"]) == (None, None, None)


@pytest.mark.parametrize(
    ("results", "samples", "tokens", "accuracy"),
    [
        ([solved("cot", 1, 100)], 1.0, 100.0, 1.0),
        ([solved("hybrid", 1, 50), solved("hybrid", 2, 150, correct=False)], 1.5, 100.0, 0.5),
        ([solved("tir", 3, 300), solved("tir", 1, 90), solved("tir", 5, 611)], 3.0, 333.7, 1.0),
        ([solved("vote", 2, 200), solved("vote", 16, 1600)], 9.0, 900.0, 1.0),  # an early stop, then all samples
        ([solved("vote", 4, 400), FAILED], 4.0, 400.0, 0.5),  # a failed request costs nothing, and is wrong
        ([FAILED], 0.0, 0.0, 0.0),
    ],
)
def test_cost_per_question_beside_accuracy(
    results: list[ItemResult], samples: float, tokens: float, accuracy: float
) -> None:
    (row,) = summarize(results, {}, {}, "strict")["rows"]
    assert (row["samples_per_question"], row["completion_tokens_per_question"]) == (samples, tokens)
    assert row["accuracy"] == accuracy


def test_markdown_chart_and_comparison(tmp_path: Path) -> None:
    summary = summarize(RESULTS, {}, {"gsm8k": 1}, "mammoth")
    table = markdown_table(summary)
    assert "Grading: mammoth" in table and "| gsm8k | hybrid | 4 | 50.0 | 25.0 | 1.67 | 30.0 | 25.0 | 50.0 |" in table
    assert "| aqua | cot | 1 | 100.0 | 100.0 | 1.00 | 20.0 | - | - |" in table
    assert "Malformed rows skipped: gsm8k 1" in table
    draw_chart(summary, tmp_path / "accuracy.png")
    assert (tmp_path / "accuracy.png").read_bytes().startswith(b"\x89PNG")
    published = json.loads((DATA_DIR / "mammoth_published.json").read_text())
    comparison = comparison_table(summary, published, "MAmmoTH-7B")
    assert "| gsm8k | hybrid | 50.0 | 51.7 | 53.6 |" in comparison
    assert "| aqua | cot | 100.0 | 42.9 | 43.7 |" in comparison
