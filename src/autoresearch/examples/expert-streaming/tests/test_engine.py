"""The streaming engine against the in-memory reference: the quality gate of every optimization."""

import numpy as np
import pytest

import bench
from moe import MB, Engine

PROMPT = [5, 77, 140, 3, 411, 256, 9, 88, 17, 301, 62, 500, 23, 199, 11, 305, 7, 42, 420, 1, 64, 333, 128, 250]


@pytest.fixture(scope="module")
def expected_logits(reference):
    return reference.logits(PROMPT)


def test_logits_match_the_reference(weights, expected_logits):
    logits = Engine(weights).forward(PROMPT)
    assert logits.shape == expected_logits.shape
    assert np.max(np.abs(logits - expected_logits)) < 1e-5


def test_logits_match_the_reference_under_the_smallest_budget(weights, spec, expected_logits):
    engine = Engine(weights, budget_mb=spec.top_k * spec.expert_bytes / MB)
    assert np.max(np.abs(engine.forward(PROMPT) - expected_logits)) < 1e-5


def test_benchmark_generation_matches_the_reference(weights, reference):
    tokens = Engine(weights, budget_mb=bench.BUDGET_MB).generate(bench.PROMPT, 24, seed=bench.SEED)
    assert tokens == reference.generate(bench.PROMPT, 24, seed=bench.SEED)


def test_generation_is_deterministic(weights):
    first = Engine(weights).generate(bench.PROMPT, 40, seed=3)
    second = Engine(weights).generate(bench.PROMPT, 40, seed=3)
    assert first == second
    assert len(set(first)) > 10  # sampling, not a loop on one token


def test_reset_forgets_earlier_tokens(weights):
    engine = Engine(weights)
    first = engine.forward(PROMPT[:4])
    engine.reset()
    assert np.array_equal(engine.forward(PROMPT[:4]), first)


def test_every_expert_use_comes_from_disk_or_memory_within_budget(weights, spec):
    engine = Engine(weights)
    engine.forward(PROMPT[:8])
    assert engine.files.bytes_read >= spec.expert_bytes * spec.top_k
    assert engine.resident_peak >= spec.expert_bytes * spec.top_k


def test_a_budget_below_one_token_is_refused(weights, spec):
    with pytest.raises(ValueError):
        Engine(weights, budget_mb=(spec.top_k * spec.expert_bytes - 1) / MB)


def test_an_empty_prompt_is_refused(weights):
    with pytest.raises(ValueError):
        Engine(weights).generate([], 4, seed=0)
