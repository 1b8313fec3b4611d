"""The OS layers on their own, with no RestrictedPython and no audit hook in the way: raw system
calls from a confined process must fail. Run in a child interpreter, since preparing a jail
changes the namespaces and credentials of the process that does it."""

import json
import shutil
import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent("""
    import json, os, socket, sys
    from potcot.sandbox.jail import Jail, ProcessLimits, library_paths

    jail = Jail.prepare(library_paths(["json"]))
    read_end, write_end = os.pipe()
    if os.fork() == 0:
        jail.enter({write_end}, ProcessLimits(address_space_bytes=2**32, cpu_seconds=10, open_files=64))
        outcomes = {}
        def attempt(name, action):
            try:
                action()
                outcomes[name] = "allowed"
            except OSError as error:
                outcomes[name] = "denied"
        attempt("read a stdlib module", lambda: open(json.__file__).read())
        attempt("read /etc/passwd", lambda: open("/etc/passwd").read())
        attempt("list /", lambda: os.listdir("/"))
        attempt("write a file", lambda: open(sys.argv[1], "w").write("x"))
        attempt("make a directory", lambda: os.mkdir(sys.argv[1] + ".d"))
        attempt("open a socket", lambda: socket.socket().connect(("127.0.0.1", 9)))
        attempt("fork", lambda: os.fork() == 0 and os._exit(0))
        attempt("exec", lambda: os.execv("/bin/true", ["true"]))
        attempt("signal the worker", lambda: os.kill(os.getppid(), 0))
        os.write(write_end, json.dumps({"report": jail.report.to_dict(), "outcomes": outcomes}).encode())
        os._exit(0)
    os.close(write_end)
    print(os.read(read_end, 65536).decode())
""")

DENIED = [
    "read /etc/passwd",
    "list /",
    "write a file",
    "make a directory",
    "open a socket",
    "fork",
    "exec",
    "signal the worker",
]


def probe(tmp_path, prefix: list[str]) -> dict:
    target = tmp_path / "written"
    completed = subprocess.run(
        [*prefix, sys.executable, "-c", PROBE, str(target)], capture_output=True, text=True, timeout=60, check=True
    )
    assert not target.exists()
    return json.loads(completed.stdout)


def test_kernel_layers_alone_contain_a_process(tmp_path) -> None:
    seen = probe(tmp_path, [])
    assert seen["outcomes"]["read a stdlib module"] == "allowed"
    assert {name: seen["outcomes"][name] for name in DENIED} == dict.fromkeys(DENIED, "denied")
    assert {"seccomp", "landlock", "namespaces", "rlimits"} <= set(seen["report"]["active"])


@pytest.mark.skipif(shutil.which("unshare") is None, reason="util-linux unshare is not installed")
def test_a_non_root_worker_gets_every_layer_the_kernel_allows(tmp_path) -> None:
    """In a user namespace of its own the probe runs as uid 1000, as in a deployment
    that runs potcot as an ordinary user."""
    seen = probe(tmp_path, ["unshare", "--user", "--map-user=1000", "--map-group=1000"])
    assert seen["report"]["active"]["unprivileged-user"] == "runs as uid 1000, not root"
    assert {name: seen["outcomes"][name] for name in DENIED} == dict.fromkeys(DENIED, "denied")
    assert {"seccomp", "landlock", "namespaces"} <= set(seen["report"]["active"])
