"""A hybrid instruction set in MathInstruct's Alpaca format (``instruction``, ``output``, ``source``)
from chain-of-thought, program-of-thought and tool-integrated rationales: deduplicated, balanced to a
CoT share, split into training and held-out records by question.

Instructions come from ``server.prompts``, so a model is trained on exactly the prompts it is later
served with: MAmmoTH's trigger "Let's write a program." on program items in the Alpaca style, the
chat instructions (and a ```python block around programs) in the chat style, and Qwen2.5-Math's
tool-integrated instruction on tool-integrated items in either style (their output is already in
the format the ``tir`` strategy reads, code blocks included).
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import random
from collections.abc import Iterable

from potcot.server.prompts import PromptStyle, Rationale, instruction
from potcot.training.records import RationaleRecord


@dataclasses.dataclass(frozen=True)
class MixConfig:
    style: PromptStyle = PromptStyle.ALPACA
    # Share of chains of thought in the mix, against programs and tool-integrated rationales
    # together; None keeps every record.
    cot_share: float | None = None
    eval_fraction: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        if self.style is PromptStyle.AUTO:
            raise ValueError("choose alpaca or chat for the instruction set")
        if self.cot_share is not None and not 0 <= self.cot_share <= 1:
            raise ValueError(f"cot_share must be in [0, 1], got {self.cot_share}")
        if not 0 <= self.eval_fraction < 1:
            raise ValueError(f"eval_fraction must be in [0, 1), got {self.eval_fraction}")


@dataclasses.dataclass(frozen=True)
class MixStats:
    duplicates_dropped: int
    cot: int
    pot: int
    tir: int
    train: int
    held_out: int


def mix(
    records: Iterable[RationaleRecord], config: MixConfig
) -> tuple[list[dict[str, str]], list[dict[str, str]], MixStats]:
    unique = _deduplicated(records)
    balanced = _balanced(unique.records, config)
    train: list[dict[str, str]] = []
    held_out: list[dict[str, str]] = []
    for record in balanced:
        (held_out if _held_out(record.question, config) else train).append(_alpaca_record(record, config.style))
    kinds = collections.Counter(record.rationale for record in balanced)
    stats = MixStats(
        duplicates_dropped=unique.dropped,
        cot=kinds[Rationale.COT],
        pot=kinds[Rationale.POT],
        tir=kinds[Rationale.TIR],
        train=len(train),
        held_out=len(held_out),
    )
    return train, held_out, stats


@dataclasses.dataclass(frozen=True)
class _Unique:
    records: list[RationaleRecord]
    dropped: int


def _deduplicated(records: Iterable[RationaleRecord]) -> _Unique:
    seen: set[tuple[str, str, str]] = set()
    kept, dropped = [], 0
    for record in records:
        key = (record.rationale.value, _normalized(record.question), _normalized(record.output))
        if key in seen:
            dropped += 1
            continue
        seen.add(key)
        kept.append(record)
    return _Unique(kept, dropped)


def _balanced(records: list[RationaleRecord], config: MixConfig) -> list[RationaleRecord]:
    """Downsample whichever side exceeds its share, at random but reproducibly: chains of thought,
    or the rationales that run code (programs and tool-integrated ones, sampled together, so their
    own proportion stays as it was)."""
    if config.cot_share is None:
        return records
    cot = [record for record in records if record.rationale is Rationale.COT]
    code = [record for record in records if record.rationale is not Rationale.COT]
    share = config.cot_share
    if share in (0, 1):
        cot, code = (cot, []) if share == 1 else ([], code)
    elif len(cot) / share > len(code) / (1 - share):
        cot = random.Random(config.seed).sample(cot, round(len(code) * share / (1 - share)))
    else:
        code = random.Random(config.seed).sample(code, round(len(cot) * (1 - share) / share))
    chosen = {id(record) for record in cot + code}
    return [record for record in records if id(record) in chosen]


def _held_out(question: str, config: MixConfig) -> bool:
    """By question, so that no question is in both splits; stable across runs and machines."""
    digest = hashlib.sha256(f"{config.seed}:{_normalized(question)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < config.eval_fraction


def _alpaca_record(record: RationaleRecord, style: PromptStyle) -> dict[str, str]:
    output = record.output.strip()
    if style is PromptStyle.CHAT and record.rationale is Rationale.POT:
        output = f"```python\n{output}\n```"
    return {
        "instruction": instruction(record.question, record.rationale, style),
        "output": output,
        "source": f"{record.source}/{record.rationale.value}",
    }


def _normalized(text: str) -> str:
    return " ".join(text.split()).lower()
