"""Entry script of the frozen program: the same ``main`` as the ``energynet`` console script.

A frozen program has no Python interpreter of its own: ``sys.executable`` is this program. Code that starts
a helper as ``[sys.executable, "-m", "console", ...]`` or ``[sys.executable, "-I", "-S", "-c", CODE]`` (the
demo's simulators and its process watcher) would hand those interpreter options to the CLI, which rejects
them. So the frozen entry understands those two forms too: it drops the interpreter flags and runs the
console's ``main`` or the code, as the interpreter would have. Any other arguments go to ``main`` as given.
"""

from __future__ import annotations

import multiprocessing
import sys

# Interpreter flags that mean nothing in a frozen program (no site-packages, environment or bytecode to
# isolate): skipped in front of -m console / -c.
IGNORED_FLAGS = frozenset({"-I", "-S", "-E", "-s", "-u", "-B", "-q"})


def interpreter_form(argv: list[str]) -> tuple[str, list[str]]:
    """("main", cli args) for a plain or ``-m console`` call, ("code", [code, *args]) for ``-c``."""
    args = argv[1:]
    i = 0
    while i < len(args) and args[i] in IGNORED_FLAGS:
        i += 1
    if args[i:i + 2] == ["-m", "console"]:
        return "main", args[i + 2:]
    if args[i:i + 1] == ["-c"] and len(args) > i + 1:
        return "code", args[i + 1:]
    return "main", args


def run(argv: list[str]) -> int:
    # A multiprocessing "spawn" child (the report worker, console/services/report_process.py) starts this
    # executable with --multiprocessing-fork: freeze_support runs the child's task there and exits.
    multiprocessing.freeze_support()
    kind, args = interpreter_form(argv)
    if kind == "code":
        code, rest = args[0], args[1:]
        sys.argv = ["-c", *rest]
        exec(compile(code, "<string>", "exec"), {"__name__": "__main__"})
        return 0
    from console.cli import main

    return main(args)


if __name__ == "__main__":
    raise SystemExit(run(sys.argv))
