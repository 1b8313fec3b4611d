"""The fidelity corpus: ordinary math programs run in the sandbox, and print what CPython prints.

The whole corpus runs in the sandbox; a sample spread over the shapes also runs in plain CPython,
one fresh interpreter per program, which is what makes the full comparison too slow for the
suite (``python -m potcot.benchmarks.performance.sandbox_fidelity`` runs it).
"""

import concurrent.futures

import pytest

from potcot.benchmarks.performance.corpus import FIDELITY, CorpusProgram, build_corpus
from potcot.benchmarks.performance.sandbox_fidelity import cpython_stdout, first_difference
from potcot.sandbox import ExecutionResult, Sandbox

CORPUS = build_corpus(FIDELITY)
# Every eighth program: the shapes are interleaved and their count is odd, so this takes 43
# programs of as many shapes, under 10 s of fresh interpreters on two cores.
SAMPLE_STRIDE = 8


@pytest.fixture(scope="module")
def results(sandbox: Sandbox) -> list[ExecutionResult]:
    return sandbox.run_many([program.code for program in CORPUS])


def test_corpus_is_large_and_varied() -> None:
    assert len(CORPUS) >= 300
    assert len({program.shape for program in CORPUS}) >= 60
    assert build_corpus(FIDELITY, 1) == CORPUS[: len(CORPUS) // 4]  # the shapes in turn


def test_every_program_runs(results: list[ExecutionResult]) -> None:
    failed = [
        (index, program.shape, result.status, result.error)
        for index, (program, result) in enumerate(zip(CORPUS, results, strict=True))
        if not result.ok
    ]
    assert failed == []


def test_a_sample_prints_what_cpython_prints(results: list[ExecutionResult]) -> None:
    sample: list[tuple[CorpusProgram, ExecutionResult]] = list(zip(CORPUS, results, strict=True))[::SAMPLE_STRIDE]
    with concurrent.futures.ThreadPoolExecutor(2) as executor:
        expected = list(executor.map(cpython_stdout, [program.code for program, _ in sample]))
    differences = [
        (program.shape, first_difference(wanted, result.stdout))
        for (program, result), wanted in zip(sample, expected, strict=True)
        if result.stdout != wanted
    ]
    assert differences == []
    assert all(expected)
