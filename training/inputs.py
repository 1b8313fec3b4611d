"""Training inputs by path or by name, so that the training walk-through runs from any install:
``gsm8k-train`` ships with potcot (``training/data/``, read as the evaluation suite is), and the other
names are read from potcot's cache once ``potcot data fetch`` has put them there. A file that exists
is read as a file, whatever its name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from potcot.shipped import shipped_file, sources
from potcot.training.fetch import SOURCES, fetched_path
from potcot.training.records import read_jsonl

_PACKAGE = "potcot.training"


def read_input(name_or_path: str, cache_dir: Path) -> list[dict[str, Any]]:
    """The rows of a JSONL file, of the shipped data of that name, or of what was fetched under it;
    the shipped copy wins over a fetched one, so that a name always means the same rows."""
    path = Path(name_or_path)
    if path.is_file():
        return read_jsonl(path)
    if name_or_path in sources(_PACKAGE):
        with shipped_file(_PACKAGE, name_or_path) as shipped:
            return read_jsonl(shipped)
    if name_or_path in SOURCES:
        fetched = fetched_path(cache_dir, name_or_path)
        if not fetched.is_file():
            raise FileNotFoundError(f"{name_or_path} has not been fetched yet: potcot data fetch {name_or_path}")
        return read_jsonl(fetched)
    raise FileNotFoundError(f"no file {name_or_path}, and no training data of that name: {_names()}")


def _names() -> str:
    """The names an input may be given by, for an error that says what there is."""
    shipped = ", ".join(name for name, source in sources(_PACKAGE).items() if source.shipped)
    fetchable = ", ".join(name for name in SOURCES if name not in sources(_PACKAGE))
    return f"{shipped} (shipped with potcot); {fetchable} (after potcot data fetch NAME)"
