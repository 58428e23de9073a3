"""Run every ``benchmarks/bench_*.py`` module's ``main()`` in turn (``make bench``).

Modules run in name order, each with a clean ``sys.argv`` so it uses its own defaults. One that
cannot be imported because an optional dependency is missing (pymongo for
``bench_mongo_commands.py``, say) is skipped with a note; an expected benchmark that is not
there yet is noted too. A benchmark that fails is reported and the others still run; the exit
status is 1 if any failed. Benchmarks print figures; nothing is asserted.

Run it with ``.venv/bin/python benchmarks/run_all.py [--only SUBSTRING]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
#: Benchmarks other modules promise; a note is printed while one is missing.
EXPECTED = ("bench_core.py", "bench_memory.py", "bench_mongo_commands.py", "bench_sweeps.py")


def discover(directory: Path = HERE) -> list[Path]:
    """The ``bench_*.py`` files of ``directory``, in name order."""
    return sorted(directory.glob("bench_*.py"))


@contextmanager
def _isolated(path: Path) -> Iterator[None]:
    """Run with ``sys.argv = [path]`` and the benchmark's directory importable, then restore."""
    argv, sys_path = sys.argv[:], sys.path[:]
    previous = sys.modules.get(path.stem)
    sys.argv = [str(path)]
    sys.path.insert(0, str(path.parent))
    try:
        yield
    finally:
        sys.argv, sys.path[:] = argv, sys_path
        if previous is None:
            sys.modules.pop(path.stem, None)
        else:
            sys.modules[path.stem] = previous


def load(path: Path) -> ModuleType:
    """Import ``path`` as the module named after its file, registered in ``sys.modules``.

    (Registered because dataclasses, pickling and ``typing.get_type_hints`` look the module up
    there; :func:`_isolated` removes it again.)
    """
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def _missing_dependency(exc: ImportError) -> bool:
    """An optional third-party module is absent (not a broken import of this project)."""
    name = exc.name if isinstance(exc, ModuleNotFoundError) else None
    return name is not None and name.split(".")[0] != "compute_pricing"


def _outcome_of_error(path: Path, exc: Exception, stage: str) -> str:
    """``skipped`` for a missing optional dependency, else print the traceback: ``failed``."""
    if isinstance(exc, ImportError) and _missing_dependency(exc):
        print(f"-- {path.name}: skipped, a dependency is missing ({exc})")
        return "skipped"
    print(f"-- {path.name}: failed {stage}")
    traceback.print_exception(exc, file=sys.stdout)
    return "failed"


def run_one(path: Path) -> str:
    """Import and run one benchmark: ``"ok"``, ``"skipped"`` or ``"failed"``."""
    with _isolated(path):
        try:
            module = load(path)
        except Exception as exc:  # a broken benchmark must not stop the others
            return _outcome_of_error(path, exc, "to import")
        main = getattr(module, "main", None)
        if not callable(main):
            print(f"-- {path.name}: skipped, it has no main()")
            return "skipped"
        entry: Callable[[], object] = main
        started = time.perf_counter()
        try:
            status = entry()
        except Exception as exc:  # includes an optional dependency imported inside main()
            return _outcome_of_error(path, exc, "while running")
        elapsed = time.perf_counter() - started
        if isinstance(status, int) and not isinstance(status, bool) and status != 0:
            print(f"-- {path.name}: failed, main() returned {status} ({elapsed:.1f} s)")
            return "failed"
        print(f"-- {path.name}: done in {elapsed:.1f} s")
        return "ok"


def main(argv: list[str] | None = None, directory: Path = HERE) -> int:
    """Run the benchmarks of ``directory``; ``1`` if any failed, else ``0``."""
    parser = argparse.ArgumentParser(description="Run every benchmarks/bench_*.py main().")
    parser.add_argument("--only", default="", help="run only files whose name contains this")
    args = parser.parse_args(argv)
    paths = [p for p in discover(directory) if args.only in p.name]
    present = {p.name for p in discover(directory)}
    for name in EXPECTED:
        if name not in present and args.only in name:
            print(f"-- {name}: skipped, not present in {directory.name}/")
    results: dict[str, str] = {}
    for path in paths:
        print(f"\n>> {path.name}")
        sys.stdout.flush()
        results[path.name] = run_one(path)
    summary = ", ".join(f"{name} {status}" for name, status in results.items())
    print(f"\nbenchmarks: {summary or 'none found'}")
    return 1 if "failed" in results.values() else 0


if __name__ == "__main__":
    sys.exit(main())
