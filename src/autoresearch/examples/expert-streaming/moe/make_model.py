"""Generate the miniature MoE model deterministically: dense weights plus one raw file per expert."""

import json
import os
import shutil

import numpy as np

VERSION = 1
SEED = 20240601
VOCAB = 512
HIDDEN = 128
FFN = 512
LAYERS = 4
EXPERTS = 32
TOP_K = 2
CARRY = 0.5  # how much of the previous token's hidden state flows into the next token
DEFAULT_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "weights")

# One expert file holds these float32 tensors back to back, in this order.
EXPERT_TENSORS = (("w_in", (HIDDEN, FFN)), ("b_in", (FFN,)), ("w_out", (FFN, HIDDEN)), ("b_out", (HIDDEN,)))


def expert_file(root, layer, expert):
    """Path of one expert's weight file."""
    return os.path.join(root, f"layer{layer:02d}", f"expert{expert:03d}.bin")


def manifest():
    """The model's shape and the byte layout of an expert file."""
    tensors, offset = [], 0
    for name, shape in EXPERT_TENSORS:
        tensors.append({"name": name, "shape": list(shape), "offset": offset})
        offset += int(np.prod(shape)) * 4
    return {"version": VERSION, "seed": SEED, "dtype": "float32", "vocab": VOCAB, "hidden": HIDDEN,
            "ffn": FFN, "layers": LAYERS, "experts": EXPERTS, "top_k": TOP_K, "carry": CARRY,
            "expert_bytes": offset, "tensors": tensors}


def _normal(rng, shape, scale):
    return (rng.standard_normal(shape, dtype=np.float32) * np.float32(scale)).astype(np.float32)


def _write(root):
    rng = np.random.default_rng(SEED)
    # Router bias: a few experts are popular, as in trained MoE models.
    popularity = np.log1p(np.arange(EXPERTS, dtype=np.float32))
    dense = {
        "embed": _normal(rng, (VOCAB, HIDDEN), 1.0),
        "norms": (1.0 + _normal(rng, (LAYERS, HIDDEN), 0.1)).astype(np.float32),
        "router_w": _normal(rng, (LAYERS, EXPERTS, HIDDEN), 1.0 / np.sqrt(HIDDEN)),
        "router_b": np.stack([-1.0 * popularity[rng.permutation(EXPERTS)] for _ in range(LAYERS)]),
        "final_norm": (1.0 + _normal(rng, (HIDDEN,), 0.1)).astype(np.float32),
        "head": _normal(rng, (HIDDEN, VOCAB), 2.0 / np.sqrt(HIDDEN)),
    }
    np.savez(os.path.join(root, "dense.npz"), **{k: v.astype(np.float32) for k, v in dense.items()})
    for layer in range(LAYERS):
        os.makedirs(os.path.join(root, f"layer{layer:02d}"))
        for expert in range(EXPERTS):
            parts = (_normal(rng, (HIDDEN, FFN), 1.0 / np.sqrt(HIDDEN)), _normal(rng, (FFN,), 0.1),
                     _normal(rng, (FFN, HIDDEN), 0.5 / np.sqrt(FFN)), _normal(rng, (HIDDEN,), 0.1))
            with open(expert_file(root, layer, expert), "wb") as f:
                for part in parts:
                    f.write(part.tobytes())
    with open(os.path.join(root, "manifest.json"), "w") as f:
        json.dump(manifest(), f, indent=1)


def make_model(root=DEFAULT_DIR):
    """Write the model to `root` (replacing it), atomically: a half-written model is never seen."""
    parent = os.path.dirname(os.path.abspath(root))
    os.makedirs(parent, exist_ok=True)
    tmp = f"{os.path.abspath(root)}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        _write(tmp)
        shutil.rmtree(root, ignore_errors=True)
        os.rename(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def ensure_model(root=DEFAULT_DIR):
    """Return `root`, generating the model there first unless this version is already present."""
    try:
        with open(os.path.join(root, "manifest.json")) as f:
            if json.load(f).get("version") == VERSION:
                return root
    except (OSError, ValueError):
        pass
    return make_model(root)


if __name__ == "__main__":
    print(make_model())
