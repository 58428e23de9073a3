"""The wire tier's set-up fails loudly, never silently, when Python 3.13 is not there."""

from __future__ import annotations

import shutil
import sys

import pytest

from tests.support import mongo_wire


def test_an_explicit_interpreter_that_is_not_313_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``COMPUTE_PRICING_PYTHON313`` naming an older Python raises instead of skipping."""
    monkeypatch.setenv(mongo_wire.PYTHON313_ENV_VAR, sys.executable)
    with pytest.raises(RuntimeError, match=r"is not a working Python >= 3\.13"):
        mongo_wire.find_python313()


def test_no_python_313_anywhere_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no 3.13 on PATH or under pyenv, finding one raises with what was tried."""
    monkeypatch.delenv(mongo_wire.PYTHON313_ENV_VAR, raising=False)
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.setattr(mongo_wire, "PYENV_GLOB", "/nonexistent/3.13*/bin/python3.13")
    with pytest.raises(RuntimeError, match="none was found"):
        mongo_wire.find_python313()
