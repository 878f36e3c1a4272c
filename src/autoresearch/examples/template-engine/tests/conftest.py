"""Make the example's own `liquid_lite` (and `bench`) importable from any working directory."""

import os
import sys

import pytest

EXAMPLE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if EXAMPLE_ROOT not in sys.path:
    sys.path.insert(0, EXAMPLE_ROOT)

import liquid_lite  # noqa: E402


@pytest.fixture
def render():
    """Render a template source with keyword variables."""
    def _render(source, **variables):
        return liquid_lite.render(source, variables)
    return _render
