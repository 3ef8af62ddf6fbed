"""A study written now against the same study written by an earlier commit
(data/reference_study.h5, from data/reference_study.toml): every dataset, its values and its
attributes, and every group attribute the reference has, except timings. A refactor of the
writer, the records or the settings must leave what a study stores unchanged."""

import re
from pathlib import Path

import h5py
import numpy as np
import pytest

from studies import load_config, run_study

DATA = Path(__file__).parent / "data"
#: attributes that are times or places, not results
VOLATILE = {"seconds", "worker", "created", "runs", "git_commit", "host", "qaxai_version",
            "library_versions", "config_source", "config", "config_sha256"}
#: group attributes whose value is allowed to differ from the reference's, and why
CHANGED = {("dynamics", "method"): "the method that ran ('split') where 'auto' was recorded"}
#: hashes of float tables made with np.exp and np.power, whose last bits depend on the CPU's
#: SIMD code paths: checked to be a SHA-256 digest, not equal to the reference machine's
MACHINE_HASHES = {("hardware", "schedule_sha256")}


def _items(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            attrs = {k: v for k, v in obj.attrs.items() if k not in VOLATILE}
            out[name] = (obj[()] if isinstance(obj, h5py.Dataset) else None, attrs)
        f.visititems(visit)
    return out


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        return a.shape == b.shape and np.allclose(a, b, rtol=1e-8, atol=1e-12, equal_nan=True)
    return a.shape == b.shape and bool(np.all(a == b))


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_study_writes_what_the_reference_commit_wrote(tmp_path):
    config = load_config(DATA / "reference_study.toml")
    summary = run_study(config, tmp_path / "now.h5", workers=1, progress=False)
    assert summary.failed == 0 and summary.done == 4
    ref, now = _items(DATA / "reference_study.h5"), _items(tmp_path / "now.h5")
    ref_sets = {k for k, (v, _) in ref.items() if v is not None}
    now_sets = {k for k, (v, _) in now.items() if v is not None}
    assert now_sets == ref_sets
    assert len(ref_sets) > 40  # the BQMs, encodings, sweeps, P(T) and the hardware columns
    for name in sorted(ref_sets):
        assert now[name][0].dtype == ref[name][0].dtype, name
        assert _same(now[name][0], ref[name][0]), name
        assert now[name][1].keys() == ref[name][1].keys(), name
    boundary = [a for name, (v, a) in now.items() if v is None and name.endswith("/spectral")]
    assert boundary and all(  # beside T_99: the boundary terms of each problem
        a["t_boundary"] == pytest.approx(np.sqrt((a["b0"] + a["b1"]) / 0.01)) for a in boundary)
    for name, (value, attrs) in ref.items():
        if value is not None:
            continue
        group = name.rsplit("/", 1)[-1]
        for key, expected in attrs.items():
            assert key in now[name][1], (name, key)
            if (group, key) in CHANGED:
                continue
            if (group, key) in MACHINE_HASHES:
                assert re.fullmatch("[0-9a-f]{64}", str(now[name][1][key])), (name, key)
                continue
            got = now[name][1][key]
            if isinstance(expected, (str, bytes)):
                assert got == expected, (name, key)
            else:
                assert _same(got, expected), (name, key, got, expected)
