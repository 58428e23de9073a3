"""Every ```python block of the README runs, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks() -> list[str]:
    """The README's ```python blocks (```py blocks are shown, not run)."""
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_starts_with_the_two_commands() -> None:
    """The first code block is ``make demo`` then ``make test``."""
    first = re.search(r"```sh\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert first is not None
    assert ["make demo", "make test"] == [
        line.split("#")[0].strip() for line in first.group(1).splitlines()
    ]


def test_readme_python_blocks_run() -> None:
    """Each block executes without error (their asserts check the documented numbers)."""
    blocks = python_blocks()
    assert 3 <= len(blocks)
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - our own README


def test_production_wiring_uses_the_recommended_client_options() -> None:
    """The README's production block builds its client with ``client_options`` (deadline, w)."""
    section = README.read_text().split("## Production wiring", 1)[1]
    block = re.search(r"```py\n(.*?)```", section, flags=re.DOTALL)
    assert block is not None
    compile(block.group(1), str(README), "exec")
    assert "MongoClient(uri, **client_options(timeout_ms=" in block.group(1)
