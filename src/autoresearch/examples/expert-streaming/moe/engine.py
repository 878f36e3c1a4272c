"""The forward pass: embedding, MoE layers whose experts are streamed from disk, output head."""

import os

import numpy as np

from moe.budget import MB, ResidentTracker
from moe.loader import ExpertFiles
from moe.ops import expert_mlp, rms_norm, softmax
from moe.pool import ExpertPool
from moe.router import route
from moe.spec import load_spec

DEFAULT_BUDGET_MB = 8.0


class Engine:
    """Runs the model one token at a time; dense weights stay in memory, experts come from disk."""

    def __init__(self, root: str, budget_mb: float = DEFAULT_BUDGET_MB):
        self.spec = load_spec(root)
        with np.load(os.path.join(root, "dense.npz")) as dense:
            self.embed = dense["embed"]
            self.norms = dense["norms"]
            self.router_w = dense["router_w"]
            self.router_b = dense["router_b"]
            self.final_norm = dense["final_norm"]
            self.head = dense["head"]
        self.top_k = self.spec.top_k
        self.tracker = ResidentTracker(int(budget_mb * MB))
        self.files = ExpertFiles(root, self.spec)
        self.experts = ExpertPool(self.files, self.tracker)
        self.state = np.zeros(self.spec.hidden, dtype=np.float32)

    def reset(self) -> None:
        """Forget the previous tokens."""
        self.state = np.zeros(self.spec.hidden, dtype=np.float32)

    def step(self, token: int) -> np.ndarray:
        """Logits for the next token after `token`."""
        x = self.embed[token] + np.float32(self.spec.carry) * self.state
        for layer in range(self.spec.layers):
            h = rms_norm(x, self.norms[layer])
            chosen, gates = route(h, self.router_w[layer], self.router_b[layer], self.top_k)
            out = np.zeros_like(x)
            for expert, gate in zip(chosen, gates):
                out += gate * expert_mlp(h, self.experts.fetch(layer, int(expert)))
            x = x + out
        self.state = x
        return rms_norm(x, self.final_norm) @ self.head

    def forward(self, tokens: list[int]) -> np.ndarray:
        """Logits after each of `tokens`, one row per token."""
        return np.stack([self.step(t) for t in tokens])

    def generate(self, prompt: list[int], new_tokens: int, seed: int) -> list[int]:
        """Read the prompt, then sample `new_tokens` tokens with a seeded generator."""
        if not prompt:
            raise ValueError("the prompt must hold at least one token")
        rng = np.random.default_rng(seed)
        for token in prompt:
            logits = self.step(token)
        out = []
        for _ in range(new_tokens):
            token = sample(logits, rng)
            out.append(token)
            logits = self.step(token)
        return out

    @property
    def resident_peak(self) -> int:
        """Most bytes of expert weights held at once."""
        return self.tracker.peak


def sample(logits: np.ndarray, rng: np.random.Generator) -> int:
    """Draw a token from softmax(logits)."""
    cumulative = np.cumsum(softmax(logits.astype(np.float64)))
    return min(int(np.searchsorted(cumulative, rng.random() * cumulative[-1])), len(logits) - 1)
