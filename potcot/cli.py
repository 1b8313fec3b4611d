"""The ``potcot`` command: a table of commands, each defined by the package it belongs to and
imported only when it runs, as vLLM's ``entrypoints/cli`` and TRL's ``cli/commands`` do. So
``potcot serve`` loads neither the benchmarks nor the training code, and an install with only an
engine extra runs ``serve``, ``solve`` and ``sandbox``; a command whose extra is missing says
which one to install. It is the only module that reaches every package, so a command that needs
another package's function (``potcot train miniature`` benchmarks its model with the evaluation
suite, which the training does not import) is given it here, imported when it is first called."""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from pydantic_settings import CliApp, CliSettingsSource

PROG = "potcot"


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    """One command: what it does, where its settings class is, the extra its code needs, and what
    it is given from other packages: a setting's name and ``module:function``."""

    summary: str
    module: str
    name: str
    extra: str | None = None
    joins: Mapping[str, str] = dataclasses.field(default_factory=dict)


COMMANDS: Mapping[str, Entry] = MappingProxyType(
    {
        "serve": Entry("serve a math model over HTTP: POST /solve and an OpenAI-compatible API",
                       "potcot.server.web.commands", "ServeCommand"),
        "solve": Entry("solve one question, in this process or through a server (--url)",
                       "potcot.server.web.commands", "SolveCommand"),
        "fleet": Entry("fleet up: vLLM replicas behind vllm-router with potcot in front, on this machine",
                       "potcot.server.web.commands", "FleetCommand"),
        "bench": Entry("run and grade the MAmmoTH evaluation suite; bench compare: beside the paper's figures",
                       "potcot.benchmarks.commands", "BenchCommand", "bench"),
        "data": Entry("curate training data: fetch, gsm8k-pot, filter, tir, mix, miniature",
                      "potcot.training.commands", "DataCommand", "bench"),
        "train": Entry("supervised fine-tuning from a YAML config; train grpo: reinforcement learning; "
                       "train merge: merge a LoRA adapter",
                       "potcot.training.commands", "TrainCommand", "train",
                       {"benchmark": "potcot.benchmarks.local:run_solves"}),
        "sandbox": Entry("run one program in the sandbox and print its result as JSON",
                         "potcot.sandbox.commands", "SandboxCommand"),
    }
)  # fmt: skip


def usage(commands: Mapping[str, Entry] = COMMANDS) -> str:
    width = max(map(len, commands))
    lines = [f"  {name:<{width}}  {entry.summary}" for name, entry in commands.items()]
    return "\n".join(
        [
            f"usage: {PROG} COMMAND [FLAGS]   ({PROG} COMMAND --help: the command's flags)",
            "",
            "Math reasoning models served with hybrid program-of-thought / chain-of-thought decoding.",
            "",
            "commands:",
            *lines,
        ]
    )


def run(name: str, entry: Entry, args: Sequence[str]) -> None:
    """Import the command's module, parse its flags and variables, and run it. A module of the
    command's extra that is not installed is a clear error, not a traceback."""
    try:
        command = getattr(importlib.import_module(entry.module), entry.name)
        source: CliSettingsSource[Any] = CliSettingsSource(command, cli_prog_name=f"{PROG} {name}")
        joined: dict[str, Any] = {setting: _joined(target) for setting, target in entry.joins.items()}
        CliApp.run(command, cli_args=list(args), cli_settings_source=source, **joined)
    except ModuleNotFoundError as error:
        if entry.extra is None or (error.name or "potcot").partition(".")[0] == "potcot":
            raise
        raise SystemExit(
            f"{PROG} {name} needs the '{entry.extra}' extra ({error}): pip install '{PROG}[{entry.extra}]'"
        ) from None
    except ValidationError as error:
        problems = "; ".join(_problem(problem) for problem in error.errors())
        raise SystemExit(f"{PROG}: invalid arguments: {problems}") from None


def _joined(target: str) -> Callable[..., Any]:
    """``module:function``, imported when it is first called: a command that does not call it (``potcot
    train`` with a config) does not load its package, nor need that package's extra."""
    module, _, function = target.partition(":")

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), function)(*args, **kwargs)

    return call


def _problem(problem: ErrorDetails) -> str:
    """``timeout: Input should be greater than 0``; a check of several fields has no location."""
    where = ".".join(map(str, problem["loc"]))
    message = problem["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def _stop_as_ctrl_c(signum: int, frame: object) -> None:
    """SIGTERM (docker stop, systemd, timeout) stops a command as Ctrl-C does, so what it started
    goes down with it: Python's default exits at once and leaves vLLM's engine process running,
    orphaned, with the model in memory. ``potcot serve`` drains first (uvicorn's own handler)."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        raise SystemExit(0 if args else 2)
    entry = COMMANDS.get(args[0])
    if entry is None:
        raise SystemExit(f"{PROG}: no command {args[0]!r}; the commands are {', '.join(COMMANDS)}")
    # Standard output is for results (JSON); vLLM logs to standard error like everything else.
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line for every request sent upstream
    signal.signal(signal.SIGTERM, _stop_as_ctrl_c)
    try:
        run(args[0], entry, args[1:])
    except KeyboardInterrupt:
        raise SystemExit(130) from None  # Ctrl-C: the shell's code for it, without a traceback
