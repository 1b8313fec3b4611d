"""The sandbox benchmarks' program corpora, kept as data beside this module: ``fidelity_corpus.yaml``
(ordinary math programs of many kinds, for ``sandbox_fidelity`` and ``sandbox_peers``) and
``throughput_corpus.yaml`` (GSM8K-style programs, for ``sandbox_throughput``).

A corpus is a list of shapes: a program with ``$name`` placeholders (``string.Template``) and the
draws that fill them, each mapping a placeholder to the Python source text put in its place. The
draws were made once and are kept, so a corpus is the same programs on every machine and in every
version of Python, and reading it takes no generator's code.
"""

from __future__ import annotations

import dataclasses
import functools
import string
from collections.abc import Mapping
from pathlib import Path

import yaml

FIDELITY = "fidelity"
THROUGHPUT = "throughput"
_FOLDER = Path(__file__).parent


@dataclasses.dataclass(frozen=True, slots=True)
class Shape:
    """A program template and the draws that fill it."""

    name: str
    about: str
    program: str
    draws: tuple[Mapping[str, str], ...]

    def instance(self, draw: int) -> str:
        """The program of one draw."""
        return string.Template(self.program).substitute(self.draws[draw])


@dataclasses.dataclass(frozen=True, slots=True)
class CorpusProgram:
    """One program of a corpus, with the name of the shape it was drawn from."""

    shape: str
    code: str


@functools.cache
def shapes(corpus: str) -> tuple[Shape, ...]:
    """A corpus's shapes, in the file's order; read once, as the file does not change while a
    benchmark runs."""
    text = (_FOLDER / f"{corpus}_corpus.yaml").read_text(encoding="utf-8")
    entries = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml's, where built: 10x
    return tuple(
        Shape(entry["shape"], entry["about"], entry["program"], tuple(map(_source_texts, entry["draws"])))
        for entry in entries
    )


def _source_texts(draw: Mapping[str, object]) -> Mapping[str, str]:
    """A draw's values as source text: a number may be written bare in the file, as YAML reads it."""
    texts = {name: value if isinstance(value, str) else str(value) for name, value in draw.items()}
    if any(isinstance(value, bool) or not isinstance(value, str | int) for value in draw.values()):
        raise ValueError(f"a draw's values are source text or integers: {draw}")
    return texts


def build_corpus(corpus: str = FIDELITY, per_shape: int = 4) -> list[CorpusProgram]:
    """``per_shape`` programs of every shape, shapes interleaved so that any slice mixes them: the
    first draw of each shape, then the second, and so on."""
    found = shapes(corpus)
    kept = min(len(shape.draws) for shape in found)
    if not 1 <= per_shape <= kept:
        raise ValueError(f"the {corpus} corpus keeps 1 to {kept} programs of each shape, not {per_shape}")
    return [CorpusProgram(shape.name, shape.instance(draw)) for draw in range(per_shape) for shape in found]
