"""Numeric building blocks: RMS normalisation, softmax and the expert MLP."""

import numpy as np

EPS = np.float32(1e-6)


def rms_norm(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Scale `x` to unit root-mean-square, then by `weight`."""
    return x * (weight / np.sqrt(x @ x / np.float32(x.size) + EPS))


def softmax(scores: np.ndarray) -> np.ndarray:
    """Probabilities from scores, stable for large values."""
    e = np.exp(scores - scores.max())
    return e / e.sum()


def expert_mlp(h: np.ndarray, tensors: dict) -> np.ndarray:
    """One expert: a two-layer ReLU MLP."""
    a = h @ tensors["w_in"] + tensors["b_in"]
    return np.maximum(a, 0.0) @ tensors["w_out"] + tensors["b_out"]
