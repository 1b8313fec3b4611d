"""``potcot bench`` end to end: two small datasets against the real server, then resume, then the
same suite in process, whose answers must be the HTTP mode's."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from potcot.benchmarks.results import ResultsFile
from potcot.server.fleet.processes import ServerProcess, free_port, potcot_serve
from tests.conftest import DATA_DIR, ENGINE_FLAGS

POTCOT = str(Path(sys.executable).with_name("potcot"))
SUITE = ("--datasets", "gsm8k,aqua", "--data-dir", str(DATA_DIR), "--limit", "3", "--max-tokens", "48", "--seed", "0")


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run([POTCOT, "bench", *args], capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed


def predictions(out: Path, dataset: str) -> dict[str, str | None]:
    return {result.id: result.prediction for result in ResultsFile(out / "results" / f"{dataset}-cot.jsonl").read()}


def test_bench_against_the_server_then_resume(live_server: ServerProcess, tmp_path: Path) -> None:
    out = tmp_path / "run"
    completed = bench("--url", live_server.url, *SUITE, "--strategy", "cot", "--out", str(out))
    assert "| gsm8k | cot | 3 |" in completed.stdout and "| aqua | cot | 3 |" in completed.stdout

    summary = json.loads((out / "summary.json").read_text())
    rows = {row["dataset"]: row for row in summary["rows"]}
    assert summary["grading"] == "strict"
    assert rows["gsm8k"]["skipped_rows"] == 1 and rows["aqua"]["skipped_rows"] == 0
    for row in rows.values():
        results = ResultsFile(out / "results" / f"{row['dataset']}-cot.jsonl").read()
        assert len(results) == row["items"] == 3
        assert row["accuracy"] == round(sum(r.correct for r in results) / 3, 4)
        assert row["accuracy_strict"] <= row["accuracy"]
        assert row["questions_per_s"] > 0 and row["latency_s"]["p50"] > 0
        assert all(r.answered_by in (None, "cot") and r.prompt_tokens > 0 for r in results)
    assert all(
        r.prediction in (None, "A", "B", "C", "D", "E") for r in ResultsFile(out / "results" / "aqua-cot.jsonl").read()
    )
    assert (out / "summary.md").read_text().startswith("Grading: strict")
    assert (out / "accuracy.png").read_bytes().startswith(b"\x89PNG")

    results_file = out / "results" / "gsm8k-cot.jsonl"
    lines = results_file.read_text().splitlines()
    results_file.write_text("\n".join(lines[:2]) + "\n")  # as if the run had stopped after two
    bench("--url", live_server.url, *SUITE, "--strategy", "cot", "--out", str(out))
    run = json.loads((out / "run.json").read_text())
    assert [session["items"] for session in run["sessions"]["gsm8k/cot"]] == [3, 1]
    assert [session["items"] for session in run["sessions"]["aqua/cot"]] == [3, 0]
    assert len(ResultsFile(results_file).read()) == 3

    compared = subprocess.run([POTCOT, "bench", "compare", str(out), "--model", "MAmmoTH-7B",
                               "--published", str(DATA_DIR / "mammoth_published.json")],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    assert compared.returncode == 0, compared.stderr
    assert "| gsm8k | cot |" in compared.stdout and "50.5" in compared.stdout
    assert (out / "comparison.md").exists()


@pytest.mark.engine  # a server of its own, then the engine in process (the live server's test is engine by its fixture)
def test_in_process_answers_are_the_http_answers(tmp_path: Path) -> None:
    """Same model, data and seed: the same answers. In float32, since bfloat16 sums can round
    differently when vLLM batches requests differently, which changes greedy choices."""
    flags = (*ENGINE_FLAGS, "--dtype", "float32")
    port = free_port()
    with ServerProcess(potcot_serve(port, *flags), port, tmp_path / "server.log") as server:
        server.wait_until_healthy()
        bench("--url", server.url, *SUITE, "--strategy", "cot", "--out", str(tmp_path / "http"))
    bench(*SUITE, "--strategy", "cot", "--out", str(tmp_path / "local"), *flags)
    for dataset in ("gsm8k", "aqua"):
        assert predictions(tmp_path / "local", dataset) == predictions(tmp_path / "http", dataset)


def test_bench_refuses_an_unreachable_server(tmp_path: Path) -> None:
    completed = subprocess.run(
        [POTCOT, "bench", "--url", "http://127.0.0.1:9", "--out", str(tmp_path / "run")], capture_output=True, text=True
    )
    assert completed.returncode == 1
    assert "cannot reach a potcot server at http://127.0.0.1:9" in completed.stderr
    assert "Traceback" not in completed.stderr
