"""The grader: ``verify``'s pure verdicts, and a pool of worker processes for the comparisons that
need sympy. Callable from any thread, and from a plain script with no ``__main__`` guard."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from types import TracebackType

from potcot.answers.pool import ComparisonPool
from potcot.answers.verify import Grading, cheap_verdict


class Grader:
    """Grades answers; owns the worker processes for symbolic comparisons. Thread-safe."""

    def __init__(self, grading: Grading = Grading.STRICT, workers: int | None = None) -> None:
        self.grading = grading
        self._pool = ComparisonPool(workers or os.cpu_count() or 1)

    def match(self, prediction: str | None, reference: str, choices: Sequence[str] | None = None) -> bool:
        """Whether ``prediction`` is a right answer to a question whose gold answer is ``reference``
        (a letter, when ``choices`` are given)."""
        verdict = cheap_verdict(prediction, reference, choices, self.grading)
        if verdict is not None:
            return verdict
        return self.match_symbolically((prediction or "").strip(), reference.strip())

    def match_symbolically(self, prediction: str, reference: str) -> bool:
        """Math-Verify's verdict, from a worker that is replaced if it takes too long."""
        return self._pool.compare(prediction, reference)

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> Grader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


@functools.cache
def _default_grader() -> Grader:
    return Grader()


def answers_match(prediction: str | None, reference: str, choices: Sequence[str] | None = None) -> bool:
    """Whether ``prediction`` is a right answer to a question whose gold answer is ``reference``
    (a letter, when ``choices`` are given). Strict grading, by a grader made on first use; callable
    from any thread and from a plain script."""
    return _default_grader().match(prediction, reference, choices)
