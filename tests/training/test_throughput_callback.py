"""The training callbacks: tokens/s counts only the time inside training steps; the time budget stops a run."""

import pytest
from transformers import TrainerControl, TrainerState, TrainingArguments

from potcot.training import sft
from potcot.training.sft import ThroughputCallback, TimeBudgetCallback


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
    callback = TimeBudgetCallback(minutes=1.0)
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
