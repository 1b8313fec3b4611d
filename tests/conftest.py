"""Fixtures shared by the whole suite."""

from collections.abc import Iterator

import pytest

from sandbox import Sandbox, SandboxLimits

SANDBOX_LIMITS = SandboxLimits(timeout_s=3.0, memory_mb=512, max_output_chars=10_000)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(max_workers=2, limits=SANDBOX_LIMITS) as pool:
        yield pool


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
