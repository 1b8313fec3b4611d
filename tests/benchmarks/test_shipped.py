"""The data that ships with potcot: every dataset of the suite loads by name with no folder beside the
checkout, each file matches its provenance record (rows, SHA-256 of the uncompressed file), and what
may not be shipped says how to get it."""

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from potcot.benchmarks.commands import CompareCommand
from potcot.benchmarks.datasets import DATASETS, load_dataset, published_figures
from potcot.cli import main
from potcot.shipped import Source, data_folder, shipped_file, sources
from tests.conftest import DATA_DIR

PACKAGES = ("potcot.benchmarks", "potcot.training")
RECORDS = [(package, source) for package in PACKAGES for source in sources(package).values()]
SHIPPED = [(package, source) for package, source in RECORDS if source.shipped]


@pytest.fixture(autouse=True)
def _no_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POTCOT_DATA_DIR", raising=False)


def test_every_dataset_of_the_suite_has_a_provenance_record() -> None:
    assert set(sources("potcot.benchmarks")) == set(DATASETS)
    for _, source in RECORDS:
        assert source.copied_from and source.licence and source.upstream_licence and source.note
        assert len(source.sha256) == 64 and source.rows > 0


@pytest.mark.parametrize(("package", "source"), SHIPPED, ids=[source.name for _, source in SHIPPED])
def test_a_shipped_file_matches_its_record(package: str, source: Source) -> None:
    with shipped_file(package, source.name) as path:
        data = gzip.decompress(path.read_bytes())
    assert hashlib.sha256(data).hexdigest() == source.sha256
    assert len([line for line in data.split(b"\n") if line.strip()]) == source.rows


@pytest.mark.parametrize("name", [name for name in DATASETS if sources("potcot.benchmarks")[name].shipped])
def test_a_dataset_loads_by_name_from_the_package(name: str) -> None:
    dataset = load_dataset(name)
    assert dataset.name == name
    assert len(dataset.items) == sources("potcot.benchmarks")[name].rows and dataset.skipped == ()


def test_a_dataset_that_is_not_shipped_says_why_and_how_to_get_it(tmp_path: Path) -> None:
    assert not sources("potcot.benchmarks")["simuleq"].shipped
    with pytest.raises(FileNotFoundError, match="not shipped") as raised:
        load_dataset("simuleq")
    assert "licence" in str(raised.value) and "--datasets" in str(raised.value) and "--data-dir" in str(raised.value)
    row = {"id": "simuleq-000", "question": "x + y = 10 and x - y = 2. What is x?", "answer": "6"}
    (tmp_path / "simuleq.jsonl").write_text(json.dumps(row) + "\n")
    assert [item.answer for item in load_dataset("simuleq", tmp_path).items] == ["6"]


def test_an_unknown_name_lists_the_names_there_are() -> None:
    with pytest.raises(ValueError, match="unknown dataset 'gsm9k'") as raised:
        load_dataset("gsm9k")
    assert all(name in str(raised.value) for name in DATASETS)


def test_a_data_dir_overrides_the_shipped_suite(monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(load_dataset("gsm8k", DATA_DIR).items) == 4
    monkeypatch.setenv("POTCOT_DATA_DIR", str(DATA_DIR))
    assert len(load_dataset("gsm8k").items) == 4


def test_a_compressed_file_loads_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl.gz"
    path.write_bytes(gzip.compress(json.dumps({"id": "a", "question": "1 + 1?", "answer": "2"}).encode()))
    dataset = load_dataset(str(path))
    assert dataset.name == "mine" and [item.answer for item in dataset.items] == ["2"]


def test_compare_defaults_to_the_shipped_published_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert published_figures() == (DATA_DIR / "mammoth_published.json").read_text()
    summary = {"rows": [{"dataset": "gsm8k", "strategy": "hybrid", "accuracy": 0.5}]}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    CompareCommand(run=tmp_path).cli_cmd()
    assert "| gsm8k | hybrid | 50.0 | 51.7 | 53.6 |" in capsys.readouterr().out


def test_the_data_folders_hold_only_what_their_records_name() -> None:
    """A file added without a record (or left over) would ship without provenance."""
    for package in PACKAGES:
        folder = Path(str(data_folder(package)))
        named = {source.file for source in sources(package).values() if source.file}
        extra = {"sources.json", "README.md", *(["mammoth_published.json"] if package == "potcot.benchmarks" else [])}
        assert {path.name for path in folder.iterdir() if path.is_file()} == named | extra


@pytest.mark.timeout(60)  # a check that let these through would start the engine, for minutes
@pytest.mark.parametrize(
    ("datasets", "error"), [("gsm8k,gsm9k", "unknown dataset 'gsm9k'"), ("simuleq", "simuleq is not shipped")]
)
def test_bench_refuses_a_dataset_it_cannot_read_before_it_starts_an_engine(datasets: str, error: str) -> None:
    with pytest.raises(SystemExit, match=f"potcot bench: {error}"):
        main(["bench", "--datasets", datasets])
