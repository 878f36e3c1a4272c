"""Numeric building blocks."""

import numpy as np

from moe.ops import expert_mlp, rms_norm, softmax


def test_rms_norm_gives_unit_rms():
    x = np.arange(1, 9, dtype=np.float32)
    y = rms_norm(x, np.ones(8, dtype=np.float32))
    assert abs(float(np.sqrt(np.mean(y * y))) - 1.0) < 1e-5
    assert y.dtype == np.float32


def test_softmax_is_stable_for_large_scores():
    p = softmax(np.array([1000.0, 1000.0, -1000.0]))
    assert np.allclose(p, [0.5, 0.5, 0.0])


def test_expert_mlp_is_a_relu_mlp():
    h = np.array([1.0, -1.0], dtype=np.float32)
    tensors = {"w_in": np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 1.0]], dtype=np.float32),
               "b_in": np.zeros(3, dtype=np.float32),
               "w_out": np.ones((3, 2), dtype=np.float32),
               "b_out": np.array([0.5, -0.5], dtype=np.float32)}
    # hidden = relu([1, 1, -1]) = [1, 1, 0]
    assert np.array_equal(expert_mlp(h, tensors), np.array([2.5, 1.5], dtype=np.float32))
