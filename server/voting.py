"""Self-consistency's tally: answers grouped by equivalence (``0.5`` and ``\\frac{1}{2}`` are one
answer), counted, and the test for stopping early, when no draw still to come can change the
winner. Pure: the solver draws the samples, this only counts them."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

# Whether two answers are the same answer; the grader's equivalence, not string equality.
Equivalence = Callable[[str, str], bool]


@dataclasses.dataclass(frozen=True, slots=True)
class Vote:
    answer: str  # the group's first answer, as it was written
    count: int


class Tally:
    """The votes so far. Ties go to the answer seen first, so a vote is reproducible."""

    def __init__(self, equivalent: Equivalence) -> None:
        self._equivalent = equivalent
        self._groups: list[list[str]] = []

    def add(self, answer: str) -> None:
        for group in self._groups:
            if self._equivalent(answer, group[0]):
                group.append(answer)
                return
        self._groups.append([answer])

    @property
    def votes(self) -> tuple[Vote, ...]:
        """Most votes first; among equals, the answer seen first."""
        counted = [Vote(group[0], len(group)) for group in self._groups]
        return tuple(sorted(counted, key=lambda vote: -vote.count))

    @property
    def total(self) -> int:
        return sum(len(group) for group in self._groups)

    def decided(self, votes_to_come: int) -> bool:
        """Whether the leader stays ahead however the ``votes_to_come`` fall."""
        votes = self.votes
        if not votes:
            return False
        runner_up = votes[1].count if len(votes) > 1 else 0
        return votes[0].count > runner_up + votes_to_come
