"""The study runner: results equal the library's, failures are recorded, a killed run resumes
to the same file as an uninterrupted one."""

import json
import os
import signal
import subprocess
import sys
import time

import dimod
import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simulate
import spectral
from studies._plan import plan
from studies.config import load_config
from studies.runner import run_study
from studies.exceptions import StoreError
from studies.store import StudyStore, load_study

RANDOM_ONLY = """
[study]
name = "resume"
seed = 7
[xai]
enabled = false
[problems]
formulations = []
random_qubits = [5, 6, 7, 8]
random_seeds = [0, 1, 2, 3, 4]
[spectral]
levels = 3
[dynamics]
T = [10.0, 40.0]
protocol = false
"""


def _bqm(inst):
    d, a = inst["data"], inst["group_attrs"]["bqm"]
    bqm = dimod.BinaryQuadraticModel.from_numpy_vectors(
        d["bqm/linear"], (d["bqm/quadratic_row"], d["bqm/quadratic_col"],
                          d["bqm/quadratic_bias"]), a["offset"], a["vartype"],
        variable_order=json.loads(a["labels"]))
    return bqm


@pytest.mark.xdist_group("tiny-study")  # one worker builds the study once
def test_the_study_holds_what_the_library_computes(tiny_study):
    config, path, summary = tiny_study
    assert summary.failed == 0 and not summary.interrupted
    study = load_study(path)
    planned = {i.id: i for i in plan(config, progress=False)}
    assert set(study.instances) == set(planned)
    assert summary.total == len(planned) == summary.done
    kinds = {i.kind for i in planned.values()}
    assert kinds == {"xai", "problem"}
    checked = 0
    for iid, inst in study.instances.items():
        if inst["attrs"]["kind"] != "problem" or inst["attrs"]["n"] == 0:
            continue
        bqm = _bqm(inst)
        assert bqm == planned[iid].payload["bqm"]  # offset, vartype, labels survive
        sp = inst["group_attrs"]["spectral"]
        ref = spectral.min_gap(bqm, levels=min(3, 2 ** bqm.num_variables))
        assert sp["delta_min"] == pytest.approx(ref.delta_min, abs=1e-9)
        assert sp["s_star"] == pytest.approx(ref.s_star, abs=1e-5)
        d = inst["data"]
        for T, p in zip(d["dynamics/T"], d["dynamics/p_success"]):
            assert p == pytest.approx(simulate.success_probability(bqm, T), abs=1e-6)
        ground = inst["data"]["encoding/ground_selection"]
        assert bqm.energy(dict(zip(bqm.variables, ground))) == pytest.approx(
            dimod.ExactSolver().sample(bqm).first.energy)
        checked += 1
    assert checked >= 6
    hw = [i for i in study.instances.values() if "hardware/p_ground" in i["data"]]
    assert len(hw) == 1
    h = hw[0]["data"]
    assert h["hardware/p_ground_low"][0] <= h["hardware/p_ground"][0] <= \
        h["hardware/p_ground_high"][0]
    xai = study.instances["xai-PaperNet"]["data"]
    assert xai["xai/images"].shape[0] == xai["xai/labels"].size == 6
    assert set(np.unique(xai["xai/labels"])) == {0, 1, 3}


@pytest.mark.xdist_group("tiny-study")  # one worker builds the study once
def test_a_rerun_of_a_complete_study_skips_everything(tiny_study):
    config, path, _ = tiny_study
    before = load_study(path)
    summary = run_study(config, path, workers=1, threads_per_task=1, progress=False)
    assert summary.skipped == summary.total and summary.done == 0
    after = load_study(path)
    assert set(after.instances) == set(before.instances)
    assert len(json.loads(after.attrs["runs"])) == 2


def test_a_failing_instance_is_recorded_and_the_study_goes_on(tmp_path, monkeypatch):
    from dask.distributed import LocalCluster

    config = load_config("f.toml", text=RANDOM_ONLY.replace("[5, 6, 7, 8]", "[4, 5]")
                         .replace("[0, 1, 2, 3, 4]", "[0]"))
    real = spectral.min_gap

    def flaky(H, **kw):
        if H.n == 5:
            raise spectral.SpectralError("injected failure for n = 5")
        return real(H, **kw)

    monkeypatch.setattr(spectral, "min_gap", flaky)
    # threads in this process: the monkeypatch reaches the tasks; a scheduler address is
    # what a user of a real cluster passes
    with LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as cluster:
        summary = run_study(config, tmp_path / "f.h5", scheduler=cluster.scheduler_address,
                            threads_per_task=1, progress=False)
    assert (summary.done, summary.failed) == (1, 1)
    assert "injected failure for n = 5" in summary.failures["random-n05-seed0"]
    study = load_study(tmp_path / "f.h5")
    assert "SpectralError: injected failure" in study.failed["random-n05-seed0"]
    assert set(study.instances) == {"random-n04-seed0"}
    monkeypatch.setattr(spectral, "min_gap", real)
    summary = run_study(config, tmp_path / "f.h5", workers=1, threads_per_task=1,
                        progress=False)
    assert (summary.skipped, summary.done, summary.failed) == (1, 1, 0)  # the failure redone
    assert set(load_study(tmp_path / "f.h5").instances) == {"random-n04-seed0",
                                                            "random-n05-seed0"}


def _complete(path):
    try:
        with h5py.File(path, "r") as f:
            return sum(g.attrs.get("status") == "complete" for g in f["instances"].values())
    except (OSError, KeyError):  # not created yet, or locked by the writer this instant
        return -1


#: ``python -m studies.cli`` with Ctrl-C's handler installed first: when pytest itself runs as
#: a background job of a non-interactive shell (``.ci/run &``), SIGINT is ignored in it and
#: in every child, and a Python started with SIGINT ignored installs no KeyboardInterrupt
#: handler -- the Ctrl-C test then saw the run ignore the signal and finish (returncode 0)
_CLI = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "sys.argv[0] = 'studies.cli'; runpy.run_module('studies.cli', run_name='__main__')")


def _start(config_path, out):
    return subprocess.Popen(
        [sys.executable, "-c", _CLI, "run", str(config_path), "--out", str(out),
         "--workers", "1", "--threads-per-task", "1", "--quiet"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})


def _stop_after(proc, path, count, sig):
    deadline = time.monotonic() + 300
    while _complete(path) < count:
        assert proc.poll() is None, f"the run ended before it could be stopped: " \
                                    f"{proc.communicate()}"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, sig)
    return proc.communicate(timeout=120)


def _comparable(study):
    out = {}
    for iid, inst in study.instances.items():
        attrs = {g: {k: v for k, v in a.items() if k != "seconds"}
                 for g, a in inst["group_attrs"].items()}
        out[iid] = (inst["data"], attrs, inst["spec"])
    return out


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_results(tmp_path):
    config_path = tmp_path / "resume.toml"
    config_path.write_text(RANDOM_ONLY)
    out = tmp_path / "killed.h5"
    total = len(plan(load_config(config_path), progress=False))

    proc = _start(config_path, out)
    _stop_after(proc, out, 3, signal.SIGKILL)  # no chance to clean up
    StudyStore(out, load_config(config_path))  # the file is valid (half-written groups go)
    first = _complete(out)
    assert 3 <= first < total - 2, "the first stop came too late to test a second one"

    proc = _start(config_path, out)  # Ctrl-C: the whole process group gets SIGINT
    _, err = _stop_after(proc, out, first + 2, signal.SIGINT)
    assert proc.returncode == 130, err
    assert "is valid; run the same command to resume" in err
    # one line from the client; the workers ignore the interrupt: no traceback from them
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    second = _complete(out)
    assert first + 2 <= second < total

    proc = _start(config_path, out)
    stdout, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert f"{second} already complete, {total - second} done" in stdout

    reference = run_study(load_config(config_path), tmp_path / "whole.h5", workers=1,
                          threads_per_task=1, progress=False)
    assert reference.done == total
    resumed, whole = _comparable(load_study(out)), _comparable(load_study(tmp_path / "whole.h5"))
    assert set(resumed) == set(whole)
    for iid in whole:
        data_a, attrs_a, spec_a = resumed[iid]
        data_b, attrs_b, spec_b = whole[iid]
        assert spec_a == spec_b
        assert set(data_a) == set(data_b)
        for key in data_b:
            np.testing.assert_array_equal(data_a[key], data_b[key], err_msg=f"{iid}/{key}")
        for group in attrs_b:
            a = {k: v for k, v in attrs_a[group].items() if k != "worker"}
            b = {k: v for k, v in attrs_b[group].items() if k != "worker"}
            # (NaN == NaN in JSON text: a T_99 not computed is NaN in both)
            assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True), (iid, group)
    runs = json.loads(load_study(out).attrs["runs"])
    assert [r["interrupted"] for r in runs] == [True, False]  # the killed run wrote nothing


def test_a_worker_that_dies_is_recorded_and_the_study_goes_on(tmp_path, monkeypatch):
    import dask

    import studies.runner as runner
    from tests.studies._dying import dying_run_instance

    config = load_config("d.toml", text=RANDOM_ONLY.replace("[5, 6, 7, 8]", "[3, 4]")
                         .replace("[0, 1, 2, 3, 4]", "[0]"))
    monkeypatch.setattr(runner, "run_instance", dying_run_instance)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        summary = run_study(config, tmp_path / "d.h5", workers=1, threads_per_task=1,
                            progress=False)
    assert (summary.done, summary.failed) == (1, 1)
    assert "KilledWorker" in summary.failures["random-n04-seed0"]
    study = load_study(tmp_path / "d.h5")
    assert set(study.instances) == {"random-n03-seed0"}
    assert "KilledWorker" in study.failed["random-n04-seed0"]


def test_the_local_cluster_leaves_memory_to_the_guards_not_to_an_equal_share():
    # dask's default limit (the machine's memory / workers) would kill a worker whose large
    # instance needs more than that share while the other workers use little
    from studies.runner import _cluster

    client, cluster, n = _cluster(None, 2)
    try:
        limits = [w["memory_limit"] for w in client.scheduler_info()["workers"].values()]
    finally:
        client.close()
        cluster.close()
    assert n == 2 and limits == [0, 0]


def _perturbed_cache(source, target, relative: float):
    """A copy of a model cache whose trained weights are moved by ``relative`` (seeded)."""
    import shutil

    import torch

    shutil.copytree(source, target)
    g = torch.Generator().manual_seed(5)
    for pt in target.glob("*.pt"):
        state = torch.load(pt, weights_only=True)
        torch.save({k: v * (1 + relative * torch.randn(v.shape, generator=g))
                    if v.is_floating_point() and v.ndim > 1 else v
                    for k, v in state.items()}, pt)
    return target


def _copy_of(tiny_study, folder):
    """(config, a copy of the tiny study's file in ``folder``)."""
    import shutil

    config, path, _ = tiny_study
    copy = folder / "tiny.h5"
    shutil.copy(path, copy)
    return config, copy


def _sha256(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


_REFUSED = r"does not belong to this run: its complete instance '[^']+' "


@pytest.mark.xdist_group("tiny-study")  # one worker builds the study once
def test_a_study_resumed_with_another_model_is_refused_and_left_as_it_was(
        tiny_study, trained_default_cache, tmp_path, monkeypatch):
    # the same config on a machine whose trained default model differs in its weights (another
    # CPU's training) would fill the rest of the file with another model's problems
    config, copy = _copy_of(tiny_study, tmp_path)
    with h5py.File(copy, "r+") as f:  # one image problem left to compute
        left = next(k for k, g in f["instances"].items()
                    if json.loads(g.attrs["spec"]).get("source") == "image")
        del f["instances"][left]
    other = _perturbed_cache(trained_default_cache, tmp_path / "other-cache", 0.03)
    before = _sha256(copy)

    monkeypatch.setenv("QAXAI_CACHE_DIR", str(other))
    with pytest.raises(StoreError, match=_REFUSED + "(was computed with other model weights|"
                                       "was computed from other images)"):
        run_study(config, copy, workers=1, threads_per_task=1, progress=False)
    assert _sha256(copy) == before  # not a byte written: no run recorded, nothing deleted

    monkeypatch.setenv("QAXAI_CACHE_DIR", str(trained_default_cache))
    summary = run_study(config, copy, workers=1, threads_per_task=1, progress=False)
    assert (summary.done, summary.failed) == (1, 0)
    assert left in load_study(copy).instances


@pytest.mark.xdist_group("tiny-study")
def test_a_complete_study_rerun_with_other_weights_is_refused_not_reported_complete(
        tiny_study, trained_default_cache, tmp_path, monkeypatch):
    # weights moved by 1e-6: the same images are chosen and every problem is within the BQM
    # tolerance, yet the file would be reported as this model's results
    config, copy = _copy_of(tiny_study, tmp_path)
    before = _sha256(copy)
    other = _perturbed_cache(trained_default_cache, tmp_path / "other-cache", 1e-6)
    monkeypatch.setenv("QAXAI_CACHE_DIR", str(other))
    with pytest.raises(StoreError, match=_REFUSED + "was computed with other model weights"):
        run_study(config, copy, workers=1, threads_per_task=1, progress=False)
    assert _sha256(copy) == before

    # a file written before fingerprints were recorded is compared by its BQMs, complete too
    with h5py.File(copy, "r+") as f:
        for g in f["instances"].values():
            spec = json.loads(g.attrs["spec"])
            spec.pop("weights_sha256", None)
            spec.pop("images_sha256", None)
            g.attrs["spec"] = json.dumps(spec)
    monkeypatch.setenv("QAXAI_CACHE_DIR", str(
        _perturbed_cache(trained_default_cache, tmp_path / "far-cache", 0.03)))
    with pytest.raises(StoreError, match=_REFUSED + "(has biases|explains other|was a problem)"):
        run_study(config, copy, workers=1, threads_per_task=1, progress=False)

    monkeypatch.setenv("QAXAI_CACHE_DIR", str(trained_default_cache))  # the model of the file
    summary = run_study(config, copy, workers=1, threads_per_task=1, progress=False)
    assert summary.skipped == summary.total and summary.done == 0


@settings(max_examples=40, deadline=None)
@given(n=st.integers(3, 8), seed=st.integers(0, 2**31 - 1), scale=st.floats(1e-6, 1e6))
def test_a_resumed_bqm_is_the_stored_one_to_rounding_and_no_further(n, seed, scale):
    from studies._tasks import _bqm_record
    from studies.runner import _INPUT_RTOL, _bqm_difference

    rng = np.random.default_rng(seed)
    bqm = dimod.BQM({i: scale * rng.normal() for i in range(n)},
                    {(i, j): scale * rng.normal() for i in range(n) for j in range(i + 1, n)},
                    scale * rng.normal(), "BINARY")
    data, attrs = _bqm_record(bqm)
    stored = {**data, "offset": attrs["offset"], "vartype": attrs["vartype"]}
    largest = max(np.abs(data["linear"]).max(), np.abs(data["quadratic_bias"]).max(),
                  abs(attrs["offset"]))
    # float32 rounding of every bias (another CPU's maps and gradients) is the same problem
    rounded = {k: v.astype(np.float32).astype(float) if k in ("linear", "quadratic_bias")
               else v for k, v in data.items()}
    assert _bqm_difference(stored, rounded, attrs) is None
    # one bias moved by twice the tolerance is another problem
    moved = {k: v.copy() for k, v in data.items()}
    moved["quadratic_bias"][rng.integers(moved["quadratic_bias"].size)] += 2 * _INPUT_RTOL * largest
    assert "differ from the problem this run builds" in _bqm_difference(stored, moved, attrs)
    assert "another size" in _bqm_difference(stored, {**data, "linear": data["linear"][:-1]},
                                             attrs)
    assert "other variables" in _bqm_difference(
        stored, {**data, "quadratic_col": data["quadratic_col"][::-1].copy()}, attrs)


def test_a_problem_without_variables_is_recorded_as_empty_not_complete(tmp_path, monkeypatch):
    # the paper formulation on an image with no positive GradCAM weight has no variables:
    # nothing to anneal, no answer to store as complete, and no error either
    import studies.runner as runner
    from studies._plan import Instance

    config = load_config("e.toml", text=RANDOM_ONLY.replace("[5, 6, 7, 8]", "[3]")
                         .replace("[0, 1, 2, 3, 4]", "[0]"))
    planned = runner.plan(config, progress=False)
    empty = Instance("Net-img0007-paper-n08", "problem",
                     {"source": "image", "formulation": "paper", "n": 0, "image": 7},
                     {"bqm": dimod.BQM("BINARY"), "relevance": np.zeros(4),
                      "candidates": np.zeros(0, np.int64), "metadata": {}})
    monkeypatch.setattr(runner, "plan", lambda config, progress, device: [*planned, empty])
    out = tmp_path / "e.h5"
    summary = run_study(config, out, workers=1, threads_per_task=1, progress=False)
    assert (summary.done, summary.failed) == (len(planned), 0)
    assert "positive GradCAM weight" in summary.empty[empty.id]
    study = load_study(out)
    assert empty.id not in study.instances and empty.id not in study.failed
    assert "no variables" in study.empty[empty.id]
    with h5py.File(out) as f:
        assert f["instances"][empty.id].attrs["status"] == "empty"
    again = run_study(config, out, workers=1, threads_per_task=1, progress=False)
    assert again.skipped == again.total and again.done == 0


@pytest.mark.xdist_group("tiny-study")
def test_a_file_with_an_instance_this_run_would_not_build_is_refused(
        tiny_study, trained_default_cache, tmp_path, monkeypatch):
    # other weights may choose wholly other images: then no stored id is one this run builds,
    # and only the ids (the config being the same) show that the inputs changed
    config, copy = _copy_of(tiny_study, tmp_path)
    with h5py.File(copy, "r+") as f:
        old = next(k for k, g in f["instances"].items()
                   if json.loads(g.attrs["spec"]).get("source") == "image")
        stale = old.replace("-img", "-img9")
        f["instances"].move(old, stale)
        del f["instances"][stale].attrs["spec"]  # no fingerprint either: the id alone tells
        f["instances"][stale].attrs["spec"] = json.dumps({"source": "image"})
    before = copy.read_bytes()
    monkeypatch.setenv("QAXAI_CACHE_DIR", str(trained_default_cache))  # the file's own model
    with pytest.raises(StoreError, match=rf"its complete instance '{stale}' is not one this "
                                         "run builds"):
        run_study(config, copy, workers=1, threads_per_task=1, progress=False)
    assert copy.read_bytes() == before


XAI_ONLY = """
[study]
name = "xai-only"
[images]
per_class = 2
classes = [0, 1]
[xai]
n_boot = 10
n_perm = 10
null = false
methods = ["gradcam", "qubo-paper"]
[problems]
formulations = []
"""


@pytest.mark.xdist_group("tiny-study")
@pytest.mark.parametrize("how", [["--device", "cpu"], ["--set", 'run.device="cpu"']])
def test_the_device_is_chosen_by_flag_or_config_and_recorded(how, tmp_path, monkeypatch,
                                                             trained_default_cache, capsys):
    from studies.cli import main

    monkeypatch.setenv("QAXAI_CACHE_DIR", str(trained_default_cache))
    config = tmp_path / "x.toml"
    config.write_text(XAI_ONLY)
    out = tmp_path / "x.h5"
    assert main(["run", str(config), "--out", str(out), "--workers", "1", "--quiet",
                 *how]) == 0
    assert "CNN on cpu" in capsys.readouterr().out
    study = load_study(out)
    assert json.loads(study.attrs["runs"])[-1]["device"] == "cpu"
    (xai,) = study.of_kind("xai").values()
    assert xai["spec"]["device"] == "cpu"
    # the flag is the run's, not the config's: the config text stays the file's own
    assert ("run.device" in study.attrs["config"]) == (how[0] == "--set")
