from collections.abc import Iterator

import pytest

from potcot.sandbox import Sandbox


@pytest.fixture
def healthy(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The sandbox, checked after the test to still run an ordinary program correctly."""
    yield sandbox
    for _ in range(sandbox.max_workers * 2):
        after = sandbox.run("print(6 * 7)")
        assert (after.status, after.answer) == ("ok", "42"), after
