"""The router: pick the top-k experts of a layer for a hidden state, with their gate weights."""

import numpy as np

from moe.ops import softmax


def route(h: np.ndarray, weight: np.ndarray, bias: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the `k` best-scoring experts, best first, and their softmax gates."""
    scores = weight @ h + bias
    top = np.argpartition(scores, -k)[-k:]
    top = top[np.argsort(-scores[top], kind="stable")]
    return top, softmax(scores[top])
