"""Run the local Stripe test server (localstripe + ``server.py``) for tests using the SDK.

localstripe (https://pypi.org/project/localstripe/) is GPL-licensed, so it never enters the
project's own environment: :func:`ensure_localstripe_venv` builds ``<root>/.venv-localstripe``
with the pinned release, and :func:`stripe_server` runs ``server.py`` there as a child process
bound to a free port on 127.0.0.1, yielding the base URL for
``stripe.StripeClient(base_addresses={"api": url})``. The process is stopped when the context
exits. Failing to build or start it is an error, never a skip.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.support.child_servers import check, run, stop, wait_ready

LOCALSTRIPE_VERSION = "1.15.10"
"""The localstripe release the Stripe tests are pinned to."""

REQUIREMENTS = (f"localstripe=={LOCALSTRIPE_VERSION}", "aiohttp==3.14.5")
"""What the server venv holds (aiohttp pinned too: localstripe leaves it open)."""

VENV_DIR_NAME = ".venv-localstripe"
SERVER_SCRIPT = Path(__file__).with_name("server.py")
READY_TIMEOUT_SECONDS = 30.0
PIP_TIMEOUT_SECONDS = 900.0
_VERSION_SCRIPT = (
    "import importlib.metadata as m\n"
    "try:\n"
    "    print(m.version('localstripe'), m.version('aiohttp'))\n"
    "except m.PackageNotFoundError:\n"
    "    print('')\n"
)


def _installed(python: Path) -> str:
    """``"<localstripe> <aiohttp>"`` versions importable by ``python`` ('' if absent)."""
    if not python.exists():
        return ""
    try:
        result = run([str(python), "-c", _VERSION_SCRIPT], 60)
    except (OSError, subprocess.SubprocessError):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def ensure_localstripe_venv(root: Path) -> Path:
    """Create ``root/.venv-localstripe`` with the pinned localstripe; return its python.

    Cheap once built (the installed versions are checked); concurrent callers are serialised
    with an flock on the venv directory.
    """
    venv = root / VENV_DIR_NAME
    python = venv / "bin" / "python"
    wanted = " ".join(requirement.split("==")[1] for requirement in REQUIREMENTS)
    venv.mkdir(parents=True, exist_ok=True)
    lock = os.open(venv, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed(python) == wanted:
            return python
        if not python.exists():
            check(
                run([sys.executable, "-m", "venv", "--clear", str(venv)], PIP_TIMEOUT_SECONDS),
                f"creating {venv}",
            )
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        check(run([*pip, *REQUIREMENTS], PIP_TIMEOUT_SECONDS), f"pip install into {venv}")
        found = _installed(python)
        if found != wanted:
            raise RuntimeError(f"{venv}: expected {wanted!r} after install, found {found!r}")
        return python
    finally:
        os.close(lock)


@contextlib.contextmanager
def stripe_server(python: Path, *, timeout: float = READY_TIMEOUT_SECONDS) -> Iterator[str]:
    """Run the test server under ``python``; yield ``http://127.0.0.1:<port>``."""
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            [str(python), str(SERVER_SCRIPT), "--port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            cwd=tempfile.gettempdir(),
        )
        try:
            port = wait_ready(process, stderr, timeout, name="Stripe test server")
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(process)
            if process.stdout is not None:
                process.stdout.close()
