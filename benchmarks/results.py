"""Per-item results, written one JSON line at a time as each completes, so that a crash or Ctrl-C
loses nothing and a run started again with the same output folder resumes where it stopped; and
the run's state (``run.json``): its configuration, its sessions, the rows its datasets skipped."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class ItemResult:
    dataset: str
    id: str
    strategy: str  # the strategy asked for
    gold: str
    prediction: str | None  # the solver's answer (lenient for chains of thought)
    prediction_strict: str | None  # the solver's strict answer: a chain of thought's only when stated or boxed
    answered_by: str | None  # pot or cot
    fallback_reason: str | None
    correct: bool
    correct_strict: bool
    latency_s: float
    prompt_tokens: int
    completion_tokens: int
    error: str | None = None  # a request that failed for good
    # Generations the solve drew: its attempts (every vote sample, every tool round, a hybrid's
    # one or two); none for a request that failed.
    samples: int = 1

    @classmethod
    def from_json(cls, line: str) -> ItemResult:
        fields = json.loads(line)
        if isinstance(fields, dict) and "samples" not in fields:
            fields["samples"] = _samples_before_they_were_recorded(fields)
        return cls(**fields)


def _samples_before_they_were_recorded(fields: dict[str, Any]) -> int:
    """Results files written before rows had ``samples`` hold only cot, pot and hybrid solves,
    whose generations the row itself tells: none for a failed request, two for a hybrid that fell
    back, else one. So an old run's summary counts its cost as a new run would."""
    if fields.get("error") is not None:
        return 0
    return 2 if fields.get("strategy") == "hybrid" and fields.get("fallback_reason") else 1


class ResultsFile:
    """One dataset and strategy's results, appended line by line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._drop_partial_last_line()

    def _drop_partial_last_line(self) -> None:
        """A write cut short by a crash leaves a line without its newline; the next result must
        not be glued to it."""
        if not self.path.exists():
            return
        content = self.path.read_bytes()
        if content and not content.endswith(b"\n"):
            self.path.write_bytes(content[: content.rfind(b"\n") + 1])

    def read(self) -> list[ItemResult]:
        """The results so far. A line cut short by a crash is ignored, and that item is run again."""
        if not self.path.exists():
            return []
        results = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").split("\n"), start=1):
            if not line:
                continue
            try:
                results.append(ItemResult.from_json(line))
            except (ValueError, TypeError):
                logger.warning("%s:%d is not a complete result; the item will run again", self.path, number)
        return results

    def append(self, result: ItemResult) -> None:
        with self.path.open("a", encoding="utf-8") as output:
            output.write(json.dumps(dataclasses.asdict(result)) + "\n")


@dataclasses.dataclass(frozen=True, slots=True)
class Session:
    """One stretch of running a dataset: how many items it finished, in what time, with what tokens."""

    items: int
    wall_s: float
    tokens: int


@dataclasses.dataclass(slots=True)
class RunState:
    """What ``run.json`` holds: the configuration the results were made with (as text), the
    sessions of each ``dataset/strategy``, and how many malformed rows each dataset skipped."""

    config: dict[str, str] = dataclasses.field(default_factory=dict)
    sessions: dict[str, list[Session]] = dataclasses.field(default_factory=dict)
    skipped_rows: dict[str, int] = dataclasses.field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> RunState:
        """The state a run left in ``path``; an empty one if there is none yet."""
        if not path.exists():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        sessions = {key: [Session(**session) for session in runs] for key, runs in data["sessions"].items()}
        return cls(data.get("config", {}), sessions, data["skipped_rows"])

    def write(self, path: Path) -> None:
        write_json(path, dataclasses.asdict(self))


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
