"""Plumbing shared by the test servers the suite starts as child processes.

Each server (the mongoeco wire server, the local Stripe server) runs in an interpreter of its
own virtualenv, prints ``READY <port>`` on its first stdout line once it listens on 127.0.0.1,
and is stopped with SIGTERM (SIGKILL if it lingers). These helpers run the set-up commands,
wait for that line and stop the process, so each server module keeps only what is its own.
"""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import time
from typing import IO

__all__ = ["check", "read_stderr", "run", "stop", "wait_ready"]

_READY_LINE = re.compile(rb"^READY (\d+)\s*$")
STOP_TIMEOUT_SECONDS = 10.0


def run(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``args`` (an interpreter and its arguments, never a shell string)."""
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def check(result: subprocess.CompletedProcess[str], what: str) -> None:
    """Raise RuntimeError with the tool's output if ``result`` failed."""
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-4000:]
        raise RuntimeError(f"{what} failed with exit code {result.returncode}:\n{output}")


def read_stderr(stderr: IO[bytes]) -> str:
    """Everything the server wrote to its stderr file so far."""
    stderr.flush()
    stderr.seek(0)
    return stderr.read().decode("utf-8", errors="replace").strip()


def wait_ready(
    process: subprocess.Popen[bytes], stderr: IO[bytes], timeout: float, *, name: str
) -> int:
    """The port of the server's ``READY <port>`` line.

    Raises:
        RuntimeError: on timeout, early exit or unexpected output, naming ``name`` and
            carrying the server's stderr.
    """
    if process.stdout is None:  # pragma: no cover - always started with stdout=PIPE
        raise RuntimeError(f"{name} was started without a stdout pipe")
    fd = process.stdout.fileno()
    deadline = time.monotonic() + timeout
    buffer = b""
    problem = f"no READY line within {timeout:.0f}s"
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                problem = f"server exited early (exit code {process.wait(5)})"
                break
            buffer += chunk
        else:
            line = buffer.split(b"\n", 1)[0]
            match = _READY_LINE.match(line)
            if match:
                return int(match.group(1))
            problem = f"unexpected first stdout line {line!r}"
    raise RuntimeError(
        f"{name} {process.args!r} did not become ready: {problem}; "
        f"stdout so far {buffer!r}; stderr:\n{read_stderr(stderr)}"
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server, escalating to SIGKILL if it does not exit in time."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT_SECONDS)
