"""The training callbacks: tokens/s counts only the time inside training steps; the time budget
stops a run, and its learning-rate schedule ends when the budget does."""

import pytest
import torch
from torch.optim.lr_scheduler import LambdaLR
from transformers import TrainerControl, TrainerState, TrainingArguments, get_scheduler

from potcot.training import sft
from potcot.training.sft import ThroughputCallback, TimeBudget, TimeBudgetCallback, fit_schedule_to_budget


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(sft.time, "monotonic", fake)
    return fake


def hook_args() -> tuple[TrainingArguments, TrainerState, TrainerControl]:
    return TrainingArguments(output_dir="unused", report_to="none"), TrainerState(), TrainerControl()


def run_step(callback: ThroughputCallback, clock: FakeClock, seconds: float) -> None:
    callback.on_step_begin(*hook_args())
    clock.now += seconds
    callback.on_step_end(*hook_args())


def log(callback: ThroughputCallback, logs: dict[str, float]) -> dict[str, float]:
    callback.on_log(*hook_args(), logs=logs)
    return logs


def test_evaluation_between_log_lines_does_not_count(clock: FakeClock) -> None:
    callback = ThroughputCallback()
    run_step(callback, clock, 2.0)
    assert "tokens_per_second" not in log(callback, {"loss": 1.0, "num_tokens": 1000})
    clock.now += 300.0  # an evaluation and a checkpoint save
    run_step(callback, clock, 2.0)
    run_step(callback, clock, 3.0)
    assert log(callback, {"loss": 0.9, "num_tokens": 3000})["tokens_per_second"] == 400.0


def test_log_lines_without_a_token_count_are_left_alone(clock: FakeClock) -> None:
    callback = ThroughputCallback()
    run_step(callback, clock, 1.0)
    assert log(callback, {"eval_loss": 0.9}) == {"eval_loss": 0.9}


def test_the_time_budget_stops_training_after_the_step_that_spends_it(clock: FakeClock) -> None:
    callback = TimeBudgetCallback(TimeBudget(minutes=1.0))
    args, state, control = hook_args()
    for _ in range(2):
        callback.on_step_begin(args, state, control)
        clock.now += 25.0
        callback.on_step_end(args, state, control)
        assert not control.should_training_stop
    callback.on_step_begin(args, state, control)
    clock.now += 25.0
    callback.on_step_end(args, state, control)
    assert control.should_training_stop


def test_the_budget_counts_from_the_first_step(clock: FakeClock) -> None:
    budget = TimeBudget(minutes=2.0)
    clock.now = 500.0
    assert budget.spent == 0.0
    budget.start()
    clock.now += 30.0
    budget.start()  # every step begins with it; only the first counts
    clock.now += 30.0
    assert budget.spent == 0.5


def cosine(total_steps: int) -> LambdaLR:
    """A cosine schedule from 1.0, with 10 warm-up steps, as the Trainer makes it."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    return get_scheduler("cosine", optimizer, num_warmup_steps=10, num_training_steps=total_steps)


@pytest.mark.parametrize(
    ("step", "spent", "as_at_step"),
    [
        (0, 0.0, 0),  # nothing spent: the schedule as it is
        (5, 0.01, 5),  # warming up, steps ahead of the minutes
        (60, 0.3, 60),  # a fast machine: the steps lead, and the budget changes nothing
        (30, 0.5, 50),  # a slow machine: half the minutes gone at step 30, the rate of step 50
        (70, 0.99, 99),
        (80, 1.0, 100),  # the budget spent: the schedule's end, however few steps ran
        (80, 1.7, 100),
    ],
)
def test_the_schedule_follows_whichever_is_further_along(
    clock: FakeClock, step: int, spent: float, as_at_step: int
) -> None:
    budget = TimeBudget(minutes=1.0)
    fitted = fit_schedule_to_budget(cosine(100), budget, total_steps=100)
    budget.start()
    clock.now += spent * 60
    reference = cosine(100)
    assert fitted.lr_lambdas[0](step) == pytest.approx(reference.lr_lambdas[0](as_at_step))


def test_a_fitted_schedule_sets_the_optimizer_rate_each_step(clock: FakeClock) -> None:
    budget = TimeBudget(minutes=1.0)
    fitted = fit_schedule_to_budget(cosine(100), budget, total_steps=100)
    budget.start()
    rates = []
    for _ in range(20):
        clock.now += 3.0  # 20 steps spend the whole minute
        fitted.optimizer.step()
        fitted.step()
        rates.append(fitted.get_last_lr()[0])
    assert rates[9] == pytest.approx(cosine(100).lr_lambdas[0](50))  # half the minutes: the rate of step 50
    assert rates[-1] == pytest.approx(0.0)
    assert rates[0] < rates[1] == 1.0  # warming up: 3 s are 5 of 100 steps, 6 s all 10 warm-up steps
    assert rates[1:] == sorted(rates[1:], reverse=True)
