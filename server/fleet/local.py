"""The fleet's topology on one machine: ``replicas`` vLLM OpenAI servers, vllm-router in front of
them, and potcot in front of the router (``--engine openai --upstream ROUTER``). It is what
``deploy/`` runs on Kubernetes, brought up locally to try it (``potcot fleet up``), for the tests,
and for the fleet benchmark.

The router routes (``cache_aware`` by default: one question's prompts, and every round of a
tool-integrated solve, share their beginning, so they land where vLLM's prefix cache already holds
it), checks the replicas' health, retries and breaks circuits; potcot only keeps the rule that a
generation that broke off is begun again from nothing (``engines.openai_engine``).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
from pathlib import Path
from types import TracebackType

from potcot.server.fleet.processes import ServerProcess, free_port, potcot_serve, vllm_router, vllm_serve

ROUTING_POLICY = "cache_aware"
# vLLM on CPU: no graph compilation (minutes on 2 cores), cache blocks of 32 tokens rather than
# the CPU default of 128, so that the prefix cache can share a short prompt's beginning, and no
# chunked prefill, which kills a CPU engine serving a seeded request (server/engines/vllm_engine.py).
CPU_ENGINE_FLAGS = ("--enforce-eager", "--block-size", "32", "--no-enable-chunked-prefill")
# With a modest share of memory, so that several replicas fit beside each other.
CPU_REPLICA_FLAGS = (*CPU_ENGINE_FLAGS, "--gpu-memory-utilization", "0.2")
# The router's own checks, quick enough that a replica killed or restarted is noticed within
# seconds: a replica's circuit opens after two failed requests, so the router's retries go
# elsewhere, and is tried again after five seconds, so a restarted replica rejoins.
ROUTER_FLAGS = (
    "--health-check-interval-secs", "2",
    "--health-failure-threshold", "2",
    "--health-success-threshold", "1",
    "--cb-failure-threshold", "2",
    "--cb-timeout-duration-secs", "5",
    "--retry-max-retries", "4",
    "--worker-startup-timeout-secs", "900",
)  # fmt: skip


@dataclasses.dataclass(frozen=True, slots=True)
class FleetSpec:
    """What to bring up: the model every replica serves, how many, and where potcot listens."""

    model: str
    served_model_name: str
    log_dir: Path
    replicas: int = 2
    port: int | None = None  # potcot's; None: a free one
    policy: str = ROUTING_POLICY
    max_model_len: int = 2048
    replica_flags: tuple[str, ...] = CPU_REPLICA_FLAGS
    potcot_flags: tuple[str, ...] = ()


class Fleet:
    """A running fleet: ``with Fleet(spec) as fleet:`` starts it, and stops every process after."""

    def __init__(self, spec: FleetSpec) -> None:
        if spec.replicas < 1:
            raise ValueError(f"a fleet needs at least one replica, got {spec.replicas}")
        self.spec = spec
        self.replica_ports = [free_port() for _ in range(spec.replicas)]
        self.router_port = free_port()
        self.port = spec.port or free_port()
        self.replicas: list[ServerProcess | None] = [None] * spec.replicas
        self.router: ServerProcess | None = None
        self.potcot: ServerProcess | None = None

    @property
    def url(self) -> str:
        """potcot's: where clients send /solve and the OpenAI API."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def router_url(self) -> str:
        return f"http://127.0.0.1:{self.router_port}"

    @property
    def replica_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.replica_ports]

    def up(self) -> Fleet:
        """Replicas first, all at once; the router once they answer; potcot once it does."""
        self.spec.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            with concurrent.futures.ThreadPoolExecutor(self.spec.replicas) as starting:
                list(starting.map(self.start_replica, range(self.spec.replicas)))
            router_flags = ("--policy", self.spec.policy, *ROUTER_FLAGS)
            router = vllm_router(self.router_port, self.replica_urls, *router_flags)
            self.router = ServerProcess(router, self.router_port, self._log("router")).wait_until_healthy()
            upstream = ("--engine", "openai", "--upstream", self.router_url, "--upstream-health-path", "/readiness")
            front = potcot_serve(self.port, *upstream, *self.spec.potcot_flags)
            self.potcot = ServerProcess(front, self.port, self._log("potcot")).wait_until_healthy()
        except BaseException:
            self.down()
            raise
        return self

    def start_replica(self, index: int) -> ServerProcess:
        """Start replica ``index`` on its own port (again, after ``kill_replica``) and wait for it."""
        port = self.replica_ports[index]
        flags = (
            "--served-model-name", self.spec.served_model_name,
            "--max-model-len", str(self.spec.max_model_len),
            *self.spec.replica_flags,
        )  # fmt: skip
        replica = ServerProcess(vllm_serve(port, self.spec.model, *flags), port, self._log(f"replica-{index}"))
        self.replicas[index] = replica
        return replica.wait_until_healthy()

    def kill_replica(self, index: int) -> None:
        """SIGKILL, as a machine that dies: no draining, connections cut mid-stream."""
        replica = self.replicas[index]
        if replica is not None:
            replica.kill()

    def down(self) -> None:
        """Front to back, so that nothing is left sending to a process already gone."""
        for process in [self.potcot, self.router, *self.replicas]:
            if process is not None:
                process.stop()

    def _log(self, name: str) -> Path:
        return self.spec.log_dir / f"{name}.log"

    def __enter__(self) -> Fleet:
        return self if self.potcot is not None else self.up()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.down()
