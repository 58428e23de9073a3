"""Architecture rules: import boundaries, the public API surface, the error tree."""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import compute_pricing
from compute_pricing import commands, decide, errors, provider_commands

SRC = Path(compute_pricing.__file__).parent
FORBIDDEN = (
    "pymongo",
    "bson",
    "stripe",
    "fastapi",
    "flask",
    "starlette",
    "mongomock",
    "opentelemetry",
)


def test_importing_the_core_loads_no_adapter_or_sdk() -> None:
    """``import compute_pricing`` in a fresh interpreter loads none of the back-end SDKs."""
    code = (
        "import sys, compute_pricing, compute_pricing.testing.contracts\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}"
        " or m.startswith('compute_pricing_')]\n"
        "print(','.join(sorted(bad)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "" == result.stdout.strip()


def test_core_source_never_imports_an_adapter_or_sdk() -> None:
    """No core module imports pymongo, stripe, fastapi, flask, opentelemetry or an adapter."""
    offenders = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                root = name.split(".")[0]
                if root in FORBIDDEN or root.startswith("compute_pricing_"):
                    offenders.append(f"{path.name}: {name}")
    assert [] == offenders


def test_all_is_sorted_and_complete() -> None:
    """``__all__`` is sorted and every name in it exists."""
    names = compute_pricing.__all__
    assert sorted(names) == names
    assert [] == [name for name in names if not hasattr(compute_pricing, name)]


def test_every_public_name_has_a_docstring() -> None:
    """Public classes and functions, and their public methods, are documented."""
    missing = []
    for name in compute_pricing.__all__:
        obj = getattr(compute_pricing, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if not inspect.getdoc(obj):
            missing.append(name)
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") or not inspect.isfunction(member):
                    continue
                if not inspect.getdoc(member):
                    missing.append(f"{name}.{attr}")
    assert [] == missing


def test_errors_form_one_tree_with_one_status_each() -> None:
    """Every error derives from BillingError, ends in Error and has an HTTP status and code."""
    classes = [getattr(errors, name) for name in errors.__all__]
    assert all(issubclass(cls, errors.BillingError) for cls in classes)
    assert all(cls.__name__.endswith("Error") for cls in classes)
    assert all(100 <= cls.status < 600 for cls in classes)
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes))
    statuses: dict[type[errors.BillingError], int] = {
        errors.ComputeExhaustedError: 402,
        errors.QuotaExceededError: 429,
        errors.PlanNotConfiguredError: 503,
        errors.OrganizationRequiredError: 403,
        errors.InvalidCostError: 400,
    }
    assert statuses == {cls: cls.status for cls in statuses}


ADAPTERS = SRC.parents[1] / "adapters"
TEST_ONLY = ("localstripe", "aiohttp", "tests", "mongomock")


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_shipped_code_never_imports_a_test_tool() -> None:
    """Neither the core nor an adapter imports localstripe (GPL), aiohttp, mongomock or tests."""
    shipped = [*SRC.rglob("*.py"), *ADAPTERS.rglob("*.py")]
    assert ADAPTERS / "compute_pricing_stripe" / "gateway.py" in shipped
    offenders = sorted(
        f"{path.relative_to(SRC.parents[1])}: {root}"
        for path in shipped
        for root in _imported_roots(path) & set(TEST_ONLY)
    )
    assert [] == offenders


def test_the_stripe_adapter_talks_only_to_stripe_and_the_core() -> None:
    """``compute_pricing_stripe`` imports stripe and the core, no other adapter or SDK."""
    others = {"pymongo", "bson", "fastapi", "flask", "starlette", "compute_pricing_mongo"}
    offenders = sorted(
        f"{path.name}: {root}"
        for path in (ADAPTERS / "compute_pricing_stripe").rglob("*.py")
        for root in _imported_roots(path) & others
    )
    assert [] == offenders


def test_the_gateway_kit_loads_no_sdk() -> None:
    """The fake gateway and its contract suite import without stripe."""
    code = (
        "import sys, compute_pricing.fake_gateway, compute_pricing.testing.gateway\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}"
        " or m.startswith('compute_pricing_')]\n"
        "print(','.join(sorted(bad)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "" == result.stdout.strip()


DECIDE_TOPICS = ("usage", "weeks", "extras", "plans", "subscription", "payments")


def test_every_command_has_exactly_one_decider_in_one_topic() -> None:
    """Each command type is decided by one topic module's ``DECIDERS``, none by two."""
    owners: dict[type[commands.Command], list[str]] = {}
    for name in DECIDE_TOPICS:
        topic = importlib.import_module(f"compute_pricing.decide_{name}")
        for kind in topic.DECIDERS:
            owners.setdefault(kind, []).append(name)
    kinds = set(commands.Command.__subclasses__())
    assert provider_commands.SyncSubscription in kinds
    assert [] == sorted(kind.__name__ for kind, where in owners.items() if len(where) != 1)
    assert kinds == set(owners)
    assert set(owners) == set(decide._DECIDERS)


def test_decide_topics_import_the_shared_helpers_not_the_registry() -> None:
    """No ``decide_*`` module imports ``compute_pricing.decide``, so the registry has no cycle."""
    expected = {f"decide_{name}.py" for name in DECIDE_TOPICS} | {"decide_common.py"}
    assert expected == {path.name for path in SRC.glob("decide_*.py")}
    offenders = []
    for path in sorted(SRC.glob("decide_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module == "compute_pricing":
                modules = [f"compute_pricing.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            else:
                continue
            offenders += [path.name for module in modules if module == "compute_pricing.decide"]
    assert [] == offenders
