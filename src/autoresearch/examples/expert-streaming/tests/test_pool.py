"""The arena of expert slots and the budget it is sized by."""

import numpy as np
import pytest

from moe import MB, ResidentTracker
from moe.loader import ExpertFiles
from moe.pool import ExpertPool


def _pool(weights, spec, budget_bytes):
    return ExpertPool(ExpertFiles(weights, spec), ResidentTracker(budget_bytes))


def test_slot_count_follows_the_budget(weights, spec):
    pool = _pool(weights, spec, 8 * MB)
    assert len(pool.slots) == 8 * MB // spec.expert_bytes
    assert pool.tracker.current == len(pool.slots) * spec.expert_bytes
    assert pool.tracker.within_budget


def test_budget_must_hold_the_experts_of_one_token(weights, spec):
    with pytest.raises(ValueError):
        _pool(weights, spec, spec.top_k * spec.expert_bytes - 1)
    assert len(_pool(weights, spec, spec.top_k * spec.expert_bytes).slots) == spec.top_k


def test_fetch_returns_the_right_weights(weights, spec, reference):
    pool = _pool(weights, spec, 4 * spec.expert_bytes)
    rng = np.random.default_rng(0)
    for _ in range(40):
        layer, expert = int(rng.integers(spec.layers)), int(rng.integers(spec.experts))
        tensors = pool.fetch(layer, expert)
        for name, value in reference.experts[layer][expert].items():
            assert np.array_equal(tensors[name], value)


def test_a_tokens_experts_survive_each_other(weights, spec, reference):
    pool = _pool(weights, spec, spec.top_k * spec.expert_bytes)
    for layer in range(spec.layers):
        first = pool.fetch(layer, 2 * layer)
        pool.fetch(layer, 2 * layer + 1)
        assert np.array_equal(first["w_in"], reference.experts[layer][2 * layer]["w_in"])
