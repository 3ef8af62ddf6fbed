"""The HDF5 study store: one file per study, one group per instance, written whole.

Layout (``h5py`` alone reads it)::

    /                      attrs: format, format_version, qaxai_version, git_commit, config,
                           config_sha256, config_source, library_versions, host, cpu, created,
                           runs
    /instances/<id>        attrs: status, kind, spec (JSON), seconds, worker, error
    /instances/<id>/bqm, encoding, spectral, dynamics, hardware, xai   (datasets below)

Every dataset carries ``units``, ``meaning`` and ``shape`` attributes
(:mod:`studies._layout`). Nothing is pickled: arrays, numbers and strings only (JSON for
nested metadata).

Crash safety: the file is opened only while one instance is written (then closed), an
instance group gets its ``status`` attribute only after all its datasets are written and
flushed, and on reopening, groups without ``status`` (half-written) are deleted and redone. A
file that is not a qaxai study, or holds another config's results, is never written to.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import socket
import subprocess
import time
from collections.abc import Mapping
from os import PathLike
from pathlib import Path

import h5py
import numpy as np

from ._layout import describe
from .config import StudyConfig
from .exceptions import StoreError

__all__ = ["StudyStore", "StoreError", "load_study", "StudyData", "FORMAT", "FORMAT_VERSION",
           "check_out", "stored_inputs"]

FORMAT = "qaxai-study"
FORMAT_VERSION = 1
COMPLETE, FAILED, EMPTY = "complete", "failed", "empty"
#: the statuses of a group written whole; a group without one of them is half-written
_WHOLE = (COMPLETE, FAILED, EMPTY)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _git_commit() -> str:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    if out.returncode != 0:
        return ""
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def _library_versions() -> dict:
    from importlib import metadata

    names = ["qaxai", "numpy", "scipy", "numba", "torch", "qutip", "dimod", "dwave-samplers",
             "dwave-system", "minorminer", "h5py", "matplotlib", "scikit-learn", "dask",
             "distributed"]
    out = {"python": platform.python_version(), "hdf5": h5py.version.hdf5_version}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = ""
    return out


def _cpu() -> str:
    """The processor's model name (a trained model's last bits follow its SIMD paths)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_of(attrs: Mapping) -> str:
    """Where a study file was started: its host, and its CPU where the file records one."""
    cpu = attrs.get("cpu")
    return f"{attrs.get('host')} ({cpu})" if cpu else str(attrs.get("host"))


def _open(path: Path, mode: str, wait: float = 60.0) -> h5py.File:
    """Open, waiting up to ``wait`` seconds while another process holds the file's lock (a
    reader such as ``qaxai inspect`` during a run, or the runner during a read)."""
    deadline = time.monotonic() + wait
    delay = 0.01
    while True:
        try:
            return h5py.File(path, mode)
        except OSError as exc:
            if "unable to lock file" in str(exc) and time.monotonic() < deadline:
                time.sleep(delay)
                delay = min(2 * delay, 0.5)
                continue
            advice = (" qaxai does not overwrite it: move it away, or choose another --out."
                      if mode != "r" else "")
            raise StoreError(f"{path} cannot be read as HDF5 (truncated or corrupted?): "
                             f"{exc}.{advice}") from exc


def _check_ours(f: h5py.File, path: Path) -> None:
    if f.attrs.get("format") != FORMAT:
        raise StoreError(f"{path} is an HDF5 file but not a qaxai study (no format='{FORMAT}' "
                         "attribute); qaxai does not write into files it did not create. "
                         "Choose another --out.")
    version = int(f.attrs.get("format_version", -1))
    if version > FORMAT_VERSION:
        raise StoreError(f"{path} has layout version {version}; this qaxai reads up to "
                         f"{FORMAT_VERSION}. Upgrade qaxai.")
    kind = f.get("instances", getclass=True)
    if kind is None or not issubclass(kind, h5py.Group):
        raise StoreError(f"{path} is damaged: a qaxai study file without its /instances group "
                         "(edited by another program, or cut short while it was created). "
                         "qaxai neither reads nor repairs it: rerun the study into another --out.")


def _check_config(f: h5py.File, path: Path, config: StudyConfig) -> None:
    if f.attrs.get("config_sha256") != config.sha256:
        raise StoreError(
            f"{path} holds results of a different config text (written from "
            f"{f.attrs.get('config_source')}, sha256 "
            f"{str(f.attrs.get('config_sha256'))[:12]}...; {config.source} now "
            f"has sha256 {config.sha256[:12]}...). qaxai does not mix results of "
            "two configs: choose another --out, or restore the config the file was "
            "written for (it is stored in the file's 'config' attribute).")


def _statuses(f: h5py.File) -> dict[str, str]:
    return {k: str(g.attrs["status"]) for k, g in f["instances"].items()
            if "status" in g.attrs and g.attrs["status"] in _WHOLE}


def check_out(path: str | PathLike, config: StudyConfig) -> dict[str, str]:
    """Check, writing nothing, that a study of ``config`` can be written to ``path``: a new
    file in a folder that exists or can be made and written, or an existing study file of
    the same config text. The runner calls it before it loads or trains any model.

    Returns
    -------
    dict
        Instance id -> ``"complete"``, ``"failed"`` or ``"empty"`` of an existing file (no
        entry for a new one).

    Raises
    ------
    StoreError
        Naming the path, what is wrong with it and what to do.
    """
    path = Path(path)
    if path.is_dir():
        raise StoreError(f"{path} is a folder; the study is one HDF5 file: give a file name "
                         f"(--out {path / (config.name + '.h5')}).")
    if path.exists():
        if not os.access(path, os.R_OK | os.W_OK):
            raise StoreError(f"{path} exists but cannot be written (permissions); choose "
                             "another --out or make it writable.")
        with _open(path, "r") as f:
            _check_ours(f, path)
            _check_config(f, path, config)
            return _statuses(f)
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise StoreError(f"{path} cannot be created: {folder} is a file, not a folder. Choose "
                         "another --out.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreError(f"{path} cannot be created: no permission to write in {folder}. "
                         "Choose another --out.")
    return {}


def stored_inputs(path: str | PathLike) -> dict[str, dict]:
    """What each complete (or empty) instance of a study file was computed from: ``id ->
    {"spec": {...}, "bqm": {dataset: ndarray, "offset": float, "vartype": str} or None}`` (the
    check a resumed run makes that it would compute the same problems)."""
    out = {}
    with _open(Path(path), "r") as f:
        for k, g in f["instances"].items():
            if g.attrs.get("status") not in (COMPLETE, EMPTY):
                continue
            bqm = None
            if "bqm" in g:
                b = g["bqm"]
                bqm = {name: b[name][()] for name in b}
                bqm.update(offset=float(b.attrs["offset"]), vartype=str(b.attrs["vartype"]))
            out[k] = {"spec": json.loads(g.attrs.get("spec", "{}")), "bqm": bqm}
    return out


def _write_value(group: h5py.Group, name: str, value, rel: str) -> None:
    shape, units, meaning = describe(rel)
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], str):
        data = np.array(value, dtype=h5py.string_dtype())
    else:
        data = np.asarray(value)
        if data.dtype == object or data.dtype.kind in "USO":
            raise TypeError(f"{rel}: only numeric arrays and lists of str are stored, got "
                            f"{data.dtype}.")
    ds = group.create_dataset(name, data=data)
    ds.attrs.update({"shape": shape, "units": units, "meaning": meaning})


def _attr_value(value):
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=float)
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    return value


class StudyStore:
    """The writer of one study file (the runner's client is its only user).

    Parameters
    ----------
    path : str or path
    config : StudyConfig
        A new file records it; an existing file must have been written for the same config
        text (else :class:`StoreError`).

    Attributes
    ----------
    path : Path
    discarded : list of str
        Half-written instance groups found (and deleted) on opening.
    """

    def __init__(self, path: str | PathLike, config: StudyConfig):
        self.path = Path(path)
        self.config = config
        self.discarded: list[str] = []
        if self.path.exists():
            self._reopen()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".creating")
            versions = _library_versions()
            with h5py.File(tmp, "w") as f:
                f.attrs.update({
                    "format": FORMAT, "format_version": FORMAT_VERSION,
                    "qaxai_version": versions["qaxai"], "git_commit": _git_commit(),
                    "config": config.text, "config_sha256": config.sha256,
                    "config_source": config.source,
                    "library_versions": json.dumps(versions),
                    "host": socket.gethostname(), "cpu": _cpu(), "created": _now(),
                    "runs": "[]"})
                f.create_group("instances")
            os.replace(tmp, self.path)  # a file either exists whole or not at all

    def _reopen(self) -> None:
        with _open(self.path, "r+") as f:
            _check_ours(f, self.path)
            _check_config(f, self.path, self.config)
            instances = f["instances"]
            for name in list(instances):
                if instances[name].attrs.get("status") not in _WHOLE:
                    del instances[name]
                    self.discarded.append(name)

    # -- reading ---------------------------------------------------------------------------
    def statuses(self) -> dict[str, str]:
        """Instance id -> ``"complete"`` or ``"failed"``."""
        with _open(self.path, "r") as f:
            return _statuses(f)

    # -- writing ---------------------------------------------------------------------------
    def write(self, instance_id: str, *, kind: str, spec: Mapping, data: Mapping | None = None,
              attrs: Mapping | None = None, seconds: float = float("nan"), worker: str = "",
              error: str | None = None) -> None:
        """Write one instance whole, then mark it complete (or failed, with ``error``).

        Parameters
        ----------
        instance_id : str
            Group name under ``/instances`` (no ``/``).
        kind : str
        spec : mapping
            JSON-serialisable description of the instance.
        data : mapping of str -> array or list of str
            Dataset paths relative to the instance group (each must be in the layout).
        attrs : mapping of str -> mapping
            Attributes per sub-group path (``""`` = the instance group itself).
        """
        if not instance_id or "/" in instance_id:
            raise ValueError(f"instance ids are non-empty and contain no '/', got "
                             f"{instance_id!r}.")
        data = dict(data or {})
        attrs = dict(attrs or {})
        with _open(self.path, "r+") as f:
            instances = f["instances"]
            if instance_id in instances:  # a failed (or discarded) earlier try
                del instances[instance_id]
            g = instances.create_group(instance_id)
            for rel in sorted(data):
                parent, _, name = rel.rpartition("/")
                _write_value(g.require_group(parent) if parent else g, name, data[rel], rel)
            for rel, values in attrs.items():
                target = g.require_group(rel) if rel else g
                target.attrs.update({k: _attr_value(v) for k, v in values.items()})
            g.attrs.update({"kind": kind, "spec": json.dumps(dict(spec), default=float),
                            "seconds": float(seconds), "worker": worker})
            if error is not None:
                g.attrs["error"] = error
            f.flush()
            g.attrs["status"] = FAILED if error is not None else COMPLETE
            f.flush()

    def write_empty(self, instance_id: str, *, kind: str, spec: Mapping, reason: str) -> None:
        """Record a problem that has no variables (nothing to anneal): status ``"empty"`` and
        the ``reason``, no datasets. It is neither complete nor failed: results and figures
        leave it out, the report counts it, and a rerun skips it."""
        with _open(self.path, "r+") as f:
            instances = f["instances"]
            if instance_id in instances:
                del instances[instance_id]
            g = instances.create_group(instance_id)
            g.attrs.update({"kind": kind, "spec": json.dumps(dict(spec), default=float),
                            "reason": reason})
            f.flush()
            g.attrs["status"] = EMPTY
            f.flush()

    def record_run(self, run: Mapping) -> None:
        """Append one run's summary (times, workers, counts) to the root ``runs`` attribute."""
        with _open(self.path, "r+") as f:
            runs = json.loads(f.attrs.get("runs", "[]"))
            runs.append(dict(run))
            f.attrs["runs"] = json.dumps(runs, default=str)


# -- reading a study file (figures, inspect) ------------------------------------------------
class StudyData:
    """A study file read into memory (complete instances only).

    Attributes
    ----------
    attrs : dict
        Root attributes (provenance).
    instances : dict of str -> dict
        ``id -> {"attrs": {...}, "spec": {...}, "data": {path: ndarray}, "group_attrs":
        {path: {...}}}``.
    failed : dict of str -> str
        id -> error of failed instances.
    empty : dict of str -> str
        id -> why a problem has no variables (nothing was computed for it).
    """

    def __init__(self, attrs, instances, failed, empty=None):
        self.attrs, self.instances, self.failed = attrs, instances, failed
        self.empty = dict(empty or {})

    def of_kind(self, kind: str) -> dict:
        return {k: v for k, v in self.instances.items() if v["attrs"].get("kind") == kind}


def _read_group(g: h5py.Group, prefix: str, data: dict, group_attrs: dict) -> None:
    group_attrs[prefix] = {k: _decode(v) for k, v in g.attrs.items()}
    for name, item in g.items():
        rel = f"{prefix}/{name}" if prefix else name
        if isinstance(item, h5py.Group):
            _read_group(item, rel, data, group_attrs)
        else:
            value = item[()]
            if item.dtype.kind == "O" or h5py.check_string_dtype(item.dtype):
                value = item.asstr()[()]
            data[rel] = value


def _decode(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.generic):
        return v.item()
    return v


def load_study(path: str | PathLike) -> StudyData:
    """Read a study file (complete instances only) with clear errors for bad files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"study file {path} does not exist.")
    with _open(path, "r") as f:
        _check_ours(f, path)
        attrs = {k: _decode(v) for k, v in f.attrs.items()}
        instances, failed, empty = {}, {}, {}
        name = None
        try:
            for name, g in f["instances"].items():
                status = g.attrs.get("status")
                if status == FAILED:
                    failed[name] = str(g.attrs.get("error", ""))
                elif status == EMPTY:
                    empty[name] = str(g.attrs.get("reason", ""))
                if status != COMPLETE:
                    continue
                data, group_attrs = {}, {}
                _read_group(g, "", data, group_attrs)
                top = group_attrs.pop("")
                instances[name] = {"attrs": top, "spec": json.loads(top.get("spec", "{}")),
                                   "data": data, "group_attrs": group_attrs}
        except (OSError, KeyError, ValueError, RuntimeError) as exc:
            where = f" in /instances/{name}" if name else ""
            raise StoreError(f"{path} is damaged{where}: {type(exc).__name__}: {exc}. Rerun "
                             "the study (the same command resumes: move the damaged file "
                             "away first) or read the file's other instances with h5py.") \
                from exc
    return StudyData(attrs, instances, failed, empty)
