"""Probe which pymongo features a MongoDB stand-in supports, feature by feature.

Runs on Python 3.11 with pymongo installed and prints one ``OK``/``FAIL`` line
per feature (with indented detail lines: exact errors, error details, index
metadata) followed by a ``summary:`` line.  Exit status is 0 if every feature
is OK, 1 otherwise.

Backends::

    # a running server (mongoeco, or a real mongod for comparison)
    python3.11 scripts/mongoeco_probe.py --uri 'mongodb://127.0.0.1:PORT/?directConnection=true'

    # build <venv-root>/.venv-mongoeco (tests/support/mongo_wire.py), start
    # scripts/mongoeco_server.py, probe it, stop it
    python3.11 scripts/mongoeco_probe.py --spawn [--venv-root DIR]

    # in-process fakes (must be importable by this interpreter)
    python3.11 scripts/mongoeco_probe.py --mongomock
    python3.11 scripts/mongoeco_probe.py --mongomock-ng

Feature (j) starts two worker OS processes (this script with ``--worker``)
against ``--uri``/``--spawn`` servers; the in-process fakes cannot share data
across processes, so for them (j) uses two threads instead.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymongo
from pymongo import ReturnDocument, monitoring
from pymongo.errors import BulkWriteError, CollectionInvalid, DuplicateKeyError

REPO_ROOT = Path(__file__).resolve().parent.parent
UTC = dt.UTC
J_KEYS = 300
J_INCREMENTS = 200


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _describe(exc: BaseException) -> str:
    """``Type: message`` plus the server's error details when pymongo has them."""
    text = f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
    details = getattr(exc, "details", None)
    if details:
        text += f" | details={details!r}"
    return text


@dataclass
class Backend:
    """How to reach the backend under test."""

    name: str
    make_client: Callable[..., Any]
    uri: str | None = None  # set for real servers: workers of (j) connect to it


@dataclass
class Probe:
    """Collects feature results and prints them."""

    backend: Backend
    db_name: str
    results: list[tuple[str, bool]] = field(default_factory=list)

    def record(self, fid: str, ok: bool, title: str, *details: str) -> None:
        """Print and remember one feature result."""
        self.results.append((fid, ok))
        _out(f"{'OK' if ok else 'FAIL':4} {fid:3} {title}")
        for detail in details:
            _out(f"          {detail}")

    def run(self, fid: str, title: str, check: Callable[[Probe], None]) -> None:
        """Run ``check``; an exception it lets escape is a FAIL of ``fid``."""
        try:
            check(self)
        except Exception as exc:
            self.record(fid, False, title, f"unexpected {_describe(exc)}")


def expect_dke(action: Callable[[], object]) -> DuplicateKeyError:
    """Run ``action`` and return the DuplicateKeyError it must raise."""
    try:
        action()
    except DuplicateKeyError as exc:
        return exc
    raise AssertionError("no DuplicateKeyError raised")


def _key_info(exc: DuplicateKeyError) -> str:
    details = exc.details or {}
    return (
        f"code={exc.code} keyPattern={details.get('keyPattern')!r} "
        f"keyValue={details.get('keyValue')!r} errmsg={details.get('errmsg', str(exc))!r}"
    )


# --- a -----------------------------------------------------------------------
def check_a(p: Probe) -> None:
    """Unique compound index; duplicate -> DuplicateKeyError with keyPattern/keyValue."""
    col = p.backend.make_client()[p.db_name]["a_compound"]
    name = col.create_index([("org", 1), ("seq", 1)], unique=True)
    col.insert_many([{"org": "o1", "seq": 1}, {"org": "o1", "seq": 2}, {"org": "o2", "seq": 1}])
    exc = expect_dke(lambda: col.insert_one({"org": "o1", "seq": 1}))
    count = col.count_documents({})
    p.record(
        "a1",
        count == 3,
        "unique compound (org,seq): duplicate insert raises DuplicateKeyError",
        f"index name={name!r}; docs after={count}; str(exc)={str(exc)!r}",
    )
    details = exc.details or {}
    p.record(
        "a2",
        details.get("keyPattern") == {"org": 1, "seq": 1}
        and details.get("keyValue") == {"org": "o1", "seq": 1},
        "DuplicateKeyError.details has keyPattern/keyValue",
        f"details={details!r}",
    )


# --- b -----------------------------------------------------------------------
def check_b(p: Probe) -> None:
    """Two unique indexes on one collection, both enforced and distinguishable."""
    col = p.backend.make_client()[p.db_name]["b_two_unique"]
    col.create_index([("org", 1), ("seq", 1)], unique=True, name="org_seq")
    col.create_index([("org", 1), ("key", 1)], unique=True, name="org_key")
    col.insert_one({"org": "o", "seq": 1, "key": "k1"})
    seq_dup = expect_dke(lambda: col.insert_one({"org": "o", "seq": 1, "key": "k2"}))
    key_dup = expect_dke(lambda: col.insert_one({"org": "o", "seq": 2, "key": "k1"}))
    col.insert_one({"org": "o", "seq": 2, "key": "k2"})
    count = col.count_documents({})
    p.record(
        "b1",
        count == 2,
        "two unique indexes (org,seq) and (org,key) both enforced",
        f"seq dup: {_key_info(seq_dup)}",
        f"key dup: {_key_info(key_dup)}",
        f"docs after={count} (want 2)",
    )
    by_pattern = (seq_dup.details or {}).get("keyPattern") == {"org": 1, "seq": 1} and (
        key_dup.details or {}
    ).get("keyPattern") == {"org": 1, "key": 1}
    by_name = "org_seq" in str(seq_dup) and "org_key" in str(key_dup)
    p.record(
        "b2",
        by_pattern or by_name,
        "violated index identifiable from the error",
        f"by details.keyPattern={by_pattern}; by index name in message={by_name}",
    )


# --- c -----------------------------------------------------------------------
def check_c(p: Probe) -> None:
    """update_one upsert with a {$lt} version guard against a unique org index."""
    col = p.backend.make_client()[p.db_name]["c_upsert_lt"]
    col.create_index("org", unique=True)
    guard = {"$set": {"version": 5, "payload": "new"}}
    col.insert_one({"org": "o7", "version": 7})
    try:
        exc = expect_dke(
            lambda: col.update_one({"org": "o7", "version": {"$lt": 5}}, guard, upsert=True)
        )
        doc = col.find_one({"org": "o7"}, {"_id": 0})
        p.record(
            "c1",
            doc == {"org": "o7", "version": 7},
            "upsert, filter {version:{$lt:5}}, stored v7 -> DuplicateKeyError",
            _key_info(exc),
            f"doc after={doc!r}; docs with org=o7: {col.count_documents({'org': 'o7'})}",
        )
    except AssertionError:
        docs = list(col.find({"org": "o7"}, {"_id": 0}))
        p.record("c1", False, "upsert with stale guard -> DuplicateKeyError", f"docs={docs!r}")

    col.insert_one({"org": "o3", "version": 3})
    res = col.update_one({"org": "o3", "version": {"$lt": 5}}, guard, upsert=True)
    doc = col.find_one({"org": "o3"}, {"_id": 0})
    p.record(
        "c2",
        res.matched_count == 1
        and res.modified_count == 1
        and res.upserted_id is None
        and doc == {"org": "o3", "version": 5, "payload": "new"},
        "upsert, filter {version:{$lt:5}}, stored v3 -> updated in place",
        f"matched={res.matched_count} modified={res.modified_count} "
        f"upserted_id={res.upserted_id!r} doc={doc!r}",
    )
    res = col.update_one({"org": "onew", "version": {"$lt": 5}}, guard, upsert=True)
    doc = col.find_one({"org": "onew"}, {"_id": 0})
    p.record(
        "c3",
        res.upserted_id is not None and doc == {"org": "onew", "version": 5, "payload": "new"},
        "upsert, no doc -> inserted (operator filter field not copied)",
        f"upserted_id={res.upserted_id!r} doc={doc!r}",
    )


# --- d -----------------------------------------------------------------------
def check_d(p: Probe) -> None:
    """find_one_and_update with $inc/$setOnInsert, upsert, ReturnDocument."""
    col = p.backend.make_client()[p.db_name]["d_fau"]
    flt = {"org": "o", "name": "ctr"}

    def bump(tag: str, when: bool = ReturnDocument.AFTER, **kw: Any) -> Any:
        update = {"$inc": {"n": 1}, "$setOnInsert": {"created": tag}}
        return col.find_one_and_update(flt, update, upsert=True, return_document=when, **kw)

    first = bump("first")
    second = bump("second")
    before = bump("third", ReturnDocument.BEFORE)
    projected = bump("fourth", projection={"_id": 0, "n": 1})
    ok = (
        first is not None
        and (first["n"], first["created"], first["org"]) == (1, "first", "o")
        and second is not None
        and (second["n"], second["created"]) == (2, "first")
        and before is not None
        and before["n"] == 2
        and projected == {"n": 4}
    )
    p.record(
        "d",
        ok,
        "find_one_and_update $inc+$setOnInsert upsert, AFTER/BEFORE, projection",
        f"1st={first!r}",
        f"2nd={second!r}; BEFORE={before!r}; projected={projected!r}",
    )


# --- e -----------------------------------------------------------------------
def check_e(p: Probe) -> None:
    """TTL index with partialFilterExpression is accepted and listed."""
    col = p.backend.make_client()[p.db_name]["e_ttl"]
    name = col.create_index(
        "processed_at",
        expireAfterSeconds=3600,
        partialFilterExpression={"dead_letter": False},
        name="processed_ttl",
    )
    info = col.index_information().get(name, {})
    p.record(
        "e1",
        info.get("expireAfterSeconds") == 3600
        and info.get("partialFilterExpression") == {"dead_letter": False},
        "TTL index + partialFilterExpression accepted, shown by index_information()",
        f"name={name!r} info={info!r}",
    )
    # Expiry itself: real mongod deletes via a 60s background monitor, never on read.
    old = dt.datetime.now(UTC) - dt.timedelta(hours=2)
    docs: list[dict[str, Any]] = [
        {"_id": "old_aware_live", "processed_at": old, "dead_letter": False},
        {"_id": "old_aware_dead", "processed_at": old, "dead_letter": True},
        {"_id": "old_naive_live", "processed_at": old.replace(tzinfo=None), "dead_letter": False},
        {"_id": "old_naive_dead", "processed_at": old.replace(tzinfo=None), "dead_letter": True},
        {"_id": "fresh_live", "processed_at": dt.datetime.now(UTC), "dead_letter": False},
    ]
    col.insert_many(docs)
    time.sleep(0.2)
    left = sorted(d["_id"] for d in col.find({}, {"_id": 1}))
    gone = sorted({d["_id"] for d in docs} - set(left))
    p.record(
        "e2",
        {"old_aware_dead", "old_naive_dead", "fresh_live"} <= set(left),
        "TTL respects partialFilterExpression (dead_letter=True docs never expire)",
        f"expired on read (2h-old docs, expireAfterSeconds=3600): {gone}; kept: {left}",
    )


# --- f -----------------------------------------------------------------------
def check_f(p: Probe) -> None:
    """sort/skip/limit, count_documents, $gt, projections."""
    col = p.backend.make_client()[p.db_name]["f_paging"]
    col.insert_many([{"org": "o", "seq": i, "pad": "x" * i} for i in range(1, 21)])
    query = {"org": "o", "seq": {"$gt": 5}}
    page = list(col.find(query, {"_id": 0, "seq": 1}).sort("seq", -1).skip(2).limit(3))
    total = col.count_documents(query)
    windowed = col.count_documents({"org": "o"}, skip=5, limit=4)
    included = col.find_one({"seq": 3}, {"seq": 1})
    excluded = col.find_one({"seq": 3}, {"pad": 0})
    ok = (
        page == [{"seq": 18}, {"seq": 17}, {"seq": 16}]
        and total == 15
        and windowed == 4
        and included is not None
        and set(included) == {"_id", "seq"}
        and excluded is not None
        and set(excluded) == {"_id", "org", "seq"}
    )
    p.record(
        "f",
        ok,
        "find $gt + sort(-1).skip.limit, count_documents(+skip/limit), projections",
        f"page={page!r} count={total} count(skip5,limit4)={windowed}",
        f"include-proj keys={sorted(included or {})} exclude-proj keys={sorted(excluded or {})}",
    )


# --- g -----------------------------------------------------------------------
def check_g(p: Probe) -> None:
    """tz_aware=True returns aware UTC datetimes truncated to milliseconds."""
    aware = p.backend.make_client(tz_aware=True)[p.db_name]["g_dates"]
    naive = p.backend.make_client()[p.db_name]["g_dates"]
    stamp = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    plus2 = dt.datetime(2024, 5, 6, 9, 8, 9, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    aware.insert_many([{"_id": "utc", "at": stamp}, {"_id": "plus2", "at": plus2}])
    got = (aware.find_one({"_id": "utc"}) or {}).get("at")
    got2 = (aware.find_one({"_id": "plus2"}) or {}).get("at")
    got_naive = (naive.find_one({"_id": "utc"}) or {}).get("at")
    in_range = aware.count_documents({"at": {"$gte": dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)}})
    ok = (
        isinstance(got, dt.datetime)
        and got.utcoffset() == dt.timedelta(0)
        and got == stamp.replace(microsecond=123000)
        and isinstance(got2, dt.datetime)
        and got2.utcoffset() == dt.timedelta(0)
        and got2 == plus2
        and isinstance(got_naive, dt.datetime)
        and got_naive.tzinfo is None
        and in_range == 2
    )
    p.record(
        "g",
        ok,
        "tz_aware=True -> aware UTC datetime, millisecond precision",
        f"stored {stamp.isoformat()} -> {got!r}",
        f"stored {plus2.isoformat()} -> {got2!r}; naive client -> {got_naive!r}",
        f"$gte aware query count={in_range} (want 2)",
    )


# --- h -----------------------------------------------------------------------
class _Listener(monitoring.CommandListener):
    """Records command names of started/succeeded/failed events."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.events.append(f"started:{event.command_name}")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self.events.append(f"succeeded:{event.command_name}")

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self.events.append(f"failed:{event.command_name}")


def check_h(p: Probe) -> None:
    """A registered CommandListener sees one command per find_one/insert_one/update_one."""
    listener = _Listener()
    client = p.backend.make_client(event_listeners=[listener])
    col = client[p.db_name]["h_listener"]
    seen: dict[str, list[str]] = {}
    ops: list[tuple[str, Callable[[], object]]] = [
        ("insert_one", lambda: col.insert_one({"_id": 1, "n": 0})),
        ("find_one", lambda: col.find_one({"_id": 1})),
        ("update_one", lambda: col.update_one({"_id": 1}, {"$inc": {"n": 1}})),
    ]
    for label, op in ops:
        listener.events.clear()
        op()
        seen[label] = list(listener.events)
    want = {
        "insert_one": ["started:insert", "succeeded:insert"],
        "find_one": ["started:find", "succeeded:find"],
        "update_one": ["started:update", "succeeded:update"],
    }
    p.record(
        "h",
        seen == want,
        "CommandListener: 1 command per find_one / insert_one / update_one",
        *(f"{label}: {events!r}" for label, events in seen.items()),
    )


# --- i -----------------------------------------------------------------------
def check_i(p: Probe) -> None:
    """insert_many ordered=False with a duplicate, delete_many, aggregate $group/$sum."""
    col = p.backend.make_client()[p.db_name]["i_bulk"]
    col.create_index("k", unique=True)
    docs: list[dict[str, Any]] = [
        {"k": 1, "g": "a", "v": 1},
        {"k": 2, "g": "a", "v": 2},
        {"k": 1, "g": "x", "v": 100},
        {"k": 3, "g": "b", "v": 3},
    ]
    try:
        col.insert_many(docs, ordered=False)
        unordered = "no BulkWriteError raised"
        unordered_ok = False
    except BulkWriteError as exc:
        errs = exc.details.get("writeErrors", [])
        unordered = (
            f"nInserted={exc.details.get('nInserted')} writeErrors="
            f"{[(e.get('index'), e.get('code'), e.get('keyPattern')) for e in errs]}"
        )
        unordered_ok = exc.details.get("nInserted") == 3 and [e.get("index") for e in errs] == [2]
    try:
        col.insert_many([{"k": 10}, {"k": 1}, {"k": 11}])
        ordered = "no BulkWriteError raised"
        ordered_ok = False
    except BulkWriteError as exc:
        ordered = f"nInserted={exc.details.get('nInserted')}"
        ordered_ok = exc.details.get("nInserted") == 1 and col.count_documents({"k": 11}) == 0
    p.record(
        "i1",
        unordered_ok and ordered_ok,
        "insert_many ordered=False continues past dup (BulkWriteError); ordered stops",
        f"ordered=False: {unordered}",
        f"ordered=True: {ordered}; docs now={col.count_documents({})} (want 4)",
    )
    groups = list(
        col.aggregate(
            [
                {"$match": {"v": {"$lt": 100}}},
                {"$group": {"_id": "$g", "total": {"$sum": "$v"}, "n": {"$sum": 1}}},
                {"$sort": {"_id": 1}},
            ]
        )
    )
    p.record(
        "i2",
        groups == [{"_id": "a", "total": 3, "n": 2}, {"_id": "b", "total": 3, "n": 1}],
        "aggregate $match/$group/$sum(/$sort)",
        f"result={groups!r}",
    )
    deleted = col.delete_many({"k": {"$gte": 2}}).deleted_count
    left = col.count_documents({})
    p.record("i3", deleted == 3 and left == 1, "delete_many", f"deleted={deleted} left={left}")


# --- j -----------------------------------------------------------------------
def _worker_body(col: Any, worker_id: int, start_at: float) -> dict[str, Any]:
    """Insert keys 0..J_KEYS-1 and bump a shared counter; count outcomes."""
    while time.time() < start_at:
        time.sleep(0.001)
    stats: dict[str, Any] = {"worker": worker_id, "ok": 0, "dup": 0, "other": []}
    stats["t0"] = time.time()
    for k in range(J_KEYS):
        try:
            col.insert_one({"k": k, "w": worker_id})
            stats["ok"] += 1
        except DuplicateKeyError:
            stats["dup"] += 1
        except Exception as exc:
            stats["other"].append(_describe(exc))
    for _ in range(J_INCREMENTS):
        col.find_one_and_update(
            {"k": "counter"}, {"$inc": {"n": 1}}, upsert=True, return_document=ReturnDocument.AFTER
        )
    stats["t1"] = time.time()
    return stats


def _run_worker(args: argparse.Namespace) -> int:
    client: Any = pymongo.MongoClient(args.uri, serverSelectionTimeoutMS=10_000)
    stats = _worker_body(client[args.db]["j_concurrent"], args.worker_id, args.start_at)
    _out(json.dumps(stats))
    client.close()
    return 0


def _stats_from_processes(p: Probe, start_at: float) -> tuple[list[dict[str, Any]], str]:
    assert p.backend.uri is not None
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--worker",
                "--uri",
                p.backend.uri,
                "--db",
                p.db_name,
                "--worker-id",
                str(i),
                "--start-at",
                repr(start_at),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    stats = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"worker exited {proc.returncode}: {err.strip()[-2000:]}")
        stats.append(json.loads(out))
    return stats, f"2 OS processes (pids {[proc.pid for proc in procs]})"


def _stats_from_threads(p: Probe, start_at: float) -> tuple[list[dict[str, Any]], str]:
    col = p.backend.make_client()[p.db_name]["j_concurrent"]
    stats: list[dict[str, Any]] = [{}, {}]

    def work(i: int) -> None:
        stats[i] = _worker_body(col, i, start_at)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return stats, "2 threads (in-process fake: no cross-process sharing possible)"


def check_j(p: Probe) -> None:
    """Two concurrent writers with unique-index conflicts lose nothing."""
    col = p.backend.make_client()[p.db_name]["j_concurrent"]
    col.create_index("k", unique=True)
    start_at = time.time() + 1.5
    runner = _stats_from_processes if p.backend.uri else _stats_from_threads
    stats, how = runner(p, start_at)
    oks = sum(s["ok"] for s in stats)
    dups = sum(s["dup"] for s in stats)
    others = [e for s in stats for e in s["other"]]
    stored = col.count_documents({"k": {"$type": "number"}})
    distinct = len(col.distinct("k", {"k": {"$type": "number"}}))
    counter = (col.find_one({"k": "counter"}) or {}).get("n")
    overlap = min(s["t1"] for s in stats) - max(s["t0"] for s in stats)
    ok = (
        oks == J_KEYS
        and dups == J_KEYS
        and not others
        and stored == J_KEYS
        and distinct == J_KEYS
        and counter == 2 * J_INCREMENTS
    )
    p.record(
        "j",
        ok,
        "2 concurrent writers, unique conflicts + $inc counter: no lost/duplicate writes",
        f"{how}; overlap of the two run windows={overlap:.2f}s",
        f"inserts ok={oks} (want {J_KEYS}) dup={dups} (want {J_KEYS}) other errors={others[:3]}",
        f"stored={stored} distinct k={distinct}; "
        f"counter={counter} (want {2 * J_INCREMENTS}, upsert+$inc from both writers)",
        "per-writer ok/dup: " + ", ".join(f"w{s['worker']}={s['ok']}/{s['dup']}" for s in stats),
    )


# --- k -----------------------------------------------------------------------
def check_k(p: Probe) -> None:
    """create_collection, list_collection_names, drop_database."""
    client = p.backend.make_client()
    name = f"{p.db_name}_k"
    db = client[name]
    db.create_collection("k_explicit")
    db["k_implicit"].insert_one({"x": 1})
    names = sorted(db.list_collection_names())
    try:
        db.create_collection("k_explicit")
        again = "no error"
    except CollectionInvalid as exc:
        again = _describe(exc)
    dbs_before = name in client.list_database_names()
    client.drop_database(name)
    after = db.list_collection_names()
    dbs_after = name in client.list_database_names()
    p.record(
        "k",
        names == ["k_explicit", "k_implicit"] and after == [] and dbs_before and not dbs_after,
        "create_collection / list_collection_names / drop_database",
        f"collections={names} -> after drop_database={after}",
        f"in list_database_names before/after drop: {dbs_before}/{dbs_after}",
        f"create_collection on existing name -> {again}",
    )


# --- extras --------------------------------------------------------------------
def check_x(p: Probe) -> None:
    """Admin commands a driver-level health check might use."""
    client = p.backend.make_client()
    calls: list[tuple[str, str, Callable[[], object]]] = [
        ("x1", "admin ping", lambda: client.admin.command("ping")),
        ("x2", "server_info() (buildInfo)", lambda: client.server_info().get("version")),
    ]
    for fid, title, call in calls:
        try:
            p.record(fid, True, title, f"-> {call()!r}")
        except Exception as exc:
            p.record(fid, False, title, _describe(exc))


CHECKS: list[tuple[str, str, Callable[[Probe], None]]] = [
    ("a", "unique compound index / DuplicateKeyError details", check_a),
    ("b", "two unique indexes", check_b),
    ("c", "upsert with $lt guard", check_c),
    ("d", "find_one_and_update", check_d),
    ("e", "TTL + partialFilterExpression", check_e),
    ("f", "paging / count / projection", check_f),
    ("g", "tz-aware datetimes", check_g),
    ("h", "CommandListener", check_h),
    ("i", "bulk / delete_many / aggregate", check_i),
    ("j", "concurrent writers", check_j),
    ("k", "collections / databases", check_k),
    ("x", "admin commands", check_x),
]


def probe(backend: Backend) -> int:
    """Run every check against ``backend``; return 0 if all passed else 1."""
    p = Probe(backend, f"probe_{os.getpid()}_{int(time.time())}")
    _out(f"backend: {backend.name}; pymongo {pymongo.version}; database {p.db_name}")
    for fid, title, check in CHECKS:
        p.run(fid, title, check)
    try:
        backend.make_client().drop_database(p.db_name)
    except Exception as exc:
        _out(f"note: cleanup drop_database failed: {_describe(exc)}")
    failed = [fid for fid, ok in p.results if not ok]
    _out(
        f"summary: {backend.name}: {len(p.results) - len(failed)} OK, {len(failed)} FAIL"
        + (f" ({', '.join(failed)})" if failed else "")
    )
    return 1 if failed else 0


def _uri_backend(name: str, uri: str) -> Backend:
    def make(**kw: Any) -> Any:
        return pymongo.MongoClient(uri, serverSelectionTimeoutMS=10_000, **kw)

    return Backend(name, make, uri)


def _fake_backend(module_name: str) -> Backend:
    module = importlib.import_module(module_name)
    store = module.store.ServerStore()  # shared so clients with other options see the data

    def make(**kw: Any) -> Any:
        return module.MongoClient(_store=store, **kw)

    version = getattr(module, "__version__", "?")
    return Backend(f"{module_name} {version} (in-process)", make)


@contextmanager
def _spawned(venv_root: Path) -> Iterator[str]:
    sys.path.insert(0, str(REPO_ROOT / "tests" / "support"))
    mongo_wire = importlib.import_module("mongo_wire")
    started = time.monotonic()
    python = mongo_wire.ensure_mongoeco_venv(venv_root)
    _out(f"venv: {python} ready in {time.monotonic() - started:.1f}s")
    started = time.monotonic()
    with mongo_wire.mongoeco_server(python, REPO_ROOT / "scripts" / "mongoeco_server.py") as uri:
        _out(
            f"server: mongoeco {mongo_wire.MONGOECO_VERSION} READY after "
            f"{time.monotonic() - started:.2f}s at {uri}"
        )
        yield uri


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the probe (or one ``--worker`` of feature j)."""
    parser = argparse.ArgumentParser(description="Probe pymongo features on a backend.")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--uri", help="MongoDB URI of a running server")
    target.add_argument("--spawn", action="store_true", help="start mongoeco_server.py")
    target.add_argument("--mongomock", action="store_true", help="in-process mongomock")
    target.add_argument("--mongomock-ng", action="store_true", help="in-process mongomock_ng")
    parser.add_argument("--venv-root", type=Path, default=REPO_ROOT, help="for --spawn")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--worker-id", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _run_worker(args)
    if args.mongomock:
        return probe(_fake_backend("mongomock"))
    if args.mongomock_ng:
        return probe(_fake_backend("mongomock_ng"))
    if args.spawn:
        with _spawned(args.venv_root) as uri:
            return probe(_uri_backend("mongoeco (wire, spawned)", uri))
    return probe(_uri_backend(f"server at {args.uri}", args.uri))


if __name__ == "__main__":
    sys.exit(main())
