"""The model generator: deterministic, complete and atomic."""

import hashlib
import json
import os

import numpy as np

from moe import make_model as mm


def _digest(root):
    h = hashlib.sha256()
    for layer in range(mm.LAYERS):
        for expert in range(mm.EXPERTS):
            with open(mm.expert_file(root, layer, expert), "rb") as f:
                h.update(f.read())
    return h.hexdigest()


def test_manifest_describes_the_expert_layout(weights, spec):
    with open(os.path.join(weights, "manifest.json")) as f:
        assert json.load(f) == mm.manifest()
    assert spec.expert_bytes == sum(t.nbytes for t in spec.tensors)
    assert [t.name for t in spec.tensors] == ["w_in", "b_in", "w_out", "b_out"]
    assert spec.top_k == 2


def test_every_expert_file_is_complete(weights, spec):
    for layer in range(spec.layers):
        for expert in range(spec.experts):
            assert os.path.getsize(mm.expert_file(weights, layer, expert)) == spec.expert_bytes


def test_generation_is_deterministic(weights, tmp_path):
    fresh = mm.make_model(str(tmp_path / "weights"))
    assert _digest(fresh) == _digest(weights)
    with np.load(os.path.join(fresh, "dense.npz")) as a, np.load(os.path.join(weights, "dense.npz")) as b:
        assert sorted(a.files) == sorted(b.files)
        for name in a.files:
            assert np.array_equal(a[name], b[name])
    assert os.listdir(tmp_path) == ["weights"]  # no temporary directory left behind


def test_ensure_model_keeps_an_existing_model(weights):
    manifest = os.path.join(weights, "manifest.json")
    before = os.stat(manifest).st_mtime_ns
    assert mm.ensure_model(weights) == weights
    assert os.stat(manifest).st_mtime_ns == before


def test_ensure_model_replaces_an_outdated_model(tmp_path):
    root = tmp_path / "weights"
    root.mkdir()
    (root / "manifest.json").write_text(json.dumps({"version": 0}))
    mm.ensure_model(str(root))
    assert json.loads((root / "manifest.json").read_text())["version"] == mm.VERSION
    assert (root / "layer00" / "expert000.bin").exists()
