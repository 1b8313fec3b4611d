"""The ``potcot`` command as a composer: each command imported only when it runs, a missing extra
named, settings by concern (solve and bench take no HTTP settings and read only deliberate
variables), lower-case choices, and a clean exit on Ctrl-C and on SIGTERM."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic_settings import CliApp

from potcot.benchmarks.commands import BenchCommand
from potcot.benchmarks.performance.front_door_load import stub_command
from potcot.server.fleet.processes import ServerProcess, free_port, potcot_serve
from potcot.server.settings import DEFAULT_MAX_TOKENS
from potcot.server.web.commands import SolveCommand
from potcot.server.web.settings import ServerSettings

POTCOT = str(Path(sys.executable).with_name("potcot"))
MINIATURE = Path(__file__).parent / "fixtures" / "miniature"


def potcot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([POTCOT, *args], capture_output=True, text=True, timeout=120)


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_help_lists_every_command() -> None:
    completed = potcot("--help")
    assert completed.returncode == 0
    for name in ("serve", "solve", "bench", "data", "train", "sandbox"):
        assert f"\n  {name} " in completed.stdout


def test_python_dash_m_potcot_is_the_command() -> None:
    completed = subprocess.run([sys.executable, "-m", "potcot", "--help"], capture_output=True, text=True, timeout=120)
    assert (completed.returncode, completed.stdout) == (0, potcot("--help").stdout)


def test_an_unknown_command_is_a_clear_error() -> None:
    completed = potcot("srve")
    assert completed.returncode != 0
    assert "no command 'srve'" in completed.stderr and "Traceback" not in completed.stderr


def test_serve_help_imports_neither_the_benchmarks_nor_the_training_nor_the_engine() -> None:
    probe = (
        "import contextlib, sys\n"
        "from potcot.cli import main\n"
        "with contextlib.redirect_stdout(sys.stderr), contextlib.suppress(SystemExit):\n"
        "    main(['serve', '--help'])\n"
        "print(sorted(m for m in sys.modules if m.startswith(('potcot.benchmarks', 'potcot.training', 'vllm'))))\n"
    )
    completed = run_python(probe)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"
    assert "--max-generations-in-flight" in completed.stderr


def test_train_miniature_is_given_the_benchmark_which_is_imported_only_when_called(tmp_path: Path) -> None:
    """The miniature benchmarks its model with the evaluation suite, which the training does not
    import: the command gives it to ``potcot train``, and loads it only when the run calls it (here
    the run stops before, at a checkpoint that is not one)."""
    args = ["train", "miniature", "--out", str(tmp_path / "run"), "--checkpoint", str(tmp_path)]
    probe = (
        "import sys\n"
        "from potcot.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit as stop:\n"
        "    print(stop, file=sys.stderr)\n"
        "print(sorted(m for m in sys.modules if m.startswith('potcot.benchmarks')))\n"
    )
    completed = run_python(probe)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"
    assert "is not a miniature checkpoint" in completed.stderr  # not "no benchmark was given"


# Makes ``tqdm``, a dependency of the bench extra only, unimportable, as an install without it would.
_WITHOUT_TQDM = """
import sys
class NoTqdm:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tqdm":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NoTqdm())
from potcot.cli import main
main(["bench", "--url", "http://127.0.0.1:9", "--datasets", "gsm8k"])
"""


def test_a_missing_extra_is_named() -> None:
    completed = run_python(_WITHOUT_TQDM)
    assert completed.returncode != 0
    assert "potcot bench needs the 'bench' extra" in completed.stderr
    assert "pip install 'potcot[bench]'" in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize("command", ["solve", "bench"])
def test_solve_and_bench_show_no_http_settings_and_lower_case_choices(command: str) -> None:
    completed = potcot(command, "--help")
    assert completed.returncode == 0, completed.stderr
    assert "--port" not in completed.stdout and "--max-generations-in-flight" not in completed.stdout
    assert "{hybrid,pot,cot,tir,vote}" in completed.stdout and "{auto,alpaca,chat}" in completed.stdout
    assert "--max-tokens" in completed.stdout and "HYBRID" not in completed.stdout


def test_commands_read_only_deliberate_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"URL": "http://elsewhere", "SEED": "7", "LIMIT": "3", "CONCURRENCY": "2"}.items():
        monkeypatch.setenv(f"POTCOT_{name}", value)
    monkeypatch.setenv("POTCOT_MAX_TOKENS", "99")
    monkeypatch.setenv("POTCOT_API_KEY", "k1,k2")
    monkeypatch.setenv("POTCOT_SANDBOX_WORKERS", "2")
    solve = SolveCommand(_cli_parse_args=["What is 2 plus 2?"])
    assert (solve.url, solve.seed) == (None, None)
    assert (solve.max_tokens, solve.sandbox_workers, solve.auth_headers()) == (99, 2, {"Authorization": "Bearer k1"})
    bench = BenchCommand(_cli_parse_args=["--seed", "1"])
    assert (bench.url, bench.limit, bench.concurrency, bench.seed, bench.max_tokens) == (None, None, None, 1, 99)


def test_a_solve_budget_is_sent_to_a_server_only_when_asked_for() -> None:
    assert BenchCommand(_cli_parse_args=["--url", "http://x"])._config().solve.max_tokens is None
    assert BenchCommand(_cli_parse_args=["--url", "http://x", "--max-tokens", "48"])._config().solve.max_tokens == 48


@pytest.mark.parametrize(
    ("flags", "sent"),
    [
        ((), {}),
        (("--strategy", "hybrid"), {"strategy": "hybrid"}),
        (("--max-tokens", "48"), {"max_tokens": 48}),
        (("--race",), {"race": True}),
        (("--no-race",), {"race": False}),
    ],
)
def test_a_solve_sends_the_servers_settings_only_when_asked_for(
    flags: tuple[str, ...], sent: dict[str, object]
) -> None:
    body = SolveCommand(_cli_parse_args=["q", "--url", "http://x", *flags]).solve_request().body()
    assert body == {"question": "q", **sent}


def test_each_default_once() -> None:
    assert ServerSettings().max_tokens == SolveCommand(_cli_parse_args=["q"]).max_tokens == DEFAULT_MAX_TOKENS


def test_the_renamed_budget_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POTCOT_DEFAULT_MAX_TOKENS", "512")
    completed = potcot("solve", "q", "--url", "http://127.0.0.1:9")
    assert completed.returncode != 0
    assert "POTCOT_DEFAULT_MAX_TOKENS is now POTCOT_MAX_TOKENS" in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize(
    ("flags", "variables", "capacity"),
    [
        ([], {}, 256),
        (["--max-generations-in-flight", "9"], {}, 9),
        (["--max-concurrent-requests", "7"], {}, 7),
        ([], {"POTCOT_MAX_CONCURRENT_REQUESTS": "5"}, 5),
        (["--max-generations-in-flight", "7", "--max-concurrent-requests", "7"], {}, 7),
    ],
)
def test_the_capacity_is_read_by_its_old_name_too(
    flags: list[str], variables: dict[str, str], capacity: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert CliApp.run(ServerSettings, cli_args=flags).max_generations_in_flight == capacity


def test_the_capacity_by_both_names_must_agree() -> None:
    with pytest.raises(ValidationError, match="old name of --max-generations-in-flight"):
        ServerSettings(max_generations_in_flight=8, max_concurrent_requests=4)


def test_solve_through_a_server_then_ctrl_c_stops_it_cleanly(tmp_path: Path) -> None:
    stub_port, port = free_port(), free_port()
    with ServerProcess(stub_command(stub_port, 0.0), stub_port, tmp_path / "stub.log") as stub:
        stub.wait_until_healthy(60)
        flags = ("--engine", "openai", "--upstream", stub.url, "--sandbox-workers", "1")
        with ServerProcess(potcot_serve(port, *flags), port, tmp_path / "potcot.log") as server:
            server.wait_until_healthy(120)
            solved = potcot("solve", "What is 2 plus 2?", "--url", server.url, "--strategy", "cot")
            assert solved.returncode == 0, solved.stderr
            assert json.loads(solved.stdout)["requested_strategy"] == "cot"
            server.process.send_signal(signal.SIGINT)
            returncode = server.process.wait(60)
    log = (tmp_path / "potcot.log").read_text()
    assert returncode == 0, log
    assert "Traceback" not in log and "KeyboardInterrupt" not in log


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name: state, parent, ...; none once gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return []


def children(pid: int) -> set[int]:
    """What a process started itself (its parent is ``pid``)."""
    pids = (int(path.name) for path in Path("/proc").iterdir() if path.name.isdigit())
    return {child for child in pids if _stat(child)[1:2] == [str(pid)]}


def running(pid: int) -> bool:
    return _stat(pid)[:1] not in ([], ["Z"])


def wait_for(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


@pytest.mark.engine
def test_sigterm_takes_down_the_engine_a_command_started(tmp_path: Path) -> None:
    """docker stop, systemd and timeout send SIGTERM: a bench in progress stops as on Ctrl-C, and
    vLLM's engine process and the sandbox's templates go with it rather than live on orphaned."""
    question = {"id": "q", "question": "Amara buys 4 tickets at $10 each. How much does she pay?", "answer": "40"}
    dataset = tmp_path / "questions.jsonl"
    dataset.write_text("".join(json.dumps({**question, "id": f"q{n}"}) + "\n" for n in range(2000)))
    log = tmp_path / "bench.log"
    flags = ("--prompt-style", "alpaca", "--max-model-len", "512", "--strategy", "vote", "--out", str(tmp_path / "out"))
    with log.open("w") as stderr:
        bench = subprocess.Popen([POTCOT, "bench", "--model", str(MINIATURE), "--datasets", str(dataset), *flags],
                                 stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)  # fmt: skip
        try:
            assert wait_for(lambda: "accuracy=" in log.read_text(), 300), log.read_text()[-3000:]
            started = children(bench.pid)
            assert any(b"EngineCore" in Path(f"/proc/{pid}/cmdline").read_bytes() for pid in started)
            bench.send_signal(signal.SIGTERM)
            assert bench.wait(120) == 130, log.read_text()[-3000:]
            assert wait_for(lambda: not any(map(running, started)), 30), [pid for pid in started if running(pid)]
        finally:  # only after the checks: a failed one leaves neither the bench nor its engine behind
            with contextlib.suppress(ProcessLookupError):
                os.killpg(bench.pid, signal.SIGKILL)
            bench.wait()
    assert "Traceback" not in log.read_text()
