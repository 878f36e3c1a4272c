"""Top-k routing."""

import numpy as np
import pytest

from moe.router import route


@pytest.fixture
def layer():
    rng = np.random.default_rng(3)
    return (rng.standard_normal(16, dtype=np.float32), rng.standard_normal((8, 16), dtype=np.float32),
            rng.standard_normal(8, dtype=np.float32))


def test_picks_the_k_best_scores_best_first(layer):
    h, weight, bias = layer
    scores = weight @ h + bias
    chosen, _ = route(h, weight, bias, 3)
    assert list(chosen) == list(np.argsort(-scores)[:3])


def test_gates_are_a_softmax_over_the_chosen(layer):
    h, weight, bias = layer
    scores = weight @ h + bias
    chosen, gates = route(h, weight, bias, 2)
    expected = np.exp(scores[chosen] - scores[chosen].max())
    assert np.allclose(gates, expected / expected.sum(), atol=1e-6)
    assert gates[0] >= gates[1]
    assert abs(float(gates.sum()) - 1.0) < 1e-6


def test_top_1_has_a_gate_of_one(layer):
    h, weight, bias = layer
    chosen, gates = route(h, weight, bias, 1)
    assert chosen[0] == int(np.argmax(weight @ h + bias))
    assert gates[0] == pytest.approx(1.0)


def test_bias_steers_the_choice(layer):
    h, weight, bias = layer
    boosted = bias.copy()
    boosted[5] += 100.0
    assert route(h, weight, boosted, 2)[0][0] == 5


def test_model_router_spreads_over_many_experts(weights, spec, reference):
    # The generated router prefers some experts, but no layer always picks the same two.
    rng = np.random.default_rng(1)
    d = reference.dense
    for layer in range(spec.layers):
        picked = set()
        for _ in range(64):
            h = rng.standard_normal(spec.hidden).astype(np.float32)
            picked.update(int(e) for e in route(h, d["router_w"][layer], d["router_b"][layer], spec.top_k)[0])
        assert len(picked) >= spec.experts // 4
