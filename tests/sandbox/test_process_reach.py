"""No program can name or act on any other process: not the server, not a template or its holder,
not the spare forked for the next user, not a sibling running another user's program. None shares
System V IPC with anyone. None starts from state that was written into its template. And the pool
believes nothing of a reply that it can check for itself.

Every attack runs with the real builtins (an escape through sympy) and with the in-process monitor
switched off, so that only the kernel layers stand in its way. Each is also run in a plain
interpreter of the same user, where nothing isolates, to show that it does what it claims.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import json
import os
import platform
import resource
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from potcot.sandbox import ExecutionResult, Sandbox, SandboxLimits, wire
from tests.sandbox.attacks import DISARM, MARK, escape, python

pytestmark = pytest.mark.isolation  # the sandbox's kernel confinement

LIMITS = SandboxLimits(timeout_s=5.0, memory_mb=512, max_output_chars=20_000)


@pytest.fixture(scope="module")
def pool() -> Iterator[Sandbox]:
    with Sandbox(max_workers=2, limits=LIMITS) as sandbox:
        yield sandbox


def attack(source: str, **values: object) -> str:
    """A sandboxed program that switches the monitor off, then runs ``source`` with full Python."""
    return escape(DISARM + python(source, **values))


def unsandboxed(source: str, **values: object) -> str:
    """What ``source`` prints run by a plain interpreter of the same user: nothing isolates it."""
    program = python(source, **values)
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def reported(result: ExecutionResult) -> dict:
    """The JSON an attack printed on its last line, once it ran to its end."""
    assert result.status == "ok" and MARK in result.stdout, result
    return json.loads(result.stdout.splitlines()[-2])


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def live_children(pid: int) -> list[int]:
    """The processes a template forked and has not reaped, but for those already dead."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            state, parent = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[:2]
        except OSError:
            continue
        if int(parent) == pid and state != "Z":
            found.append(int(entry))
    return found


# ---------------------------------------------------------------------------------------------
# 1. Naming another process: every call that takes a pid, and /proc


_IOPRIO_GET = {"x86_64": 252, "aarch64": 31}.get(platform.machine(), -1)
_REACH = r"""
import ctypes, json, os, resource, time
libc = ctypes.CDLL(None, use_errno=True)
probes = {
    'signal it': lambda pid: os.kill(pid, 0),
    'read its limits': lambda pid: resource.prlimit(pid, resource.RLIMIT_CPU),
    'read its nice value': lambda pid: os.getpriority(os.PRIO_PROCESS, pid),
    'read its scheduling policy': lambda pid: os.sched_getscheduler(pid),
    'read its CPU affinity': lambda pid: os.sched_getaffinity(pid),
    'read its I/O priority': lambda pid: libc.syscall($ioprio_get, 1, pid) >= 0,
    'read its CPU clock': lambda pid: time.clock_gettime(((~pid) << 3) | 2),
    'hold a pidfd of it': lambda pid: os.close(os.pidfd_open(pid)),
    'read its /proc entry': lambda pid: open('/proc/%d/stat' % pid).read(),
    'follow its /proc links': lambda pid: os.readlink('/proc/%d/cwd' % pid),
    'see it in /proc': lambda pid: os.stat('/proc/%d' % pid),
}
def attempt(probe, pid):
    try:
        return 'refused' if probe(pid) is False else 'done'
    except OSError:
        return 'refused'
seen = {role: {name: sorted({attempt(probe, pid) for pid in pids}) for name, probe in probes.items()}
        for role, pids in $targets.items()}
print(json.dumps(seen))
print($mark)
"""


def targets(pool: Sandbox, busy_template: int) -> dict[str, list[int]]:
    """Every process an attacker could want to reach, by role, as the host numbers them."""
    children = {template: live_children(template) for template in pool.worker_pids}
    return {
        "server": [os.getpid()],
        "templates": pool.worker_pids,
        "holders": [parent_of(template) for template in pool.worker_pids],
        "spares": [pid for template, pids in children.items() if template != busy_template for pid in pids],
        "siblings": children[busy_template],
    }


def test_no_program_can_name_another_process(pool: Sandbox) -> None:
    """While a sibling runs on the other worker, a program probes the server, every template, its
    holder, every spare and the sibling: each probe is refused."""
    with concurrent.futures.ThreadPoolExecutor(1) as executor:
        sibling = executor.submit(pool.run, "while True:\n    pass", 3.0)
        deadline = time.monotonic() + 2.5
        while not (busy := [pid for pid in pool.worker_pids if len(live_children(pid)) == 2]):
            assert time.monotonic() < deadline, "the sibling never started"
            time.sleep(0.01)
        roles = targets(pool, busy[0])
        result = pool.run(attack(_REACH, targets=roles, ioprio_get=_IOPRIO_GET))
        assert sibling.result().status == "timeout"
    assert all(roles.values()), roles
    seen = reported(result)
    assert len(seen["server"]) == 11
    assert seen == {role: {name: ["refused"] for name in seen["server"]} for role in roles}


def test_every_probe_reaches_its_target_without_isolation(pool: Sandbox) -> None:
    roles = {"server": [os.getpid()], "templates": pool.worker_pids}
    seen = json.loads(unsandboxed(_REACH, targets=roles, ioprio_get=_IOPRIO_GET).splitlines()[-2])
    assert seen == {role: {name: ["done"] for name in seen["server"]} for role in roles}


_HARM = r"""
import os, resource, signal
actions = {
    'its CPU limit set to nothing': lambda: resource.prlimit($victim, resource.RLIMIT_CPU, (0, 0)),
    'its descriptors limited to none': lambda: resource.prlimit($victim, resource.RLIMIT_NOFILE, (0, 0)),
    'reniced to 19': lambda: os.setpriority(os.PRIO_PROCESS, $victim, 19),
    'moved to SCHED_IDLE': lambda: os.sched_setscheduler($victim, os.SCHED_IDLE, os.sched_param(0)),
    'pinned to one CPU': lambda: os.sched_setaffinity($victim, {0}),
    'killed': lambda: os.kill($victim, signal.SIGKILL),
}
for name, action in actions.items():
    try:
        action()
        print(name, 'done')
    except OSError as error:
        print(name, 'refused', type(error).__name__)
print($mark)
"""


@pytest.fixture
def victim() -> Iterator[subprocess.Popen[bytes]]:
    """A process of the same user as the sandbox, as the server is."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


def test_no_program_can_harm_another_process(pool: Sandbox, victim: subprocess.Popen[bytes]) -> None:
    limits_before = resource.prlimit(victim.pid, resource.RLIMIT_NOFILE)
    result = pool.run(attack(_HARM, victim=victim.pid))
    assert result.status == "ok" and MARK in result.stdout, result
    assert " done" not in result.stdout, result.stdout
    assert victim.poll() is None
    assert resource.prlimit(victim.pid, resource.RLIMIT_NOFILE) == limits_before
    assert os.getpriority(os.PRIO_PROCESS, victim.pid) == 0
    assert os.sched_getscheduler(victim.pid) == os.SCHED_OTHER


def test_the_harm_is_real_without_isolation(victim: subprocess.Popen[bytes]) -> None:
    output = unsandboxed(_HARM, victim=victim.pid)
    assert "refused" not in output, output
    assert victim.wait(timeout=10) == -signal.SIGKILL


# ---------------------------------------------------------------------------------------------
# 2. System V IPC: nothing of the host's visible, nothing of a program's left behind

_IPC_PRIVATE, _IPC_CREAT, _IPC_RMID, _SHM_RDONLY = 0, 0o1000, 0, 0o10000
_libc = ctypes.CDLL(None, use_errno=True)
_libc.shmat.restype = ctypes.c_void_p

_SYSTEM_V = r"""
import ctypes, json
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
seen = {}
address = libc.shmat($segment, None, 0o10000)
attached = address not in (None, 2**64 - 1)
seen['read the host segment'] = ctypes.string_at(address, 64).split(b'\0')[0].decode() if attached else None
seen['made a segment'] = libc.shmget(0, 1 << 20, 0o1600)
seen['made a queue'] = libc.msgget(0, 0o1600)
seen['made a semaphore'] = libc.semget(0, 1, 0o1600)
print(json.dumps(seen))
print($mark)
"""


def system_v_objects() -> set[str]:
    """The identifiers of every System V object in the host's IPC namespace."""
    return {
        f"{kind}:{line.split()[1]}"
        for kind in ("shm", "msg", "sem")
        for line in Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
    }


@pytest.fixture
def host_segment() -> Iterator[tuple[int, str]]:
    """A shared-memory segment of the server's user, 0600, holding a secret."""
    secret = "potcot-ipc-" + secrets.token_hex(8)
    segment = _libc.shmget(_IPC_PRIVATE, 4096, _IPC_CREAT | 0o600)
    assert segment >= 0
    address = _libc.shmat(segment, None, 0)
    ctypes.memmove(address, secret.encode(), len(secret))
    _libc.shmdt(ctypes.c_void_p(address))
    yield segment, secret
    _libc.shmctl(segment, _IPC_RMID, None)


def remove_system_v_objects(identifiers: set[str]) -> None:
    for identifier in identifiers:
        kind, number = identifier.split(":")
        {"shm": _libc.shmctl, "msg": _libc.msgctl, "sem": _libc.semctl}[kind](int(number), _IPC_RMID, None)


def test_no_program_sees_or_leaves_system_v_objects(pool: Sandbox, host_segment: tuple[int, str]) -> None:
    segment, _ = host_segment
    before = system_v_objects()
    seen = reported(pool.run(attack(_SYSTEM_V, segment=segment)))
    assert seen == {"read the host segment": None, "made a segment": -1, "made a queue": -1, "made a semaphore": -1}
    assert system_v_objects() == before


def test_system_v_objects_are_shared_and_outlive_their_program_without_isolation(
    host_segment: tuple[int, str],
) -> None:
    segment, secret = host_segment
    before = system_v_objects()
    seen = json.loads(unsandboxed(_SYSTEM_V, segment=segment).splitlines()[-2])
    left_behind = system_v_objects() - before
    remove_system_v_objects(left_behind)
    assert seen["read the host segment"] == secret
    assert len(left_behind) == 3


def namespace(pid: int, kind: str) -> str:
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def test_each_process_is_alone_in_its_pid_and_ipc_namespaces(pool: Sandbox) -> None:
    """Read from outside: every spare's PID and IPC namespaces are its own, shared with no other
    process of the pool, nor with the server."""
    pool.run_many(["print(1)", "import sympy\nprint(sympy.Integer(2))"] * 4)
    spares = [pid for template in pool.worker_pids for pid in live_children(template)]
    others = [os.getpid(), *pool.worker_pids]
    assert len(spares) == len(pool.worker_pids)
    for kind in ("pid", "ipc"):
        theirs = [namespace(pid, kind) for pid in spares]
        assert len(set(theirs)) == len(spares)
        assert set(theirs).isdisjoint(namespace(pid, kind) for pid in others)


# ---------------------------------------------------------------------------------------------
# 3. State written into a template never reaches a program

_STATE = r"""
import json, os, resource
print(json.dumps({'open files': resource.getrlimit(resource.RLIMIT_NOFILE), 'CPUs': sorted(os.sched_getaffinity(0))}))
print($mark)
"""


def process_state(pid: int) -> dict[str, object]:
    return {
        "nice": os.getpriority(os.PRIO_PROCESS, pid),
        "policy": os.sched_getscheduler(pid),
        "CPUs": sorted(os.sched_getaffinity(pid)),
        "open files": list(resource.prlimit(pid, resource.RLIMIT_NOFILE)),
    }


@pytest.fixture
def fresh_pool() -> Iterator[Sandbox]:
    """A pool of its own, since these tests change its templates."""
    with Sandbox(max_workers=1, limits=LIMITS) as sandbox:
        yield sandbox


def symbolic_template(pool: Sandbox) -> int:
    return next(pid for pid in pool.worker_pids if b"symbolic" in Path(f"/proc/{pid}/cmdline").read_bytes())


def spare_of(pool: Sandbox) -> int:
    """Run a program on the symbolic template, then return the spare it forked next, once that has
    confined itself (its own seccomp filter on top of the template's)."""
    assert pool.run(escape("pass")).ok
    (spare,) = live_children(symbolic_template(pool))
    deadline = time.monotonic() + 5
    while "Seccomp_filters:\t2" not in Path(f"/proc/{spare}/status").read_text():
        assert time.monotonic() < deadline, "the spare never confined itself"
        time.sleep(0.001)
    return spare


def test_state_written_into_a_template_is_undone_in_every_process(fresh_pool: Sandbox) -> None:
    """Lowered limits, a narrower CPU set and SCHED_BATCH, all of which a process may undo for itself:
    the template goes on, and its next spare and its next program start from the clean state."""
    clean = process_state(spare_of(fresh_pool))
    for template in fresh_pool.worker_pids:
        resource.prlimit(template, resource.RLIMIT_NOFILE, (20, resource.prlimit(template, resource.RLIMIT_NOFILE)[1]))
        os.sched_setaffinity(template, {0})
        os.sched_setscheduler(template, os.SCHED_BATCH, os.sched_param(0))
    template = symbolic_template(fresh_pool)
    assert process_state(spare_of(fresh_pool)) == clean
    assert reported(fresh_pool.run(attack(_STATE))) == {"open files": clean["open files"], "CPUs": clean["CPUs"]}
    assert symbolic_template(fresh_pool) == template


def test_a_template_whose_processes_cannot_be_made_clean_is_replaced(fresh_pool: Sandbox) -> None:
    """A nice value raised, a hard limit lowered or SCHED_IDLE: a process may not undo them, so the
    template's next process refuses to run a program, and the pool replaces the template and runs
    the program on the new one: within one program, with no program ever run in that state."""
    clean = process_state(spare_of(fresh_pool))
    for poison in (
        lambda pid: os.setpriority(os.PRIO_PROCESS, pid, 10),
        lambda pid: resource.prlimit(pid, resource.RLIMIT_NOFILE, (32, 32)),
        lambda pid: os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0)),
    ):
        template = symbolic_template(fresh_pool)
        poison(template)
        first = fresh_pool.run(attack(_STATE))  # its process was forked before the poison
        second = fresh_pool.run(attack(_STATE))  # forked after: refuses, and runs on a new template
        assert reported(first) == reported(second) == {"open files": clean["open files"], "CPUs": clean["CPUs"]}
        assert symbolic_template(fresh_pool) != template
        assert process_state(spare_of(fresh_pool)) == clean


_INHERITED = r"""
import json, os, resource
os.setpriority(os.PRIO_PROCESS, 0, 10)
resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))
read, write = os.pipe()
if os.fork() == 0:
    state = {'nice': os.getpriority(os.PRIO_PROCESS, 0), 'open files': resource.getrlimit(resource.RLIMIT_NOFILE)}
    os.write(write, json.dumps(state).encode())
    os._exit(0)
os.close(write)
print(os.read(read, 4096).decode())
"""


def test_a_fork_inherits_its_parents_state_without_isolation() -> None:
    assert json.loads(unsandboxed(_INHERITED)) == {"nice": 10, "open files": [32, 32]}


# ---------------------------------------------------------------------------------------------
# 4. A reply's checkable fields are checked

_FORGE = r"""
import os, stat, sys
wire = sys.modules['potcot.sandbox.wire']
frame = wire.encode_reply(wire.Reply(wire.Status.OK, $stdout, $value, $error))
for fd in range(3, 64):
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            os.write(fd, frame)
    except OSError:
        pass
os._exit(0)
"""
FORGED = {
    # what a forger claims -> (status, answer)
    "an error on an ok": (("forged 42\n", None, "forged error"), ("crashed", None)),
    "an answer that is not its output": (("41\n", "forged 42", None), ("crashed", None)),
    "a value beside blank output": ((" \n", "42", None), ("ok", "42")),
    "its own output": (("step\n43\n", None, None), ("ok", "43")),
}


@pytest.mark.parametrize(("claim", "expected"), FORGED.values(), ids=list(FORGED))
def test_a_forged_reply_gets_nothing_the_pool_can_check(
    pool: Sandbox, claim: tuple[str, str | None, str | None], expected: tuple[str, str | None]
) -> None:
    """A program that writes its own reply frame and exits: a reply that contradicts itself is no
    result, and what one that does not says is only what the program could have printed. The
    duration is always the pool's."""
    stdout, value, error = claim
    started = time.monotonic()
    result = pool.run(attack(_FORGE, stdout=stdout, value=value, error=error))
    elapsed = time.monotonic() - started
    assert (result.status, result.answer) == expected, result
    assert "forged" not in (result.error or "") and 0 < result.duration_s <= elapsed


def test_a_forged_frame_claims_what_it_says(capsys: pytest.CaptureFixture[str]) -> None:
    """The forger, run here against the real encoder: what it writes claims the forged fields."""
    read, write = os.pipe()
    source = python(_FORGE, stdout="forged 42\n", value=None, error="forged error").replace("os._exit(0)", "")
    try:
        exec(compile(source.replace("range(3, 64)", f"[{write}]"), "<forger>", "exec"), {})
        data = os.read(read, 4096)
    finally:
        os.close(read)
        os.close(write)
    assert b"forged 42\n" in data and b"forged error" in data
    with pytest.raises(wire.MalformedReply):
        wire.decode_reply(data, LIMITS)
