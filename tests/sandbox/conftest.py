from collections.abc import Iterator

import pytest

from sandbox import Sandbox, SandboxLimits

LIMITS = SandboxLimits(timeout_s=3.0, memory_mb=512, max_output_chars=10_000)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(max_workers=2, limits=LIMITS) as pool:
        yield pool


@pytest.fixture
def healthy(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The sandbox, checked after the test to still run an ordinary program correctly."""
    yield sandbox
    for _ in range(sandbox.max_workers * 2):
        after = sandbox.run("print(6 * 7)")
        assert (after.status, after.answer) == ("ok", "42"), after
