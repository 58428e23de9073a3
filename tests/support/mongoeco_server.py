"""Run an in-memory mongoeco MongoDB wire-protocol server on 127.0.0.1.

This script must be run by a Python >= 3.13 interpreter that has
``mongoeco[wire]`` installed (see ``tests/support/mongo_wire.py``, which
builds such a virtualenv).  It is a standalone process so that the test suite,
running on Python 3.11, can talk to it with the real ``pymongo`` driver.

Usage::

    python3.13 tests/support/mongoeco_server.py --port 0

Once the listener accepts connections the script prints exactly one line,
``READY <port>``, on stdout and flushes it.  Nothing else is ever written to
stdout; diagnostics go to stderr.  The server runs until it receives SIGTERM
or SIGINT (clean shutdown, exit status 0), or until its parent process dies
(it then shuts down by itself so that no orphan servers are left behind).

mongoeco API used (mongoeco 4.11.0, read from its installed source):
``mongoeco.engines.memory.MemoryEngine()`` (or ``mongoeco.engines.sqlite.SQLiteEngine(":memory:")``
with ``--engine sqlite``, whose indexes are SQLite B-trees) and
``mongoeco.wire.proxy.AsyncMongoEcoProxyServer(engine=..., host=..., port=...,
mongodb_dialect=...)`` with ``await start() -> ProxyAddress`` and
``await close()``; this is what mongoeco's own pytest plugin does.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from mongoeco.engines.memory import MemoryEngine
from mongoeco.engines.sqlite import SQLiteEngine
from mongoeco.wire.proxy import AsyncMongoEcoProxyServer

HOST = "127.0.0.1"
PARENT_POLL_SECONDS = 1.0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run an in-memory mongoeco wire server.")
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="TCP port to bind on 127.0.0.1 (0 = pick a free port; default 0)",
    )
    parser.add_argument(
        "--engine",
        default="memory",
        choices=("memory", "sqlite"),
        help="storage engine: memory (default) or sqlite in memory (real B-tree indexes)",
    )
    parser.add_argument(
        "--mongodb-dialect",
        default="7.0",
        choices=("7.0", "8.0", "9.0"),
        help="MongoDB server dialect mongoeco emulates (default 7.0)",
    )
    return parser.parse_args(argv)


async def _watch_parent(stop: asyncio.Event) -> None:
    """Set ``stop`` once the process that started us has gone away."""
    parent = os.getppid()
    while not stop.is_set():
        await asyncio.sleep(PARENT_POLL_SECONDS)
        if os.getppid() != parent:
            sys.stderr.write("mongoeco_server: parent process exited, stopping\n")
            stop.set()


def _engine(name: str) -> MemoryEngine | SQLiteEngine:
    """The storage engine: the pure in-memory one, or SQLite on ``:memory:``."""
    return SQLiteEngine(":memory:") if name == "sqlite" else MemoryEngine()


async def _serve(port: int, dialect: str, engine: str) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    server = AsyncMongoEcoProxyServer(
        engine=_engine(engine),
        host=HOST,
        port=port,
        mongodb_dialect=dialect,
    )
    address = await server.start()
    watcher = asyncio.create_task(_watch_parent(stop))
    try:
        sys.stdout.write(f"READY {address.port}\n")
        sys.stdout.flush()
        await stop.wait()
    finally:
        watcher.cancel()
        await server.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point: serve until SIGTERM/SIGINT; return the exit status."""
    args = _parse_args(argv)
    asyncio.run(_serve(args.port, args.mongodb_dialect, args.engine))
    return 0


if __name__ == "__main__":
    sys.exit(main())
