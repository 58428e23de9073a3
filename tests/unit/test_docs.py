"""The project states its own rules: docs/rules.md exists and no file cites an outside spec."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Built from parts so this file does not match itself.
_OUTSIDE_SPEC = re.compile("DES" + r"IGN(\.md| \d)|\.\./" + "shared")
_SECTIONS = (
    "Accounts",
    "Plans",
    "Attribution",
    "Weekly usage and overflow",
    "Extras ledger",
    "Week reset",
    "Quota gate",
    "Dunning",
    "Stripe",
    "Events",
    "Config",
)


def _project_files() -> list[Path]:
    roots = ["src", "adapters", "docs", "tests", "examples", "benchmarks"]
    files = [ROOT / "README.md", ROOT / "CHANGELOG.md"]
    for root in roots:
        files += [p for p in (ROOT / root).rglob("*") if p.suffix in {".py", ".md", ".toml"}]
    return files


def test_no_project_file_cites_an_outside_specification() -> None:
    """Docs, docstrings and comments refer to docs/rules.md, never to a spec outside the repo."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in _project_files()
        if _OUTSIDE_SPEC.search(path.read_text(encoding="utf-8"))
    ]

    assert [] == offenders


def test_rules_document_has_every_section() -> None:
    """docs/rules.md has a heading for each rule area the code refers to."""
    headings = set(re.findall(r"^## (.+)$", (ROOT / "docs" / "rules.md").read_text(), re.M))

    assert set(_SECTIONS) <= headings
