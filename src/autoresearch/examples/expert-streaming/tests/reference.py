"""A straightforward in-memory implementation of the model, to check the streaming engine against."""

import json
import os

import numpy as np


class ReferenceModel:
    """Every weight read into memory up front; the forward pass written out plainly."""

    def __init__(self, root):
        with open(os.path.join(root, "manifest.json")) as f:
            self.manifest = json.load(f)
        m = self.manifest
        with np.load(os.path.join(root, "dense.npz")) as dense:
            self.dense = {name: dense[name] for name in dense.files}
        self.experts = [[self._read(root, layer, expert) for expert in range(m["experts"])]
                        for layer in range(m["layers"])]

    def _read(self, root, layer, expert):
        flat = np.fromfile(os.path.join(root, f"layer{layer:02d}", f"expert{expert:03d}.bin"), np.float32)
        assert flat.nbytes == self.manifest["expert_bytes"]
        return {t["name"]: flat[t["offset"] // 4:t["offset"] // 4 + int(np.prod(t["shape"]))].reshape(t["shape"])
                for t in self.manifest["tensors"]}

    @staticmethod
    def _norm(x, weight):
        return x * (weight / np.sqrt(x @ x / np.float32(x.size) + np.float32(1e-6)))

    @staticmethod
    def _softmax(scores):
        e = np.exp(scores - scores.max())
        return e / e.sum()

    def logits(self, tokens):
        """Logits after each token, one row per token, from a fresh start."""
        d, m = self.dense, self.manifest
        state = np.zeros(m["hidden"], dtype=np.float32)
        rows = []
        for token in tokens:
            x = d["embed"][token] + np.float32(m["carry"]) * state
            for layer in range(m["layers"]):
                h = self._norm(x, d["norms"][layer])
                scores = d["router_w"][layer] @ h + d["router_b"][layer]
                top = sorted(range(m["experts"]), key=lambda e: -scores[e])[:m["top_k"]]
                gates = self._softmax(scores[top])
                out = np.zeros_like(x)
                for expert, gate in zip(top, gates):
                    w = self.experts[layer][expert]
                    a = np.maximum(h @ w["w_in"] + w["b_in"], 0.0)
                    out += gate * (a @ w["w_out"] + w["b_out"])
                x = x + out
            state = x
            rows.append(self._norm(x, d["final_norm"]) @ d["head"])
        return np.stack(rows)

    def generate(self, prompt, new_tokens, seed):
        """Sample like the engine does: softmax of the logits in float64, one uniform draw per token."""
        rng = np.random.default_rng(seed)
        tokens = list(prompt)
        out = []
        for _ in range(new_tokens):
            logits = self.logits(tokens)[-1]
            cumulative = np.cumsum(self._softmax(logits.astype(np.float64)))
            token = min(int(np.searchsorted(cumulative, rng.random() * cumulative[-1])), len(logits) - 1)
            out.append(token)
            tokens.append(token)
        return out
