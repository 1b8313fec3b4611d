"""The OS layers on their own, with no RestrictedPython and no audit hook in the way: raw system
calls from a confined process must fail. Run in a child interpreter, since preparing a jail
changes the namespaces and credentials of the process that does it."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.isolation  # the sandbox's kernel confinement

PROBE = textwrap.dedent("""
    import ctypes, json, os, resource, socket, sys, time
    from potcot.sandbox.jail import Jail, ProcessLimits, TemplateIsolation, library_paths

    outside = int(sys.argv[2])  # a process of the host's: the test's own
    confined = sys.argv[3] == "confined"
    if confined:
        jail = Jail.prepare(TemplateIsolation.begin(library_paths(["json"])))
        jail.seal()
    read_end, write_end = os.pipe()
    if (jail.fork() if confined else os.fork()) == 0:
        if confined:
            jail.enter({write_end}, ProcessLimits(address_space_bytes=2**33, cpu_seconds=10, open_files=64))
        libc = ctypes.CDLL(None, use_errno=True)
        outcomes = {}
        def attempt(name, action):
            try:
                outcomes[name] = "allowed" if action() is not False else "denied"
            except OSError as error:
                outcomes[name] = "denied"
        def created(make, remove):
            identifier = make()
            return identifier >= 0 and remove(identifier, 0, None) == 0  # IPC_RMID
        attempt("read a stdlib module", lambda: open(json.__file__).read())
        attempt("read /etc/passwd", lambda: open("/etc/passwd").read())
        attempt("list /", lambda: os.listdir("/"))
        attempt("read /proc of another process", lambda: open(f"/proc/{outside}/stat").read())
        attempt("follow a link in another process's /proc", lambda: os.readlink(f"/proc/{outside}/cwd"))
        attempt("see another process in /proc", lambda: os.stat(f"/proc/{outside}"))
        attempt("write a file", lambda: open(sys.argv[1], "w").write("x"))
        attempt("make a directory", lambda: os.mkdir(sys.argv[1] + ".d"))
        attempt("open a socket", lambda: socket.socket().close())
        if confined:  # unconfined, these would end the probe
            attempt("fork", lambda: os.fork() == 0 and os._exit(0))
            attempt("exec", lambda: os.execv("/bin/true", ["true"]))
        attempt("signal another process", lambda: os.kill(outside, 0))
        attempt("signal its process group", lambda: os.kill(0, 0))
        attempt("limit another process", lambda: resource.prlimit(outside, resource.RLIMIT_CPU))
        attempt("renice another process", lambda: os.getpriority(os.PRIO_PROCESS, outside))
        attempt("reschedule another process", lambda: os.sched_getaffinity(outside))
        attempt("time another process", lambda: time.clock_gettime(((~outside) << 3) | 2))
        # key IPC_PRIVATE, flags IPC_CREAT | 0600
        attempt("System V shared memory", lambda: created(lambda: libc.shmget(0, 4096, 0o1600), libc.shmctl))
        attempt("System V message queue", lambda: created(lambda: libc.msgget(0, 0o1600), libc.msgctl))
        attempt("a call off the list", lambda: os.getsid(0))
        attempt("its own limits", lambda: resource.getrlimit(resource.RLIMIT_NOFILE))
        attempt("its own CPU clock", lambda: time.clock_gettime(time.CLOCK_PROCESS_CPUTIME_ID))
        report = {"report": jail.report.to_dict() if confined else None, "outcomes": outcomes, "pid": os.getpid()}
        os.write(write_end, json.dumps(report).encode())
        os._exit(0)
    os.close(write_end)
    print(os.read(read_end, 65536).decode())
""")

# What a container runtime's default seccomp profile does to a process without CAP_SYS_ADMIN: no
# namespaces. Then exec the command given.
WITHOUT_NAMESPACES = textwrap.dedent("""
    import errno, os, sys
    import pyseccomp
    rules = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    for name in ("unshare", "setns"):
        rules.add_rule(pyseccomp.ERRNO(errno.EPERM), name)
    rules.load()
    os.execv(sys.argv[1], sys.argv[1:])
""")

ALLOWED = ["read a stdlib module", "its own limits", "its own CPU clock"]
DENIED = [
    "read /etc/passwd",
    "list /",
    "read /proc of another process",
    "follow a link in another process's /proc",
    "write a file",
    "make a directory",
    "open a socket",
    "fork",
    "exec",
    "signal another process",
    "signal its process group",
    "limit another process",
    "renice another process",
    "reschedule another process",
    "time another process",
    "System V shared memory",
    "System V message queue",
    "a call off the list",
]


def probe(tmp_path: Path, prefix: list[str], mode: str = "confined") -> dict:
    target = tmp_path / "written"
    completed = subprocess.run(
        [*prefix, sys.executable, "-c", PROBE, str(target), str(os.getpid()), mode],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert target.exists() == (mode == "unconfined")
    return json.loads(completed.stdout)


def test_every_denied_action_works_without_the_layers(tmp_path: Path) -> None:
    """The same probe in a plain forked process: what the layers deny is real."""
    seen = probe(tmp_path, [], "unconfined")
    possible = [name for name in DENIED if name not in ("fork", "exec", "a call off the list")]
    possible.append("see another process in /proc")
    assert {name: seen["outcomes"][name] for name in possible} == dict.fromkeys(possible, "allowed")


def test_kernel_layers_alone_contain_a_process(tmp_path: Path) -> None:
    seen = probe(tmp_path, [])
    assert {name: seen["outcomes"][name] for name in ALLOWED} == dict.fromkeys(ALLOWED, "allowed")
    assert {name: seen["outcomes"][name] for name in DENIED} == dict.fromkeys(DENIED, "denied")
    active = set(seen["report"]["active"])
    assert {"seccomp", "landlock", "namespaces", "process-namespaces", "rlimits", "clean-state"} <= active
    assert seen["outcomes"]["see another process in /proc"] == "denied"  # an empty /proc over the host's
    assert seen["pid"] == 1  # alone in its PID namespace


def test_without_namespaces_the_other_layers_still_contain_a_process(tmp_path: Path) -> None:
    """Where the host refuses namespaces, the process is no longer alone in its PID namespace, yet
    every call that names another process still acts only on the caller itself, or not at all."""
    seen = probe(tmp_path, [sys.executable, "-c", WITHOUT_NAMESPACES])
    assert {name: seen["outcomes"][name] for name in DENIED} == dict.fromkeys(DENIED, "denied")
    assert {"namespaces", "process-namespaces"} <= set(seen["report"]["missing"])
    assert seen["outcomes"]["see another process in /proc"] == "allowed"  # what remains: Landlock opens nothing
    assert seen["pid"] != 1


@pytest.mark.skipif(shutil.which("unshare") is None, reason="util-linux unshare is not installed")
def test_a_non_root_worker_gets_every_layer_the_kernel_allows(tmp_path: Path) -> None:
    """In a user namespace of its own the probe runs as uid 1000, as in a deployment
    that runs potcot as an ordinary user."""
    seen = probe(tmp_path, ["unshare", "--user", "--map-user=1000", "--map-group=1000"])
    assert seen["report"]["active"]["unprivileged-user"] == "runs as uid 1000, not root"
    assert {name: seen["outcomes"][name] for name in DENIED} == dict.fromkeys(DENIED, "denied")
    assert {"seccomp", "landlock", "namespaces", "process-namespaces"} <= set(seen["report"]["active"])
    assert seen["pid"] == 1
