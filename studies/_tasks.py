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

from ._plan import Instance, instance_seed

__all__ = ["run_instance"]


def _limit_threads(threads: int, torch_too: bool) -> None:
    import numba

    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    if torch_too:  # importing torch costs seconds: only for the tasks that use it
        import torch

        torch.set_num_threads(max(1, int(threads)))


def _bqm_data(bqm) -> tuple[dict, dict]:
    variables = list(bqm.variables)
    lin, (row, col, quad), offset = bqm.to_numpy_vectors(variable_order=variables)
    data = {"bqm/linear": np.asarray(lin, float), "bqm/quadratic_row": np.asarray(row, np.int64),
            "bqm/quadratic_col": np.asarray(col, np.int64),
            "bqm/quadratic_bias": np.asarray(quad, float)}
    attrs = {"vartype": bqm.vartype.name, "offset": float(offset),
             "labels": json.dumps([v if isinstance(v, (int, str)) else str(v)
                                   for v in variables])}
    return data, attrs


def _problem(inst: Instance, settings: dict) -> tuple[dict, dict]:
    import spectral
    import simulate

    bqm = inst.payload["bqm"]
    n = bqm.num_variables
    data, battrs = _bqm_data(bqm)
    attrs = {"bqm": battrs,
             "encoding": {"metadata": json.dumps(inst.payload["metadata"], default=float)}}
    data["encoding/relevance"] = np.asarray(inst.payload["relevance"], float)
    data["encoding/candidates"] = np.asarray(inst.payload["candidates"], np.int64)
    attrs[""] = {"n": n, "empty": n == 0}
    if n == 0:
        return data, attrs
    # a ground state from H_P's diagonal (bit i = variable i); not encoding's solver, whose
    # import pulls in torch (seconds per worker process)
    full = spectral.AnnealingHamiltonian.from_bqm(bqm, sector="full")
    ground_states = full.ground_states()
    ground = (int(ground_states[0]) >> np.arange(n)) & 1
    if bqm.vartype is dimod.SPIN:
        ground = 2 * ground - 1
    data["encoding/ground_selection"] = ground.astype(np.int64)
    attrs["encoding"]["ground_energy"] = float(bqm.energy(dict(zip(bqm.variables, ground))))
    attrs["encoding"]["ground_degeneracy"] = int(ground_states.size)
    seed = instance_seed(settings["study"]["seed"], inst.id)

    sp = settings["spectral"]
    if sp["enabled"] and n <= sp["max_qubits"]:
        t = time.perf_counter()
        H = spectral.AnnealingHamiltonian.from_bqm(bqm)  # sector "auto", as docs/design.md says
        res = spectral.min_gap(H, s_tol=sp["s_tol"], levels=min(sp["levels"], H.dim))
        data.update({"spectral/s": res.s, "spectral/energies": res.energies,
                     "spectral/gaps": res.gaps, "spectral/residuals": res.residuals})
        attrs["spectral"] = {"delta_min": res.delta_min, "s_star": res.s_star,
                             "degeneracy": res.degeneracy, "sector": res.sector,
                             "scale": res.scale, "matvecs": res.matvecs,
                             "evaluations": res.evaluations, "s_tol": sp["s_tol"],
                             "delta_rtol": res.delta_rtol, "certified": res.certified,
                             "seconds": time.perf_counter() - t}

    dy = settings["dynamics"]
    if dy["enabled"] and n <= dy["max_qubits"]:
        t = time.perf_counter()
        T = np.asarray(dy["T"], float)
        p = np.array([simulate.success_probability(full, float(x), tol=dy["tol"]) for x in T])
        data.update({"dynamics/T": T, "dynamics/p_success": p})
        d = {"method": "auto", "tol": dy["tol"], "t99": float("nan")}
        if dy["t99"] and n <= dy["t99_max_qubits"]:
            try:
                d["t99"] = simulate.time_to_target(full, 0.99, T_max=dy["t99_max_T"], tol=dy["tol"])
            except simulate.SimulationError as exc:
                d["t99_note"] = str(exc)
        if dy["protocol"]:
            pr = simulate.paper_protocol(bqm, seed=seed)
            d.update({"protocol_fidelity": pr.fidelity, "protocol_is_ground": pr.is_ground,
                      "protocol_shots": pr.shots, "protocol_tau": pr.tau, "protocol_dt": pr.dt})
        d["seconds"] = time.perf_counter() - t
        attrs["dynamics"] = d

    hw = settings["hardware"]
    if inst.spec.get("hardware"):
        from simulate.dwave import DWaveAnnealer, PathIntegralQPU, approximate_schedule, compare

        t = time.perf_counter()
        schedule = approximate_schedule()
        rows = []
        for t_us in hw["annealing_time_us"]:
            annealer = DWaveAnnealer(PathIntegralQPU(schedule=schedule, seed=seed), seed=seed)
            run = annealer.run(bqm, annealing_time=t_us, num_reads=hw["reads"],
                               schedule=schedule, cardinality=inst.spec.get("m"))
            cmp_ = compare(bqm, annealing_time_us=t_us, schedule=schedule, measured=run,
                           standin_run=run, num_reads=hw["reads"], seed=seed)
            rows.append((t_us, run.p_ground, *run.p_ground_interval, cmp_.closed_system,
                         cmp_.boltzmann, cmp_.beta, run.chain_break_fraction))
        cols = np.array(rows, float).T
        names = ["annealing_time_us", "p_ground", "p_ground_low", "p_ground_high",
                 "closed_system", "boltzmann", "beta", "chain_break_fraction"]
        data.update({f"hardware/{k}": v for k, v in zip(names, cols)})
        attrs["hardware"] = {"solver": "PathIntegralQPU (offline stand-in)", "reads": hw["reads"],
                             "schedule": schedule.name, "schedule_sha256": schedule.sha256,
                             "seed": seed, "seconds": time.perf_counter() - t}
    return data, attrs


def _xai(inst: Instance, settings: dict) -> tuple[dict, dict]:
    from encoding import xai_study

    p, s = inst.payload, inst.spec
    # leave-one-out k-NN: a majority of k needs k < the images of a class
    counts = np.bincount(p["data"].labels[p["indices"]].numpy())
    k = int(max(1, min(5, counts[counts > 0].min() - 1)))
    study = xai_study(p["model"], p["data"], layer=s.get("layer"), indices=p["indices"],
                      methods=s["methods"], k=k,
                      n_boot=s["n_boot"], n_perm=s["n_perm"], null=s["null"], seed=s["seed"],
                      progress=False)
    study.arrays["indices"] = np.asarray(s["images"])  # positions in the held-out set
    data = {"xai/images": p["data"].images[p["indices"]].numpy().astype(np.float32)}
    for key, value in study.arrays.items():
        data[f"xai/{key}"] = np.asarray(value)
    table = study.table
    for col in ("weights", "method", "space", "metric", "better"):
        data[f"xai/table/{col}"] = [str(r[col]) for r in table]
    for col in ("value", "low", "high", "p_value", "n"):
        data[f"xai/table/{col}"] = np.array([r[col] for r in table], float)
    return data, {"xai": {"classes": json.dumps(list(p["data"].classes)), "knn_k": k}}


def run_instance(inst: Instance, settings: dict, threads: int = 1) -> dict:
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
