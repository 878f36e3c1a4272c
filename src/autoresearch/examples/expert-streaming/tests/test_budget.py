"""Accounting of resident expert bytes."""

import pytest

from moe import MB, ResidentTracker


def test_acquire_and_release_track_current_and_peak():
    tracker = ResidentTracker(10 * MB)
    tracker.acquire(3 * MB)
    tracker.acquire(4 * MB)
    tracker.release(5 * MB)
    tracker.acquire(1 * MB)
    assert tracker.current == 3 * MB
    assert tracker.peak == 7 * MB
    assert tracker.peak_mb == 7.0


def test_within_budget_follows_the_peak():
    tracker = ResidentTracker(4 * MB)
    tracker.acquire(4 * MB)
    assert tracker.within_budget
    tracker.release(4 * MB)
    tracker.acquire(4 * MB + 1)
    assert not tracker.within_budget


def test_cannot_release_more_than_is_held():
    tracker = ResidentTracker(MB)
    tracker.acquire(100)
    with pytest.raises(ValueError):
        tracker.release(101)


def test_negative_amounts_are_refused():
    tracker = ResidentTracker(MB)
    with pytest.raises(ValueError):
        tracker.acquire(-1)
    with pytest.raises(ValueError):
        tracker.release(-1)


@pytest.mark.parametrize("budget", [0, -5])
def test_budget_must_be_positive(budget):
    with pytest.raises(ValueError):
        ResidentTracker(budget)
