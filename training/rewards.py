"""GRPO's rewards: each completion judged as potcot serves and benchmarks it, so that what training
rewards is what ``/solve`` and ``potcot bench`` count as right.

* ``pot``: the program of thought's answer. The program is the one the solver extracts, run in the
  same ``Sandbox`` as serving (one batch for all of a step's programs, ``run_many``), its printed
  answer read as the solver reads it (``program_answer``) and graded by potcot's ``Grader`` against
  the reference, as the benchmarks grade: 1 when right, 0 otherwise.
* ``cot``: the chain of thought's stated answer (its ``\\boxed{}`` or "The answer is", strictly: a
  text that only ends with some number states nothing), graded the same way.
* ``tir``: a tool-integrated rollout's final answer: the rounds ran through the sandbox as the
  ``tir`` strategy serves them (``training.rollouts``), and the last round's boxed or stated answer
  is graded. A rollout whose last round still asked for a code block's output has no answer.
* ``format``: whether the completion has the shape its rationale asks for (a program; a stated
  answer), kept small by its weight: it rewards the form, never the answer.

A reward function is TRL's: ``(prompts, completions, **columns) -> list[float | None]``, the columns
being the dataset's (``answer``, ``choices``, ``rationale``). Each rationale's function scores only
the completions of its rationale and gives None for the others, which TRL leaves out of that
function's sum and mean. The judgements themselves are small pure functions (``judge_program``,
``judge_chain_of_thought``, ``judge_tool_integrated``, ``well_formed``) with a table of cases each in
``tests/training/test_rewards.py``.

Each function also reports, through TRL's ``log_metric``, the accuracy of its rationale and (for
programs and tool calls) the share of each sandbox outcome in the step, and counts every outcome of
the run in a ``RewardLedger`` for the run's summary.
"""

from __future__ import annotations

import abc
import collections
import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from potcot.answers import Grader, chain_of_thought_answer, extract_program, program_answer
from potcot.answers.parse import last_python_block
from potcot.sandbox import ExecutionResult, Sandbox
from potcot.server.prompts import TIR_OUTPUT_FENCE, Rationale
from potcot.server.solver import NO_ANSWER, NO_PROGRAM, NOT_AN_OPTION, ROUNDS_EXHAUSTED

RIGHT = "right"
WRONG_ANSWER = "wrong_answer"
# The reward of a right answer, and of anything else.
CORRECT, INCORRECT = 1.0, 0.0
# The format term's default weight: small beside an answer's 1.
FORMAT_WEIGHT = 0.1

Completion = str | Sequence[Mapping[str, Any]]  # TRL's standard text, or conversational messages
LogMetric = Callable[[str, float], None]


@dataclasses.dataclass(frozen=True, slots=True)
class Verdict:
    """How one completion ended: ``right``, ``wrong_answer``, or why it has no answer (a sandbox
    status such as ``runtime_error``, or ``no_program``, ``no_answer``, ``not_an_option``,
    ``rounds_exhausted``), and the answer read from it."""

    outcome: str
    answer: str | None = None

    @property
    def correct(self) -> bool:
        return self.outcome == RIGHT

    @property
    def reward(self) -> float:
        return CORRECT if self.correct else INCORRECT


def text_of(completion: Completion) -> str:
    """A completion's text: TRL passes plain text, or the assistant's messages of a chat."""
    if isinstance(completion, str):
        return completion
    return "".join(str(message.get("content") or "") for message in completion)


def graded(answer: str | None, reference: str, choices: Sequence[str] | None, grader: Grader) -> Verdict:
    """``right`` or ``wrong_answer`` for an answer, as ``potcot bench`` grades it."""
    return Verdict(RIGHT if grader.match(answer, reference, choices or None) else WRONG_ANSWER, answer)


def judge_program(
    program: str | None,
    execution: ExecutionResult | None,
    reference: str,
    choices: Sequence[str] | None,
    grader: Grader,
) -> Verdict:
    """A program of thought judged from its run, as the solver reads it: the sandbox's status when
    it failed, ``no_answer`` when it printed nothing, ``not_an_option`` when its value is none of a
    question's options, else whether its answer is the reference."""
    if program is None or execution is None:
        return Verdict(NO_PROGRAM)
    if not execution.ok:
        return Verdict(execution.status.value)
    if execution.answer is None:
        return Verdict(NO_ANSWER)
    answer = program_answer(execution.answer, choices or None)
    if answer is None:
        return Verdict(NOT_AN_OPTION if choices else NO_ANSWER)
    return graded(answer, reference, choices, grader)


def judge_programs(
    completions: Sequence[str],
    references: Sequence[str],
    choices: Sequence[Sequence[str] | None],
    sandbox: Sandbox,
    grader: Grader,
    timeout_s: float | None = None,
) -> list[Verdict]:
    """Every completion's program run in one batch (``run_many`` keeps all sandbox workers busy),
    then judged."""
    programs = [extract_program(completion) for completion in completions]
    results = iter(sandbox.run_many([program for program in programs if program is not None], timeout=timeout_s))
    return [
        judge_program(program, next(results) if program is not None else None, reference, options, grader)
        for program, reference, options in zip(programs, references, choices, strict=True)
    ]


def judge_chain_of_thought(completion: str, reference: str, choices: Sequence[str] | None, grader: Grader) -> Verdict:
    """A chain of thought's stated answer (boxed, "The answer is", or an option letter it names),
    graded; ``no_answer`` when it states none."""
    answer = chain_of_thought_answer(completion, choices or None, lenient=False)
    return Verdict(NO_ANSWER) if answer is None else graded(answer, reference, choices, grader)


def final_round(completion: str) -> tuple[str, bool]:
    """The last round of a tool-integrated reply, and whether it still asks for a code block's
    output (the rounds ran out): the text after the last output block potcot wrote, the way the
    solver reads its last round."""
    *_, last = completion.split(TIR_OUTPUT_FENCE)
    if TIR_OUTPUT_FENCE in completion:
        # An output block's content and closing fence are potcot's; the round begins after them.
        _, closed, after = last.partition("\n```")
        last = after if closed else ""
    return last, (not last.strip()) and TIR_OUTPUT_FENCE in completion


def judge_tool_integrated(
    final_text: str, exhausted: bool, reference: str, choices: Sequence[str] | None, grader: Grader
) -> Verdict:
    """A tool-integrated rollout judged as the solver judges one: the last round's boxed or stated
    answer, none when the rounds ran out while it still asked for output."""
    if exhausted:
        return Verdict(ROUNDS_EXHAUSTED)
    return judge_chain_of_thought(final_text, reference, choices, grader)


def well_formed(completion: str, rationale: Rationale, choices: Sequence[str] | None = None) -> bool:
    """Whether a completion has its rationale's shape, right or wrong: a program the solver can
    extract; a chain of thought that states an answer; a tool-integrated reply that ran a code block
    and then states its answer."""
    if rationale is Rationale.POT:
        return extract_program(completion) is not None
    if rationale is Rationale.COT:
        return chain_of_thought_answer(completion, choices or None, lenient=False) is not None
    final, exhausted = final_round(completion)
    ran_code = TIR_OUTPUT_FENCE in completion and last_python_block(completion) is not None
    return ran_code and not exhausted and chain_of_thought_answer(final, choices or None, lenient=False) is not None


class RewardLedger:
    """Every outcome of a run, by rationale (``pot``: programs; ``tir``: rollouts; ``tir_calls``: the
    code blocks they ran), for the run's summary. Thread-safe."""

    def __init__(self) -> None:
        self._counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        self._lock = threading.Lock()

    def add(self, kind: str, outcomes: Sequence[str]) -> None:
        with self._lock:
            self._counts[kind].update(outcomes)

    def counts(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {kind: dict(sorted(counter.items())) for kind, counter in sorted(self._counts.items())}


def _log_shares(log_metric: LogMetric | None, prefix: str, outcomes: Sequence[str]) -> None:
    """The share of each outcome among a step's ``outcomes``, as TRL metrics ``prefix/outcome``."""
    if log_metric is None or not outcomes:
        return
    for outcome, count in collections.Counter(outcomes).items():
        log_metric(f"{prefix}/{outcome}", count / len(outcomes))


def _log_accuracy(log_metric: LogMetric | None, rationale: Rationale, verdicts: Sequence[Verdict]) -> None:
    if log_metric is not None and verdicts:
        log_metric(f"accuracy/{rationale.value}", sum(verdict.correct for verdict in verdicts) / len(verdicts))


def _rows_of(rationale: Rationale, rationales: Sequence[str] | None, count: int) -> list[int]:
    """The places of the completions that answer prompts of ``rationale`` (all, without the column)."""
    if rationales is None:
        return list(range(count))
    return [index for index, value in enumerate(rationales) if value == rationale.value]


def _scattered(places: list[int], values: list[float], count: int) -> list[float | None]:
    rewards: list[float | None] = [None] * count
    for place, value in zip(places, values, strict=True):
        rewards[place] = value
    return rewards


class RationaleReward(abc.ABC):
    """One rationale's reward in TRL's form: the completions of its rationale judged (``judge``),
    the others None; every verdict counted in the ledger and the rationale's accuracy logged."""

    rationale: ClassVar[Rationale]

    def __init__(self, grader: Grader, ledger: RewardLedger | None = None) -> None:
        self.__name__ = self.rationale.value
        self.grader = grader
        self.ledger = ledger or RewardLedger()

    def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Completion],
        answer: Sequence[str],
        rationale: Sequence[str] | None = None,
        choices: Sequence[Sequence[str] | None] | None = None,
        log_metric: LogMetric | None = None,
        **columns: Any,
    ) -> list[float | None]:
        places = _rows_of(self.rationale, rationale, len(completions))
        options = choices or [None] * len(completions)
        verdicts = self.judge(
            [text_of(completions[place]) for place in places],
            [answer[place] for place in places],
            [options[place] for place in places],
        )
        self.ledger.add(self.rationale.value, [verdict.outcome for verdict in verdicts])
        _log_accuracy(log_metric, self.rationale, verdicts)
        self.observe(places, verdicts, columns, log_metric)
        return _scattered(places, [verdict.reward for verdict in verdicts], len(completions))

    @abc.abstractmethod
    def judge(
        self, texts: Sequence[str], answers: Sequence[str], options: Sequence[Sequence[str] | None]
    ) -> list[Verdict]: ...

    def observe(  # noqa: B027 - a hook: a rationale that ran no programs logs nothing more
        self, places: Sequence[int], verdicts: Sequence[Verdict], columns: Mapping[str, Any], log: LogMetric | None
    ) -> None:
        """What a rationale logs beyond its accuracy: its programs' outcomes, where it ran some."""


class ProgramReward(RationaleReward):
    """The ``pot`` reward: programs run in ``sandbox`` (owned by whoever made it), graded by ``grader``."""

    rationale = Rationale.POT

    def __init__(
        self, sandbox: Sandbox, grader: Grader, timeout_s: float | None = None, ledger: RewardLedger | None = None
    ) -> None:
        super().__init__(grader, ledger)
        self.sandbox, self.timeout_s = sandbox, timeout_s

    def judge(
        self, texts: Sequence[str], answers: Sequence[str], options: Sequence[Sequence[str] | None]
    ) -> list[Verdict]:
        return judge_programs(texts, answers, options, self.sandbox, self.grader, self.timeout_s)

    def observe(
        self, places: Sequence[int], verdicts: Sequence[Verdict], columns: Mapping[str, Any], log: LogMetric | None
    ) -> None:
        _log_shares(log, "sandbox/pot", [verdict.outcome for verdict in verdicts])


class ChainOfThoughtReward(RationaleReward):
    """The ``cot`` reward: the stated answer, graded by ``grader``."""

    rationale = Rationale.COT

    def judge(
        self, texts: Sequence[str], answers: Sequence[str], options: Sequence[Sequence[str] | None]
    ) -> list[Verdict]:
        return [
            judge_chain_of_thought(text, reference, choices, self.grader)
            for text, reference, choices in zip(texts, answers, options, strict=True)
        ]


class ToolIntegratedReward(RationaleReward):
    """The ``tir`` reward: a rollout's final answer, graded by ``grader``. The rollout
    (``training.rollouts``) passes the sandbox statuses of the code blocks it ran as the
    ``tool_outcomes`` column; without it (a completion judged on its own) the final round is read
    from the text."""

    rationale = Rationale.TIR

    def judge(
        self, texts: Sequence[str], answers: Sequence[str], options: Sequence[Sequence[str] | None]
    ) -> list[Verdict]:
        verdicts = []
        for text, reference, choices in zip(texts, answers, options, strict=True):
            final, exhausted = final_round(text)
            verdicts.append(judge_tool_integrated(final, exhausted, reference, choices, self.grader))
        return verdicts

    def observe(
        self, places: Sequence[int], verdicts: Sequence[Verdict], columns: Mapping[str, Any], log: LogMetric | None
    ) -> None:
        tool_outcomes: Sequence[Sequence[str]] | None = columns.get("tool_outcomes")
        calls = [outcome for place in places for outcome in (tool_outcomes[place] if tool_outcomes else ())]
        self.ledger.add("tir_calls", calls)
        _log_shares(log, "sandbox/tir", calls)


def format_reward(
    prompts: Sequence[Any],
    completions: Sequence[Completion],
    rationale: Sequence[str] | None = None,
    choices: Sequence[Sequence[str] | None] | None = None,
    **_: Any,
) -> list[float | None]:
    """The ``format`` reward: 1 for a completion of its rationale's shape, 0 otherwise (a program of
    thought without the ``rationale`` column)."""
    rationales = rationale or [Rationale.POT.value] * len(completions)
    options = choices or [None] * len(completions)
    return [
        CORRECT if well_formed(text_of(completion), Rationale(kind), choices_of) else INCORRECT
        for completion, kind, choices_of in zip(completions, rationales, options, strict=True)
    ]


format_reward.__name__ = "format"
