"""The peers benchmark's own pieces: the executors run programs as their peers do, CPU is counted
for the whole process tree, and the attack table covers every executor."""

import subprocess
import sys

from potcot.benchmarks.performance.sandbox_peers import (
    ATTACK_CLASSES,
    executors,
    measure_round,
    tree_cpu_seconds,
)

PROGRAMS = ["print(6 * 7)", "import numpy as np\nprint(int(np.arange(4).sum()))", "x = [1, 2]\nprint(sum(x))"]


def test_the_cpu_of_reaped_children_is_counted() -> None:
    before = tree_cpu_seconds()
    subprocess.run([sys.executable, "-c", "sum(range(3_000_000))"], check=True)
    assert tree_cpu_seconds() - before > 0.01


def test_the_peers_print_what_cpython_prints() -> None:
    """Bubblewrap's among them wherever ``bwrap`` is installed (CI's machines have it), with the
    interpreter bound over its empty /tmp, where a clone and its environment may live."""
    chosen = {name: factory for name, factory in executors(workers=1).items() if name != "potcot"}
    figures, outputs = measure_round(chosen, PROGRAMS * 2, workers=1)
    assert all(printed == ["42\n", "6\n", "3\n"] * 2 for printed in outputs.values()), outputs
    assert all(figure["programs_per_s"] > 0 and figure["cpu_ms"] > 0 for figure in figures.values())


def test_every_attack_class_names_every_executor() -> None:
    assert all(len(stopped) == 4 and stopped[0] for _, stopped in ATTACK_CLASSES.values())
