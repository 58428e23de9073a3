"""Run a mongoeco MongoDB wire-protocol server for tests that use real pymongo.

``mongoeco`` (https://pypi.org/project/mongoeco/) is a pure-Python MongoDB
server, but it needs Python >= 3.13 while the test suite runs on 3.11.  This
module therefore:

* builds a dedicated virtualenv ``<root>/.venv-mongoeco`` with a Python 3.13
  interpreter and the pinned ``mongoeco[wire]`` (:func:`ensure_mongoeco_venv`);
* starts ``tests/support/mongoeco_server.py`` in that interpreter as a child process
  and yields a ``mongodb://`` URI for pymongo (:func:`mongoeco_server`).

Typical fixture::

    python = ensure_mongoeco_venv(REPO_ROOT)
    with mongoeco_server(python, Path(__file__).resolve().parent / "mongoeco_server.py") as uri:
        client = pymongo.MongoClient(uri, tz_aware=True)

A missing Python 3.13 is an error (:class:`RuntimeError`), never a skip, so a
machine that cannot run the wire tests fails loudly instead of passing silently.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from tests.support.child_servers import check, run, stop, wait_ready

MONGOECO_VERSION = "4.11.0"
"""The mongoeco release the wire tests are pinned to."""

MONGOECO_REQUIREMENT = f"mongoeco[wire]=={MONGOECO_VERSION}"
"""pip requirement; the ``wire`` extra brings pymongo's ``bson`` into the server venv."""

PYTHON313_ENV_VAR = "COMPUTE_PRICING_PYTHON313"
"""Environment variable naming an explicit Python >= 3.13 interpreter."""

VENV_DIR_NAME = ".venv-mongoeco"
PYENV_GLOB = "/root/.pyenv/versions/3.13*/bin/python3.13"
READY_TIMEOUT_SECONDS = 30.0
PIP_TIMEOUT_SECONDS = 900.0
_PROBE_TIMEOUT_SECONDS = 30.0
_VERSION_SCRIPT = "import sys; print('%d.%d' % sys.version_info[:2]); print(sys.executable)"
_INSTALLED_SCRIPT = (
    "import importlib.metadata as m, importlib.util as u\n"
    "try:\n"
    "    v = m.version('mongoeco')\n"
    "except m.PackageNotFoundError:\n"
    "    v = ''\n"
    "print(v if u.find_spec('bson') is not None else '')\n"
)


def _python_version(candidate: str) -> tuple[tuple[int, int], Path] | None:
    """Return ``((major, minor), real executable)`` of a working interpreter, else None.

    Candidates that do not run (for instance a pyenv shim for a version that is
    not activated) yield None rather than an error.
    """
    try:
        result = run([candidate, "-c", _VERSION_SCRIPT], _PROBE_TIMEOUT_SECONDS)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = result.stdout.split()
    if result.returncode != 0 or len(lines) != 2:
        return None
    major, _, minor = lines[0].partition(".")
    return (int(major), int(minor)), Path(lines[1])


def _pyenv_sort_key(path: str) -> tuple[int, ...]:
    """Sort ``.../versions/3.13.2/bin/python3.13`` paths by their version numbers."""
    version = Path(path).parent.parent.name
    return tuple(int(part) for part in re.findall(r"\d+", version))


def find_python313() -> Path:
    """Locate a working Python >= 3.13 interpreter.

    Looks, in order, at the ``COMPUTE_PRICING_PYTHON313`` environment variable,
    ``python3.13`` on ``PATH`` and ``/root/.pyenv/versions/3.13*/bin/python3.13``
    (newest first).  Each candidate is actually run, so broken shims are skipped.

    Raises:
        RuntimeError: if the environment variable names an unusable interpreter,
            or if no Python >= 3.13 interpreter can be found.
    """
    explicit = os.environ.get(PYTHON313_ENV_VAR)
    if explicit:
        found = _python_version(explicit)
        if found is None or found[0] < (3, 13):
            raise RuntimeError(
                f"{PYTHON313_ENV_VAR}={explicit!r} is not a working Python >= 3.13 "
                f"interpreter (got {found[0] if found else 'no answer'})"
            )
        return found[1]
    candidates: list[str] = []
    on_path = shutil.which("python3.13")
    if on_path:
        candidates.append(on_path)
    candidates.extend(sorted(glob.glob(PYENV_GLOB), key=_pyenv_sort_key, reverse=True))
    for candidate in candidates:
        found = _python_version(candidate)
        if found is not None and found[0] >= (3, 13):
            return found[1]
    raise RuntimeError(
        "mongoeco wire tests need a Python >= 3.13 interpreter and none was found: "
        f"set {PYTHON313_ENV_VAR}, put a working python3.13 on PATH, or install one "
        f"matching {PYENV_GLOB} (tried: {candidates or 'nothing'})"
    )


def _installed_mongoeco(python: Path) -> str:
    """Return the mongoeco version importable by ``python`` ('' if absent or no bson)."""
    try:
        result = run([str(python), "-c", _INSTALLED_SCRIPT], _PROBE_TIMEOUT_SECONDS)
    except (OSError, subprocess.SubprocessError):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def ensure_mongoeco_venv(root: Path) -> Path:
    """Create ``root/.venv-mongoeco`` with the pinned mongoeco and return its python.

    The virtualenv is built with a Python >= 3.13 interpreter (see
    :func:`find_python313`) and ``mongoeco[wire]`` is pip-installed at
    :data:`MONGOECO_VERSION` unless that exact version is already there, so the
    second call is cheap.  Concurrent callers (e.g. pytest-xdist workers) are
    serialised with an flock on the venv directory.

    Raises:
        RuntimeError: if no Python >= 3.13 exists, or venv creation or pip fails.
    """
    venv = root / VENV_DIR_NAME
    python = venv / "bin" / "python"
    venv.mkdir(parents=True, exist_ok=True)
    # Lock the directory itself: `venv --clear` empties it but never removes it.
    lock = os.open(venv, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        working = _python_version(str(python))
        if working is not None and working[0] >= (3, 13):
            if _installed_mongoeco(python) == MONGOECO_VERSION:
                return python
        else:
            try:
                interpreter = find_python313()
            except RuntimeError:
                with contextlib.suppress(OSError):
                    venv.rmdir()  # only succeeds if we left it empty
                raise
            check(
                run(
                    [str(interpreter), "-m", "venv", "--clear", str(venv)],
                    PIP_TIMEOUT_SECONDS,
                ),
                f"creating {venv} with {interpreter}",
            )
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
        check(
            run([*pip, MONGOECO_REQUIREMENT], PIP_TIMEOUT_SECONDS),
            f"pip install {MONGOECO_REQUIREMENT} into {venv}",
        )
        installed = _installed_mongoeco(python)
        if installed != MONGOECO_VERSION:
            raise RuntimeError(
                f"{venv}: expected mongoeco {MONGOECO_VERSION} with bson after "
                f"install, found {installed or 'nothing'}"
            )
        return python
    finally:
        os.close(lock)  # closing the descriptor releases the flock


@contextlib.contextmanager
def mongoeco_server(
    python: Path,
    script: Path,
    *,
    timeout: float = READY_TIMEOUT_SECONDS,
    args: Sequence[str] = (),
) -> Iterator[str]:
    """Run ``script`` (``mongoeco_server.py``) under ``python`` and yield its URI.

    The server binds a free port on 127.0.0.1 with in-memory storage.  The URI
    has the form ``mongodb://127.0.0.1:<port>/?directConnection=true``.  ``args``
    are passed on to the script (e.g. ``["--engine", "sqlite"]``).  The
    process is terminated (SIGTERM, then SIGKILL after 10s) when the context
    exits, also on error.

    Raises:
        RuntimeError: if the server does not print ``READY <port>`` within
            ``timeout`` seconds; the message includes the server's stderr.
    """
    with mongoeco_server_process(python, script, timeout=timeout, args=args) as (uri, _):
        yield uri


@contextlib.contextmanager
def mongoeco_server_process(
    python: Path,
    script: Path,
    *,
    timeout: float = READY_TIMEOUT_SECONDS,
    args: Sequence[str] = (),
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Like :func:`mongoeco_server`, yielding ``(uri, process)`` so a test can signal it.

    A test that stops the server (``SIGSTOP``) to simulate a hang must continue it
    (``SIGCONT``) before the context exits, or the SIGTERM waits for the stop timeout.
    """
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            [str(python), str(script), "--port", "0", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        try:
            port = wait_ready(process, stderr, timeout, name="mongoeco server")
            yield f"mongodb://127.0.0.1:{port}/?directConnection=true", process
        finally:
            stop(process)
            if process.stdout is not None:
                process.stdout.close()
