"""The model's shape and the byte layout of its expert files, read from weights/manifest.json."""

import json
import math
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class TensorSpec:
    """One float32 tensor inside an expert file."""

    name: str
    shape: tuple[int, ...]
    offset: int  # bytes from the start of the file

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * 4


@dataclass(frozen=True)
class ModelSpec:
    """Dimensions of the model and where each expert's tensors sit in its file."""

    vocab: int
    hidden: int
    ffn: int
    layers: int
    experts: int
    top_k: int
    carry: float
    tensors: tuple[TensorSpec, ...]

    @property
    def expert_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)


def load_spec(root: str) -> ModelSpec:
    """Read the manifest of the model stored in `root`."""
    with open(os.path.join(root, "manifest.json")) as f:
        raw = json.load(f)
    tensors = tuple(TensorSpec(t["name"], tuple(t["shape"]), t["offset"]) for t in raw["tensors"])
    return ModelSpec(raw["vocab"], raw["hidden"], raw["ffn"], raw["layers"], raw["experts"],
                     raw["top_k"], raw["carry"], tensors)
