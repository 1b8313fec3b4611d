"""Prometheus metrics, in a registry owned by one app (tests build many apps in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from potcot.sandbox import Sandbox
from potcot.server.solver import Solution, Strategy

_SANDBOX_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "potcot_requests",
            "HTTP requests, by endpoint and status code",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.requests_in_flight = Gauge(
            "potcot_requests_in_flight", "Requests being served now", registry=self.registry
        )
        self.solves = Counter(
            "potcot_solves",
            "Solves, by requested strategy and outcome (the rationale that answered, or unanswered)",
            ["strategy", "outcome"],
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "potcot_fallbacks",
            "Hybrid solves that fell back to chain of thought, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.sandbox_run_seconds = Histogram(
            "potcot_sandbox_run_seconds",
            "Time to run a generated program, by how it ended",
            ["status"],
            buckets=_SANDBOX_BUCKETS,
            registry=self.registry,
        )
        self.sandbox_programs_waiting = Gauge(
            "potcot_sandbox_programs_waiting",
            "Generated programs waiting for a free sandbox worker: past a few, add potcot replicas",
            registry=self.registry,
        )
        self.prompt_tokens = Counter("potcot_prompt_tokens", "Prompt tokens processed", registry=self.registry)
        self.generated_tokens = Counter("potcot_generated_tokens", "Tokens generated", registry=self.registry)

    def watch_sandbox(self, sandbox: Sandbox) -> None:
        self.sandbox_programs_waiting.set_function(lambda: sandbox.programs_waiting)

    def record_solution(self, solution: Solution, requested: Strategy) -> None:
        self.solves.labels(requested.value, solution.answered_by.value if solution.answered_by else "unanswered").inc()
        if solution.fallback_reason:
            self.fallbacks.labels(solution.fallback_reason).inc()
        for attempt in solution.attempts:
            if attempt.execution is not None:
                self.sandbox_run_seconds.labels(attempt.execution.status.value).observe(attempt.execution.duration_s)
        self.record_tokens(solution.prompt_tokens, solution.completion_tokens)

    def record_tokens(self, prompt_tokens: int, completion_tokens: int) -> None:
        self.prompt_tokens.inc(prompt_tokens)
        self.generated_tokens.inc(completion_tokens)

    def render(self) -> bytes:
        return generate_latest(self.registry)
