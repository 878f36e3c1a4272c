"""Reading experts from disk into slots."""

import os
import shutil

import numpy as np
import pytest

from moe.loader import ExpertFiles, ExpertSlot


@pytest.mark.parametrize("layer,expert", [(0, 0), (1, 7), (3, 31)])
def test_read_into_matches_the_file(weights, spec, reference, layer, expert):
    files = ExpertFiles(weights, spec)
    slot = ExpertSlot(spec)
    files.read_into(layer, expert, slot)
    for name, value in reference.experts[layer][expert].items():
        assert np.array_equal(slot.tensors[name], value)


def test_reads_are_counted_in_bytes(weights, spec):
    files = ExpertFiles(weights, spec)
    slot = ExpertSlot(spec)
    files.read_into(0, 1, slot)
    files.read_into(2, 3, slot)
    assert files.bytes_read == 2 * spec.expert_bytes
    assert files.reads >= 2


def test_slot_tensors_are_views_of_one_buffer(spec):
    slot = ExpertSlot(spec)
    assert slot.nbytes == spec.expert_bytes
    for tensor in spec.tensors:
        assert slot.tensors[tensor.name].shape == tensor.shape
        assert np.shares_memory(slot.tensors[tensor.name], slot.flat)


def test_missing_expert_file_raises(weights, spec, tmp_path):
    files = ExpertFiles(str(tmp_path), spec)
    with pytest.raises(FileNotFoundError):
        files.read_into(0, 0, ExpertSlot(spec))


def test_truncated_expert_file_raises(weights, spec, tmp_path):
    os.makedirs(tmp_path / "layer00")
    source = os.path.join(weights, "layer00", "expert000.bin")
    shutil.copy(source, tmp_path / "layer00" / "expert000.bin")
    with open(tmp_path / "layer00" / "expert000.bin", "r+b") as f:
        f.truncate(spec.expert_bytes - 1000)
    files = ExpertFiles(str(tmp_path), spec)
    with pytest.raises(ValueError):
        files.read_into(0, 0, ExpertSlot(spec))
