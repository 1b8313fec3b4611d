"""The sandbox benchmarks' corpora, read from their YAML files: every draw fills each placeholder of
its program and no other, the shapes come in turn, and a corpus gives no more programs of a shape
than it keeps."""

from string import Template

import pytest

from potcot.benchmarks.performance.corpus import FIDELITY, THROUGHPUT, build_corpus, shapes
from potcot.benchmarks.performance.sandbox_throughput import corpus_programs


@pytest.mark.parametrize(("corpus", "count", "kept"), [(FIDELITY, 85, 4), (THROUGHPUT, 13, 20)])
def test_every_shape_keeps_its_draws_and_each_fills_its_program(corpus: str, count: int, kept: int) -> None:
    found = shapes(corpus)
    assert len(found) == count == len({shape.name for shape in found})
    assert {len(shape.draws) for shape in found} == {kept}
    programs = build_corpus(corpus, kept)
    assert [program.shape for program in programs[:count]] == [shape.name for shape in found]
    assert all(set(draw) == set(Template(shape.program).get_identifiers()) for shape in found for draw in shape.draws)
    with pytest.raises(ValueError, match=f"1 to {kept} programs of each shape"):
        build_corpus(corpus, kept + 1)


def test_the_throughput_corpus_is_cut_at_its_size() -> None:
    assert len(corpus_programs(200)) == 200
    assert corpus_programs(200) == corpus_programs(260)[:200]
    assert sum("numpy" in code or "sympy" in code for code in corpus_programs(260)) == 80
