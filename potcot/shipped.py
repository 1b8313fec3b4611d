"""Data that ships inside potcot's packages, so that a dataset's name loads from any install (editable,
wheel, container image, a clone at any path) rather than from a folder that only a developer's
machine has beside the checkout.

A package's ``data/`` folder holds gzip JSONL files and ``sources.json``, one provenance record per
name: the file (null where potcot may not redistribute the data), its rows, the SHA-256 of the
uncompressed file, where it was copied from and under which licences. The README there carries the
attributions, and the tests check the files against these records.

It imports nothing of potcot: the benchmarks and the training both read their shipped data
through it, and neither imports the other.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gzip
import json
from collections.abc import Iterator, Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import IO

DATA_FOLDER = "data"
SOURCES_FILE = "sources.json"


@dataclasses.dataclass(frozen=True, slots=True)
class Source:
    """One dataset's provenance record, as ``sources.json`` has it."""

    name: str
    file: str | None
    rows: int
    sha256: str
    copied_from: tuple[str, ...]
    licence: str
    upstream_licence: str
    note: str

    @property
    def shipped(self) -> bool:
        return self.file is not None


def data_folder(package: str) -> Traversable:
    return resources.files(package) / DATA_FOLDER


@functools.cache
def sources(package: str) -> Mapping[str, Source]:
    """The package's provenance records by name; read once, they do not change while potcot runs."""
    records = json.loads((data_folder(package) / SOURCES_FILE).read_text(encoding="utf-8"))
    return {
        name: Source(name=name, **{**record, "copied_from": tuple(record["copied_from"])})
        for name, record in records.items()
    }


@contextlib.contextmanager
def shipped_file(package: str, name: str) -> Iterator[Path]:
    """The file of a shipped dataset as a real path (extracted for as long as it is used, where the
    package is imported from a zip); a name whose data is not shipped says why and how to get it."""
    source = sources(package)[name]
    if source.file is None:
        raise FileNotFoundError(f"{name} is not shipped with potcot. {source.note}")
    with resources.as_file(data_folder(package) / source.file) as path:
        yield path


def open_text(path: Path) -> IO[str]:
    """A JSONL file for reading, decompressed on the fly where its name ends in ``.gz``."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")
