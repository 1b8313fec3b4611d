"""The race benchmark's arithmetic: a question's kind is what its sequential solve did in that
round, and ratios are racing over sequential within one round."""

import pytest

from potcot.benchmarks.performance.hybrid_race import (
    Load,
    Measured,
    Solve,
    agreement,
    kind_of,
    load_ratios,
    ratios,
    summary,
)


def solves(round_: int, question: int, fell_back: bool, sequential: tuple[float, int], racing: tuple[float, int]):
    return [
        Solve(round_, question, "sequential", sequential[0], sequential[1], fell_back, "7"),
        # Racing never falls back where the program answers, but its kind is the sequential one's.
        Solve(round_, question, "racing", racing[0], racing[1], not fell_back, "7"),
    ]


ROUND_0 = [*solves(0, 0, True, (10.0, 200), (6.0, 200)), *solves(0, 1, False, (4.0, 80), (5.0, 120))]
ROUND_1 = [*solves(1, 0, True, (12.0, 200), (6.0, 200)), *solves(1, 1, False, (4.0, 80), (4.0, 100))]


def test_the_kind_is_the_sequential_solves() -> None:
    racing = next(solve for solve in ROUND_0 if solve.mode == "racing" and solve.question == 1)
    assert kind_of(ROUND_0, racing) == "program answers"


@pytest.mark.parametrize(
    ("kind", "mode", "expected"),
    [("falls back", "racing", (6.0, 6.0, 200)), ("program answers", "sequential", (4.0, 4.0, 80))],
)
def test_summary_of_one_kind_one_way(kind: str, mode: str, expected: tuple[float, float, float]) -> None:
    assert summary(ROUND_0, kind, mode) == expected


def test_ratios_are_taken_within_each_round() -> None:
    assert ratios(ROUND_0 + ROUND_1, "falls back") == [(0.6, 1.0), (0.5, 1.0)]
    assert ratios(ROUND_0 + ROUND_1, "program answers") == [(1.25, 1.5), (1.0, 1.25)]


LOADS = [
    Load(0, "sequential", 0.5, ["7", "7", "7", "7"]),
    Load(0, "racing", 0.6, ["7", "8", "7", "7"]),
    Load(1, "racing", 0.8, ["7", "7", "7", "7"]),
    Load(1, "sequential", 0.4, ["7", "7", "7", "7"]),
]


def test_load_ratios_pair_the_ways_of_each_round_in_any_order() -> None:
    assert load_ratios(LOADS) == pytest.approx([1.2, 2.0])


def test_agreement_compares_each_copy_with_its_question_alone() -> None:
    line = agreement(Measured(ROUND_0 + ROUND_1, LOADS))
    assert line.startswith("same answer as the sequential solve alone: racing alone 4 of 4; ")
    assert "racing at once (round 0) 3 of 4" in line and "sequential at once (round 1) 4 of 4" in line
