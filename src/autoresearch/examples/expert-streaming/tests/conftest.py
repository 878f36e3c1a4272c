"""Make the example's own `moe` (and `bench`) importable from any working directory; share the model."""

import os
import sys

import pytest

EXAMPLE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
for path in (EXAMPLE_ROOT, TESTS_DIR):
    if path not in sys.path:
        sys.path.insert(0, path)

from moe.make_model import ensure_model  # noqa: E402
from moe.spec import load_spec  # noqa: E402


@pytest.fixture(scope="session")
def weights():
    """The generated model (made once, in the example's weights/ directory)."""
    return ensure_model()


@pytest.fixture(scope="session")
def spec(weights):
    return load_spec(weights)


@pytest.fixture(scope="session")
def reference(weights):
    """The whole model held in memory, for the straightforward reference forward pass."""
    from reference import ReferenceModel
    return ReferenceModel(weights)
