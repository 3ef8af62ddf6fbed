"""The HDF5 store: written whole, marked complete last, never writes into foreign files."""

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from studies._layout import LAYOUT, describe, layout_markdown
from studies.config import load_config
from studies.exceptions import StoreError
from studies.store import FORMAT, StudyStore, load_study

CONFIG = load_config("t.toml", text="[study]\nseed = 1\n")
DATA = {"spectral/s": np.linspace(0, 1, 5), "spectral/gaps": np.arange(5.0),
        "dynamics/T": np.array([1.0, 2.0]), "dynamics/p_success": np.array([0.1, 0.2]),
        "xai/table/method": ["gradcam", "qubo-paper"]}
ATTRS = {"spectral": {"delta_min": 0.5, "sector": "full"}, "": {"n": 3},
         "dynamics": {"protocol_is_ground": np.bool_(True), "note": None}}


def _write(store, iid="a", **kw):
    store.write(iid, kind="problem", spec={"n": 3, "source": "random"}, data=DATA, attrs=ATTRS,
                seconds=1.5, worker="host:1", **kw)


def test_an_instance_reads_back_with_plain_h5py(tmp_path):
    store = StudyStore(tmp_path / "s.h5", CONFIG)
    _write(store)
    with h5py.File(tmp_path / "s.h5", "r") as f:
        assert f.attrs["format"] == FORMAT
        assert f.attrs["config"] == CONFIG.text
        assert json.loads(f.attrs["library_versions"])["numpy"] == np.__version__
        g = f["instances/a"]
        assert g.attrs["status"] == "complete"
        assert json.loads(g.attrs["spec"]) == {"n": 3, "source": "random"}
        np.testing.assert_array_equal(g["spectral/s"][()], DATA["spectral/s"])
        assert list(g["xai/table/method"].asstr()[()]) == DATA["xai/table/method"]
        assert g["spectral"].attrs["delta_min"] == 0.5
        assert g.attrs["n"] == 3
        for path in DATA:
            ds = g[path]
            assert (ds.attrs["units"], ds.attrs["meaning"]) == describe(path)[1:]


@pytest.mark.xdist_group("tiny-study")  # one worker builds the study once
def test_nothing_in_a_file_is_an_object_or_pickle(tmp_study_file):
    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            kind = obj.dtype.kind
            assert kind in "fiub" or h5py.check_string_dtype(obj.dtype) is not None, name
            assert kind != "V", name  # no opaque blobs
        for value in obj.attrs.values():
            assert isinstance(value, (str, bytes, np.generic, np.ndarray, int, float)), name
            assert not (isinstance(value, bytes) and value.startswith(b"\x80")), name  # pickle

    with h5py.File(tmp_study_file, "r") as f:
        f.visititems(visit)


@pytest.fixture
def tmp_study_file(tiny_study):
    return tiny_study[1]


def test_half_written_groups_are_redone_and_failed_ones_kept_until_replaced(tmp_path):
    path = tmp_path / "s.h5"
    store = StudyStore(path, CONFIG)
    _write(store, "done")
    _write(store, "broken", error="Traceback ...\nValueError: boom")
    with h5py.File(path, "r+") as f:  # a writer killed mid-instance: no status attribute
        f["instances"].create_group("half").create_dataset("spectral/s", data=[0.0])
    again = StudyStore(path, CONFIG)
    assert again.discarded == ["half"]
    assert again.statuses() == {"done": "complete", "broken": "failed"}
    study = load_study(path)
    assert set(study.instances) == {"done"} and "boom" in study.failed["broken"]
    _write(again, "broken")  # a retry replaces the failure
    assert again.statuses()["broken"] == "complete"


def test_a_file_of_another_config_is_refused_untouched(tmp_path):
    path = tmp_path / "s.h5"
    _write(StudyStore(path, CONFIG))
    before = path.read_bytes()
    other = load_config("t.toml", text="[study]\nseed = 2\n")
    with pytest.raises(StoreError, match="different config text.*choose another --out"):
        StudyStore(path, other)
    assert path.read_bytes() == before


def test_a_foreign_hdf5_file_is_never_written(tmp_path):
    path = tmp_path / "mine.h5"
    with h5py.File(path, "w") as f:
        f["precious"] = np.arange(3)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a qaxai study"):
        StudyStore(path, CONFIG)
    assert path.read_bytes() == before


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_a_corrupted_file_gets_a_clear_error(tmp_path, damage):
    path = tmp_path / "s.h5"
    _write(StudyStore(path, CONFIG))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 3] if damage == "truncate" else b"not hdf5" * 100)
    with pytest.raises(StoreError, match="truncated or corrupted"):
        StudyStore(path, CONFIG)
    with pytest.raises(StoreError, match="truncated or corrupted"):
        load_study(path)


def test_undocumented_datasets_and_bad_ids_are_refused(tmp_path):
    store = StudyStore(tmp_path / "s.h5", CONFIG)
    with pytest.raises(KeyError, match="not in the study layout"):
        store.write("x", kind="problem", spec={}, data={"spectral/mystery": np.zeros(2)})
    with pytest.raises(ValueError, match="contain no '/'"):
        store.write("a/b", kind="problem", spec={})
    with pytest.raises(TypeError, match="only numeric arrays"):
        store.write("y", kind="problem", spec={}, data={"spectral/s": np.array([{}, 1])})
    # the refused writes left no complete instance behind
    assert StudyStore(tmp_path / "s.h5", CONFIG).statuses() == {}


def test_the_design_document_holds_the_layout():
    design = (Path(__file__).parents[2] / "docs" / "design.md").read_text()
    assert layout_markdown() in design
    assert len(LAYOUT) > 20
