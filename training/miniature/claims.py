"""Which half of the paper's claim a miniature run shows, from its accuracies: pure functions of the
benchmark's figures, so that ``make miniature``'s summary says it in words and a test can check the
words on made-up figures.

The claim has two halves (MAmmoTH, Yue et al. 2023): programs do what text cannot (here, the
arithmetic of the family's test split), and mixing the two, a program first and a chain of thought
when the program gives no answer, beats either alone (on the split that mixes arithmetic with the
text kinds, where a program's printed number stands for no option and the fallback answers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from potcot.training.miniature.splits import MIXED_SPLIT, TEST_SPLIT, TEXT_TEST_SPLIT

# Programs over text: pot at least this far above cot on the arithmetic test split, seven standard
# errors of a 300-item split's difference at the worst: the gap is the claim, not sampling noise.
PROGRAMS_OVER_TEXT = 0.30
# Mixing beats both: hybrid at least this far above the better of pot and cot on the mixed split,
# and the text kinds' chains of thought at least at the floor (issue 32's targets).
MIXING_MARGIN = 0.02
TEXT_COT_TARGET = 0.30
PROGRAMS_CLAIM, MIXING_CLAIM = "programs over text", "mixing beats both"

Accuracies = Mapping[str, Mapping[str, float]]


def mixed_accuracies(splits: Accuracies, items: Mapping[str, int]) -> dict[str, float]:
    """Each strategy's accuracy on the mixed split, from the arithmetic and the text test splits it
    concatenates, weighted by their items: what benchmarking the mixed file gives, as every
    question is solved on its own (up to batching's rounding)."""
    arithmetic, text = splits[TEST_SPLIT], splits[TEXT_TEST_SPLIT]
    weights = items[TEST_SPLIT], items[TEXT_TEST_SPLIT]
    total = sum(weights) or 1
    return {
        strategy: (arithmetic[strategy] * weights[0] + text[strategy] * weights[1]) / total
        for strategy in arithmetic
        if strategy in text
    }


def claims(splits: Accuracies) -> dict[str, dict[str, Any]]:
    """Both halves of the claim, each shown or not, with the figures that decide it; a half whose
    strategies the run did not benchmark is not measured (``shown`` None)."""
    return {PROGRAMS_CLAIM: _programs_over_text(splits.get(TEST_SPLIT, {})), MIXING_CLAIM: _mixing_beats_both(splits)}


def _programs_over_text(test: Mapping[str, float]) -> dict[str, Any]:
    if not {"pot", "cot"} <= set(test):
        return _unmeasured(PROGRAMS_CLAIM, "pot and cot on the test split")
    pot, cot = test["pot"], test["cot"]
    shown = pot >= cot + PROGRAMS_OVER_TEXT
    says = (
        f"{PROGRAMS_CLAIM}: {_verdict(shown)} on {TEST_SPLIT}: pot {pot:.3f}, cot {cot:.3f} "
        f"(shown when pot >= cot + {PROGRAMS_OVER_TEXT:.2f})"
    )
    return {"shown": shown, "split": TEST_SPLIT, "says": says}


def _mixing_beats_both(splits: Accuracies) -> dict[str, Any]:
    mixed, text = splits.get(MIXED_SPLIT, {}), splits.get(TEXT_TEST_SPLIT, {})
    if not {"pot", "cot", "hybrid"} <= set(mixed) or "cot" not in text:
        return _unmeasured(MIXING_CLAIM, "pot, cot and hybrid on the mixed split")
    best = max(mixed["pot"], mixed["cot"])
    shown = mixed["hybrid"] >= best + MIXING_MARGIN
    text_cot = text["cot"]
    says = (
        f"{MIXING_CLAIM}: {_verdict(shown)} on {MIXED_SPLIT}: hybrid {mixed['hybrid']:.3f}, pot {mixed['pot']:.3f}, "
        f"cot {mixed['cot']:.3f} (shown when hybrid >= max(pot, cot) + {MIXING_MARGIN:.2f}); "
        f"the text kinds' cot {text_cot:.3f} (target {TEXT_COT_TARGET:.2f}: {_verdict(text_cot >= TEXT_COT_TARGET)})"
    )
    return {"shown": shown, "split": MIXED_SPLIT, "text_cot": text_cot,
            "text_cot_target_met": text_cot >= TEXT_COT_TARGET, "says": says}  # fmt: skip


def _unmeasured(claim: str, needs: str) -> dict[str, Any]:
    return {"shown": None, "split": None, "says": f"{claim}: not measured (the run has no {needs})"}


def _verdict(shown: bool) -> str:
    return "shown" if shown else "not shown"


def summary_markdown(splits: Accuracies, items: Mapping[str, int], run_claims: Mapping[str, Any] | None) -> str:
    """The run's summary in words: the claim's halves (where the run measured them), then every
    split's accuracy for every strategy."""
    strategies = list(dict.fromkeys(strategy for accuracies in splits.values() for strategy in accuracies))
    lines = ["# The paper's claim in miniature", ""]
    if run_claims:
        lines += [f"* {claim['says']}" for claim in run_claims.values()] + [""]
    lines += [
        "| split | items | " + " | ".join(strategies) + " |",
        "|---|---:|" + "---:|" * len(strategies),
    ]
    for split, accuracies in splits.items():
        cells = [f"{accuracies[strategy]:.3f}" if strategy in accuracies else "-" for strategy in strategies]
        lines.append(f"| {split} | {items[split]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
