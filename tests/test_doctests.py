"""The examples in the library's docstrings run and say what they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import autoresearch


def _modules() -> list[str]:
    names = (m.name for m in pkgutil.walk_packages(autoresearch.__path__, "autoresearch."))
    return sorted(n for n in names if n != "autoresearch.__main__")  # importing it runs the CLI


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
