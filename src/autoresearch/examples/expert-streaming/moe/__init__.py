"""flash-moe in miniature: a mixture-of-experts forward pass that streams expert weights from disk."""

from moe.budget import MB, ResidentTracker
from moe.engine import Engine
from moe.spec import ModelSpec, load_spec

__all__ = ["MB", "Engine", "ModelSpec", "ResidentTracker", "load_spec"]
