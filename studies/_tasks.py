"""What a worker computes for one instance (private).

:func:`run_instance` is the function the runner submits: it never raises for a failure of the
science (an unconverged solve, a memory guard): it returns the traceback instead, so that the
study records the failure and goes on. Its result holds plain arrays, numbers and strings,
the only things the store writes.
"""

from __future__ import annotations

import json
import os
import socket
import time
import traceback

import dimod
import numpy as np

from ._layout import BQM, DYNAMICS, ENCODING, HARDWARE, SPECTRAL, XAI, in_group
from ._plan import Instance, instance_seed
from .config import Settings

__all__ = ["run_instance", "empty_reason"]


def _limit_threads(threads: int, torch_too: bool) -> None:
    import numba

    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    if torch_too:  # importing torch costs seconds: only for the tasks that use it
        import torch

        torch.set_num_threads(max(1, int(threads)))


def _place(data: dict, attrs: dict, group: str, record: tuple[dict, dict]) -> None:
    """Put a result's record into the instance's datasets and group attributes."""
    datasets, group_attrs = in_group(group, record)
    data.update(datasets)
    attrs.setdefault(group, {}).update(group_attrs)


def _bqm_record(bqm) -> tuple[dict, dict]:
    variables = list(bqm.variables)
    lin, (row, col, quad), offset = bqm.to_numpy_vectors(variable_order=variables)
    return ({"linear": np.asarray(lin, float), "quadratic_row": np.asarray(row, np.int64),
             "quadratic_col": np.asarray(col, np.int64),
             "quadratic_bias": np.asarray(quad, float)},
            {"vartype": bqm.vartype.name, "offset": float(offset),
             "labels": json.dumps([v if isinstance(v, (int, str)) else str(v)
                                   for v in variables])})


def _encoding_record(payload: dict) -> tuple[dict, dict]:
    return ({"relevance": np.asarray(payload["relevance"], float),
             "candidates": np.asarray(payload["candidates"], np.int64)},
            {"metadata": json.dumps(payload["metadata"], default=float)})


def _scale(inst: Instance) -> str | None:
    """H_P's scaling of a problem instance: "auto", or None for ``spec["scale"] == "none"``."""
    return None if inst.spec.get("scale") == "none" else "auto"


def _ground_record(bqm, full) -> tuple[dict, dict]:
    """An exact ground state from H_P's diagonal (bit i = variable i); not encoding's solver,
    whose import pulls in torch (seconds per worker process)."""
    ground_states = full.ground_states()
    ground = (int(ground_states[0]) >> np.arange(bqm.num_variables)) & 1
    if bqm.vartype is dimod.SPIN:
        ground = 2 * ground - 1
    return ({"ground_selection": ground.astype(np.int64)},
            {"ground_energy": float(bqm.energy(dict(zip(bqm.variables, ground)))),
             "ground_degeneracy": int(ground_states.size)})


def _spectral_record(inst: Instance, bqm, full, settings: Settings, seed: int):
    import spectral

    sp = settings.spectral
    if not (sp.enabled and bqm.num_variables <= sp.max_qubits):
        return None
    import simulate

    t = time.perf_counter()
    # sector "auto", as docs/design.md says
    H = spectral.AnnealingHamiltonian.from_bqm(bqm, scale=_scale(inst))
    datasets, attrs = spectral.min_gap(H, s_tol=sp.s_tol, levels=min(sp.levels, H.dim)
                                       ).to_record()
    # the second cause of diabatic loss beside the gap: the schedule's kinks at its ends
    attrs.update(simulate.boundary_terms(H).to_record()[1])
    attrs.update(s_tol=sp.s_tol, seconds=time.perf_counter() - t)
    return datasets, attrs


def _dynamics_record(inst: Instance, bqm, full, settings: Settings, seed: int):
    import simulate

    dy, n = settings.dynamics, bqm.num_variables
    if not (dy.enabled and n <= dy.max_qubits):
        return None
    t = time.perf_counter()
    curve = simulate.success_curve(full, dy.T, t99=dy.t99 and n <= dy.t99_max_qubits,
                                   T_max=dy.t99_max_T, tol=dy.tol)
    datasets, attrs = curve.to_record()
    if dy.protocol:
        attrs.update(simulate.paper_protocol(bqm, seed=seed, scale=_scale(inst)).to_record()[1])
    attrs["seconds"] = time.perf_counter() - t
    return datasets, attrs


def _hardware_record(inst: Instance, bqm, full, settings: Settings, seed: int):
    if not inst.spec.get("hardware"):
        return None
    from simulate.dwave import hardware_sweep

    hw = settings.hardware
    t = time.perf_counter()
    datasets, attrs = hardware_sweep(bqm, hw.annealing_time_us, num_reads=hw.reads, seed=seed,
                                     cardinality=inst.spec.get("m")).to_record()
    attrs["seconds"] = time.perf_counter() - t
    return datasets, attrs


#: the steps of a problem instance after its encoding, each a group of the layout
_PROBLEM_STEPS = ((SPECTRAL, _spectral_record), (DYNAMICS, _dynamics_record),
                  (HARDWARE, _hardware_record))


def empty_reason(inst: Instance) -> str:
    """Why a problem instance has no variables, in words for the file and the summary."""
    form = inst.spec.get("formulation")
    why = ("'paper' keeps the maps with a positive GradCAM weight for the target class, and "
           "this image has none" if form == "paper" else "no map qualified as a candidate")
    return (f"the selection problem has no variables (formulation {form!r}: {why}); there is "
            "nothing to anneal.")


def _problem(inst: Instance, settings: Settings) -> tuple[dict, dict]:
    import spectral

    bqm = inst.payload["bqm"]
    n = bqm.num_variables
    if n == 0:  # the runner records such a problem as empty and never submits it
        raise ValueError(f"{inst.id}: {empty_reason(inst)}")
    data, attrs = {}, {"": {"n": n, "empty": False}}
    _place(data, attrs, BQM, _bqm_record(bqm))
    _place(data, attrs, ENCODING, _encoding_record(inst.payload))
    full = spectral.AnnealingHamiltonian.from_bqm(bqm, sector="full", scale=_scale(inst))
    _place(data, attrs, ENCODING, _ground_record(bqm, full))
    seed = instance_seed(settings.study.seed, inst.id)
    for group, step in _PROBLEM_STEPS:
        record = step(inst, bqm, full, settings, seed)
        if record is not None:
            _place(data, attrs, group, record)
    return data, attrs


def _xai(inst: Instance, settings: Settings) -> tuple[dict, dict]:
    from encoding import xai_study

    from encoding import resolve_device

    p, x = inst.payload, settings.xai
    p["model"].to(resolve_device(inst.spec.get("device", "cpu")))
    # leave-one-out k-NN: a majority of k needs k < the images of a class
    counts = np.bincount(p["data"].labels[p["indices"]].numpy())
    k = int(max(1, min(5, counts[counts > 0].min() - 1)))
    study = xai_study(p["model"], p["data"], layer=inst.spec.get("layer"), indices=p["indices"],
                      methods=list(x.methods), k=k, n_boot=x.n_boot, n_perm=x.n_perm,
                      null=x.null, seed=settings.study.seed, progress=False,
                      max_qubits=x.max_qubits)
    study.arrays["indices"] = np.asarray(inst.spec["images"])  # positions in the held-out set
    datasets, attrs = study.to_record()
    datasets["images"] = p["data"].batch(p["indices"]).numpy().astype(np.float32)
    attrs.update(classes=json.dumps(list(p["data"].classes)), knn_k=k)
    data, out = {}, {}
    _place(data, out, XAI, (datasets, attrs))
    return data, out


def run_instance(inst: Instance, settings: Settings, threads: int = 1) -> dict:
    """Compute one instance; never raises for its own failure.

    Returns
    -------
    dict
        ``id``, ``data``, ``attrs``, ``seconds``, ``worker``, and ``error`` (a traceback) or
        None.
    """
    if inst.kind == "xai":
        # one long torch task (every explainer and metric of one model): it takes the
        # machine's cores, since the problems beside it finish long before it on real images
        _limit_threads(max(threads, os.cpu_count() or 1), torch_too=True)
    else:
        _limit_threads(threads, torch_too=False)
    t = time.perf_counter()
    out = {"id": inst.id, "worker": f"{socket.gethostname()}:{os.getpid()}", "error": None,
           "data": {}, "attrs": {}}
    try:
        data, attrs = (_xai if inst.kind == "xai" else _problem)(inst, settings)
        out["data"], out["attrs"] = data, attrs
    except Exception:  # noqa: BLE001 - recorded with its traceback, the study goes on
        out["error"] = traceback.format_exc()
    out["seconds"] = time.perf_counter() - t
    return out
