"""``python -m potcot``: the ``potcot`` command, where an environment's scripts are not on PATH."""

from potcot.cli import main

main()
