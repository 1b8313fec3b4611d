"""The template process's own footprint: what it loads and how its memory is laid out decide what
every fork of it costs. Run in child interpreters, as a template runs."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Loaded only by the pool: a template that held them would copy them into every program's process.
POOL_ONLY = ("potcot.sandbox.pool", "asyncio", "concurrent.futures", "subprocess", "logging", "queue")


def run_python(code: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-I", "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120, check=True
    )
    return completed.stdout.strip()


def test_the_template_loads_nothing_only_the_pool_needs() -> None:
    loaded = run_python(f"""
        import sys
        import potcot.sandbox.template
        print(sorted(set({POOL_ONLY!r}) & set(sys.modules)))
    """)
    assert loaded == "[]"


def test_the_package_still_offers_the_pool() -> None:
    names = run_python("""
        from potcot.sandbox import Sandbox, SandboxError
        print(Sandbox.__module__, SandboxError.__module__)
    """)
    assert names == "potcot.sandbox.pool potcot.sandbox.pool"


def test_the_package_refuses_names_it_does_not_have() -> None:
    import potcot.sandbox

    with pytest.raises(AttributeError, match="no attribute 'Pool'"):
        _ = potcot.sandbox.Pool  # type: ignore[attr-defined]


COLLAPSE = """
    import sys
    from potcot.sandbox.template import collapse_into_huge_pages
    data = bytearray(range(256)) * (32 * 2**20 // 256)
    collapsed = collapse_into_huge_pages()
    with open("/proc/self/smaps_rollup") as rollup:
        huge = next(int(line.split()[1]) for line in rollup if line.startswith("AnonHugePages:"))
    print(collapsed, huge * 1024, data == bytearray(range(256)) * (32 * 2**20 // 256))
"""


def kernel_collapses() -> bool:
    """``MADV_COLLAPSE`` came with Linux 6.1, and does nothing where huge pages are switched off."""
    major, minor = (int(part) for part in Path("/proc/sys/kernel/osrelease").read_text().split(".")[:2])
    setting = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    return (major, minor) >= (6, 1) and setting.exists() and "[never]" not in setting.read_text()


def test_huge_pages_keep_the_memory_as_it_was() -> None:
    collapsed, huge, intact = run_python(COLLAPSE).split()
    assert intact == "True"
    assert int(collapsed) % (2 * 2**20) == 0
    if kernel_collapses():
        assert int(collapsed) >= 16 * 2**20  # most of the 32 MiB written above
        assert int(huge) >= 16 * 2**20
    else:
        assert int(collapsed) == 0
