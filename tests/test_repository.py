"""A clone is the whole product: nothing in the repository (code default, test fixture, document or
comment) points at a folder beside the checkout, as the data once did, or anywhere else outside it;
and a wheel built from the clone carries the data that ships with potcot, and no performance script
or corpus, which run from a clone."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from potcot.shipped import sources

ROOT = Path(__file__).resolve().parents[1]
# The folder the data lay in beside the developers' checkouts, by any of its names.
_BESIDE = re.compile(r"\.\./shared\b|\bshared/data\b")
_UP = r"(?:\.\./)+[^\s`'\"()\[\]<>]*"
# In a document, a link's target resolves from its folder and a path in a code span from the root.
_MARKDOWN_PATHS = re.compile(rf"\]\(({_UP})\)|`({_UP})")
# A config's paths resolve from its own folder (so potcot reads training/configs/*.yaml).
_CONFIG_PATH = re.compile(rf"(?<![\w./])({_UP})")
_FILE_PARENTS = re.compile(r"Path\(__file__\)(?:\.resolve\(\))?\.parents\[(\d+)\]")


def repository_files() -> list[Path]:
    """The files a clone has (those git tracks, and new ones it does not ignore), read as text."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode()  # fmt: skip
    return [ROOT / name for name in sorted(set(listed.split("\0"))) if name and (ROOT / name).is_file()]


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    data = path.read_bytes()
    if b"\0" in data:
        return
    try:
        yield from enumerate(data.decode("utf-8").splitlines(), start=1)
    except UnicodeDecodeError:
        return


def outside(path: Path) -> bool:
    return not path.resolve().is_relative_to(ROOT)


def above(path: Path, levels: int) -> bool:
    """Whether ``Path(__file__).parents[levels]`` of the file at ``path`` lies outside the repository."""
    return levels >= len(path.parents) or outside(path.parents[levels])


def pointers_outside(path: Path, line: str) -> list[str]:
    """What in one line of a file points outside the repository."""
    found = [match[0] for match in _BESIDE.finditer(line)]
    if path.suffix == ".md":
        found += [link for link, _ in _MARKDOWN_PATHS.findall(line) if link and outside(path.parent / link)]
        found += [span for _, span in _MARKDOWN_PATHS.findall(line) if span and outside(ROOT / span)
                  and outside(path.parent / span)]  # fmt: skip
    elif path.suffix in (".yaml", ".yml"):
        setting = line.split("#", 1)[0]
        found += [value for value in _CONFIG_PATH.findall(setting) if outside(path.parent / value)]
    elif path.suffix == ".py":
        found += [match[0] for match in _FILE_PARENTS.finditer(line) if above(path, int(match[1]))]
    return found


def test_nothing_points_outside_the_repository() -> None:
    flagged = [
        f"{path.relative_to(ROOT)}:{number}: {', '.join(found)}"
        for path in repository_files()
        if path != Path(__file__).resolve()
        for number, line in text_lines(path)
        if (found := pointers_outside(path, line))
    ]
    assert flagged == []


@pytest.mark.parametrize(
    ("name", "line", "flagged"),
    [
        ("README.md", "See `../shared/DESIGN.md` for the architecture.", True),
        ("README.md", "potcot data gsm8k-pot --input shared/data/train/gsm8k.jsonl", True),
        ("docs/guide.md", "[the sandbox](../docs/sandbox.md) and [above](../../elsewhere.md)", True),
        ("docs/guide.md", "[the sandbox](../docs/sandbox.md), `../README.md`", False),
        ("training/configs/run.yaml", "train_file: ../../runs/data/mix/train.jsonl  # from this folder", False),
        ("training/configs/run.yaml", "train_file: ../../../data/train.jsonl", True),
        ("benchmarks/datasets.py", 'Path(__file__).resolve().parents[2] / "data"', True),
        ("benchmarks/datasets.py", 'Path(__file__).parents[1] / "data"', False),
    ],
)
def test_what_counts_as_pointing_outside(name: str, line: str, flagged: bool) -> None:
    assert bool(pointers_outside(ROOT / name, line)) is flagged


def test_a_wheel_built_from_the_clone_carries_the_shipped_data_and_no_experiment(tmp_path: Path) -> None:
    source = tmp_path / "potcot"
    for path in repository_files():
        (source / path.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, source / path.relative_to(ROOT))
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(source)]
    subprocess.run([*build, "-w", str(tmp_path / "dist")], cwd=tmp_path, capture_output=True, check=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("potcot-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in ("benchmarks", "training"):
        files = [source.file for source in sources(f"potcot.{package}").values() if source.file]
        expected = {f"potcot/{package}/data/{name}" for name in ["sources.json", "README.md", *files]}
        assert expected <= names
    assert "potcot/benchmarks/data/mammoth_published.json" in names
    assert "potcot/training/configs/smollm2_gsm8k_lora.yaml" in names
    assert "potcot/training/miniature/templates.yaml" in names  # potcot data miniature's, a user's command
    assert "potcot/training/miniature/text_templates.yaml" in names
    assert [name for name in names if "/performance/" in name or "corpus" in name] == []
