"""Read expert weights from their files on disk into memory, counting what is read."""

import os

import numpy as np

from moe.spec import ModelSpec


class ExpertSlot:
    """Memory for one expert's weights: a flat float32 buffer and a named view per tensor."""

    def __init__(self, spec: ModelSpec):
        self.flat = np.empty(spec.expert_bytes // 4, dtype=np.float32)
        self.tensors = {t.name: self.flat[t.offset // 4:t.offset // 4 + t.size].reshape(t.shape)
                        for t in spec.tensors}
        self.nbytes = self.flat.nbytes


class ExpertFiles:
    """The expert files of one model, with counters of the reads made from them."""

    def __init__(self, root: str, spec: ModelSpec):
        self.root = root
        self.spec = spec
        self.reads = 0
        self.bytes_read = 0

    def path(self, layer: int, expert: int) -> str:
        return os.path.join(self.root, f"layer{layer:02d}", f"expert{expert:03d}.bin")

    def read_into(self, layer: int, expert: int, slot: ExpertSlot) -> None:
        """Read an expert's tensors from its file into `slot`, one read per tensor."""
        path = self.path(layer, expert)
        for tensor in self.spec.tensors:
            data = np.fromfile(path, dtype=np.float32, count=tensor.size, offset=tensor.offset)
            if data.size != tensor.size:
                raise ValueError(f"{path} is truncated: {tensor.name} is incomplete")
            slot.tensors[tensor.name][...] = data.reshape(tensor.shape)
            self.reads += 1
            self.bytes_read += data.nbytes
