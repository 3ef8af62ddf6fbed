"""The HDF5 layout of a study file: every dataset's shape, units and meaning (private).

The store writes these descriptions into each dataset's attributes (``units``, ``meaning``,
``shape``) and refuses a dataset that is not listed here, so the file documents itself and the
README's table (:func:`layout_markdown`) cannot drift from it. Patterns use ``fnmatch``
syntax relative to an instance group ``/instances/<id>``; ``*`` stands for one path part
(e.g. a method or an anneal time).
"""

from __future__ import annotations

from fnmatch import fnmatchcase

__all__ = ["LAYOUT", "describe", "layout_markdown", "ROOT_ATTRS", "INSTANCE_ATTRS", "GROUPS",
           "BQM", "ENCODING", "SPECTRAL", "DYNAMICS", "HARDWARE", "XAI", "in_group",
           "read_group"]

#: the groups of an instance and the record each is written from (``to_record()`` of the
#: result type: datasets and attributes named relative to the group)
BQM, ENCODING, SPECTRAL, DYNAMICS, HARDWARE, XAI = (
    "bqm", "encoding", "spectral", "dynamics", "hardware", "xai")
GROUPS = {
    BQM: "dimod.BinaryQuadraticModel.to_numpy_vectors",
    ENCODING: "the selection problem's relevance, candidates and ground state",
    SPECTRAL: "spectral.MinGap.to_record",
    DYNAMICS: "simulate.SuccessCurve.to_record and simulate.ProtocolResult.to_record",
    HARDWARE: "simulate.dwave.HardwareSweep.to_record",
    XAI: "encoding.XaiStudy.to_record",
}

# an unscaled twin (spec scale "none") keeps H_P in the BQM's units, and so its energies
_E = "energy of H: dimensionless (scaled H_P), BQM energy if spec scale is 'none'"

# pattern -> (shape, units, meaning)
LAYOUT: dict[str, tuple[str, str, str]] = {
    # a problem instance: the BQM, as dimod.BinaryQuadraticModel.to_numpy_vectors gives it
    "bqm/linear": ("(n,)", "BQM energy", "linear biases, variable i = bit i (attrs: vartype, "
                   "offset, labels as JSON)"),
    "bqm/quadratic_row": ("(q,)", "variable index", "first variable of each quadratic term"),
    "bqm/quadratic_col": ("(q,)", "variable index", "second variable of each quadratic term"),
    "bqm/quadratic_bias": ("(q,)", "BQM energy", "quadratic biases"),
    # where it came from
    "encoding/relevance": ("(K,)", "class-score units", "relevance of every map of the "
                           "explained layer (attrs: formulation settings as JSON)"),
    "encoding/candidates": ("(n,)", "channel index", "the candidate maps = the BQM's variables"),
    "encoding/ground_selection": ("(n,)", "0/1 (BINARY) or -1/+1 (SPIN)", "an exact ground "
                                  "state of the BQM (the QUBO's explanation)"),
    # spectral
    "spectral/s": ("(m,)", "schedule parameter s in [0, 1]", "points of the coarse sweep"),
    "spectral/energies": ("(levels, m)", _E, "lowest levels E_j(s) on the coarse sweep"),
    "spectral/gaps": ("(m,)", _E, "Delta(s) = E_d(s) - E_0(s) on the coarse sweep"),
    "spectral/residuals": ("(levels,)", _E, "residual norms of the eigenpairs at s*"),
    # dynamics
    "dynamics/T": ("(k,)", "inverse energy of H (hbar = 1; see spectral/gaps)", "total anneal times"),
    "dynamics/p_success": ("(k,)", "probability", "P(T): ground-manifold population of psi(T)"),
    # hardware stand-in (or QPU) beside the three predictions
    "hardware/annealing_time_us": ("(k,)", "microseconds", "anneal times"),
    "hardware/p_ground": ("(k,)", "probability", "measured (stand-in) P(ground)"),
    "hardware/p_ground_low": ("(k,)", "probability", "Wilson 95 % interval, low"),
    "hardware/p_ground_high": ("(k,)", "probability", "Wilson 95 % interval, high"),
    "hardware/closed_system": ("(k,)", "probability", "closed-system simulation at "
                               "min(t, 0.1 us)"),
    "hardware/boltzmann": ("(k,)", "probability", "freeze-out Boltzmann P(ground), beta "
                           "fitted to the reads"),
    "hardware/beta": ("(k,)", "1 / BQM energy", "fitted inverse temperature"),
    "hardware/chain_break_fraction": ("(k,)", "fraction", "broken chains over all reads"),
    # the XAI instance of one model
    "xai/images": ("(N, C, H, W)", "pixel value in [0, 1]", "the explained images (a "
                   "model's input normalisation is inside the model)"),
    "xai/indices": ("(N,)", "index", "positions in the held-out set"),
    "xai/labels": ("(N,)", "class", "true (= predicted) classes"),
    "xai/*/runner_up": ("(N,)", "class", "second most likely class per image"),
    "xai/*/forward_passes": ("()", "count", "images run through the model's forward pass for "
                             "these weights (captures included)"),
    "xai/*/seconds": ("()", "s", "wall time of these weights' explanations, forward passes "
                      "and statistics"),
    "xai/*/*/heatmaps": ("(N, H, W)", "[0, 1]", "explanation heatmaps (weights/method)"),
    "xai/*/*/channel_vectors": ("(N, K)", "GradCAM weight", "weights of the chosen maps, 0 "
                                "elsewhere"),
    "xai/*/*/selections": ("(N, K)", "0/1", "chosen maps"),
    "xai/*/*/solved_exactly": ("(N,)", "0/1", "1: the selection is a certified ground state "
                               "(enumeration); 0: the best of reproduced tabu search"),
    "xai/*/*/candidates_dropped": ("(N,)", "count", "candidate maps beyond [xai] max_qubits, "
                                   "the weakest relevance first"),
    "xai/*/*/bhattacharyya": ("(C, C)", "coefficient in [0, 1]", "class x class "
                              "Bhattacharyya coefficients of selected-map frequencies"),
    "xai/table/weights": ("(rows,)", "text", "trained or re-initialised"),
    "xai/table/method": ("(rows,)", "text", "explanation method"),
    "xai/table/space": ("(rows,)", "text", "selection, channels or heatmap"),
    "xai/table/metric": ("(rows,)", "text", "metric name"),
    "xai/table/better": ("(rows,)", "text", "higher, lower or -"),
    "xai/table/value": ("(rows,)", "metric units", "the metric's value"),
    "xai/table/low": ("(rows,)", "metric units", "95 % stratified bootstrap interval, low"),
    "xai/table/high": ("(rows,)", "metric units", "95 % stratified bootstrap interval, high"),
    "xai/table/p_value": ("(rows,)", "probability", "class-label permutation p (NaN: none)"),
    "xai/table/n": ("(rows,)", "count", "images"),
}

ROOT_ATTRS = {
    "format": "'qaxai-study'", "format_version": "layout version (int)",
    "qaxai_version": "package version", "git_commit": "commit of the checkout, or ''",
    "config": "the TOML text", "config_sha256": "its hash: a file belongs to one config",
    "config_source": "where the config came from", "library_versions": "JSON",
    "host": "machine name",
    "cpu": "processor model name (absent in older files)", "created": "ISO time (UTC)",
    "runs": "JSON list: start, end, workers, interrupted, done, failed per run",
}

INSTANCE_ATTRS = {
    "status": "'complete' or 'failed' (absent: half-written, redone on resume)",
    "kind": "'problem' or 'xai'",
    "spec": "JSON: what was computed and from what; scale 'none' marks a problem whose H_P "
            "is in the BQM's units (absent: scaled)",
    "error": "traceback of a failed instance", "seconds": "compute time on the worker",
    "worker": "host:pid that computed it",
    "spectral attrs": "delta_min, s_star, degeneracy, sector, scale, matvecs, evaluations, "
                      "delta_rtol (achieved relative accuracy of delta_min), certified (no "
                      "interval of s left where a lower gap may hide), uncertified (JSON), "
                      "certify_rtol, n, seconds, b0 and b1 (the adiabatic theorem's boundary "
                      "terms at s = 0 and 1), t_boundary (sqrt((b0 + b1) / 0.01): the T at "
                      "which they alone leave 1 % outside the ground manifold), "
                      "limit_dimension",
    "dynamics attrs": "t99 (NaN if not computed or not reached; t99_note says why), "
                      "protocol_fidelity, protocol_is_ground, protocol_shots, method (the "
                      "integrator that ran), tol",
}


def describe(path: str) -> tuple[str, str, str]:
    """(shape, units, meaning) of a dataset path inside an instance group.

    Raises
    ------
    KeyError
        If the path is not part of the layout (a programming error: document it first).
    """
    for pattern, info in LAYOUT.items():
        if fnmatchcase(path, pattern) and path.count("/") == pattern.count("/"):
            return info
    raise KeyError(f"dataset {path!r} is not in the study layout (studies/_layout.py).")


def in_group(group: str, record: tuple[dict, dict]) -> tuple[dict, dict]:
    """A result's ``(datasets, attrs)`` placed in ``group``: dataset keys prefixed with the
    group's path, each checked against :data:`LAYOUT`; attrs as they are.

    Raises
    ------
    KeyError
        If the group is unknown or a dataset is not in the layout (document it first).
    """
    if group not in GROUPS:
        raise KeyError(f"unknown group {group!r}; the layout's groups are {list(GROUPS)}.")
    datasets, attrs = record
    placed = {}
    for key, value in datasets.items():
        path = f"{group}/{key}"
        describe(path)
        placed[path] = value
    return placed, dict(attrs)


def read_group(data: dict, group: str) -> dict:
    """The datasets of ``group`` in an instance's ``data`` (path -> array), keyed relative to
    the group, as its record named them (empty when the instance has none)."""
    prefix = f"{group}/"
    return {path[len(prefix):]: value for path, value in data.items() if path.startswith(prefix)}


def layout_markdown() -> str:
    """The layout as a Markdown table (for the README)."""
    lines = ["| dataset (under `/instances/<id>/`) | shape | units | meaning |",
             "| --- | --- | --- | --- |"]
    lines += [f"| `{p}` | {s} | {u} | {m} |" for p, (s, u, m) in LAYOUT.items()]
    return "\n".join(lines)
