"""The study runner: instances as tasks on dask.distributed, results into one HDF5 file.

Workers compute; the client alone writes, as results arrive, one instance at a time
(:class:`studies.store.StudyStore`). A failed instance is recorded with its traceback and the
study goes on. Interrupting (Ctrl-C, SIGTERM, or a kill) leaves a valid file; running the same
command again resumes: complete instances are skipped, failed and half-written ones redone.

A real cluster: start ``dask scheduler`` on one machine, ``dask worker tcp://HOST:8786
--nthreads 1`` on each machine (qaxai installed everywhere, same version), then
``qaxai run CONFIG --scheduler tcp://HOST:8786``.
"""

from __future__ import annotations

import os
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np

from ._plan import plan
from ._tasks import _bqm_record, empty_reason, run_instance
from .config import StudyConfig, load_config
from .exceptions import ConfigError, StoreError
from .store import COMPLETE, EMPTY, StudyStore, _now, check_out, stored_inputs

__all__ = ["run_study", "RunSummary"]


@dataclass
class RunSummary:
    """What :func:`run_study` did.

    Attributes
    ----------
    path : Path
        The study file.
    total, skipped, done, failed : int
        Instances in the study; complete before this run; completed and failed in this run.
    failures : dict of str -> str
        Instance id -> the last line of its error.
    empty : dict of str -> str
        Problem instances without variables (recorded with status "empty", never computed):
        id -> why.
    interrupted : bool
    device : str
        The torch device the CNN side ran on.
    written : bool
        Whether the study file exists after the run (False when it was interrupted before
        any instance was ready to run, or the cluster could not be reached).
    seconds : float
    workers : int
    write_seconds : float
        Client time spent writing HDF5 (the store's overhead).
    compute_seconds : float
        From the first submission to the last result written (cluster start-up and planning
        excluded): the throughput is ``(done + failed) / compute_seconds``.
    arrivals : list of float
        Seconds from the first submission to each result's arrival, in order.
    """

    path: Path
    total: int = 0
    skipped: int = 0
    done: int = 0
    failed: int = 0
    failures: dict = field(default_factory=dict)
    empty: dict = field(default_factory=dict)
    interrupted: bool = False
    written: bool = False
    device: str = ""
    seconds: float = 0.0
    workers: int = 0
    write_seconds: float = 0.0
    compute_seconds: float = 0.0
    arrivals: list = field(default_factory=list)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C."""


def _sigterm(signum, frame):  # pragma: no cover - exercised by the kill test in a subprocess
    raise _Terminated()


def _cluster(scheduler: str | None, workers: int | None):
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise StoreError(f"no Dask scheduler answers at --scheduler {scheduler} ({exc}); "
                             "start one there (dask scheduler; dask worker ADDRESS --nthreads 1 "
                             "on each machine) or leave out --scheduler for a local cluster. "
                             "Nothing was written.") from None
        n = max(1, len(client.scheduler_info().get("workers", {})))
        return client, None, n
    cores = os.cpu_count() or 1
    n = max(1, int(workers) if workers else cores)
    # memory_limit=0: no per-worker limit. Dask's default, an equal share of the machine per
    # worker, kills a worker whose instance needs more than its share even while the others
    # use little (a large minimum gap can), and after three kills fails the instance; the
    # memory guards of spectral and simulate, which count the memory available when they
    # allocate, decide instead
    # the workers' processes ignore Ctrl-C (they inherit the ignored SIGINT): the client
    # alone takes the interrupt, keeps the file valid and closes them
    with _sigint_ignored():
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=40, memory_limit=0)
    return Client(cluster), cluster, n


@contextmanager
def _sigint_ignored():
    """SIGINT ignored inside (main thread only): processes started here inherit it."""
    if not _is_main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_study(config: StudyConfig | str | PathLike, out: str | PathLike | None = None, *,
              scheduler: str | None = None, workers: int | None = None,
              threads_per_task: int | None = None, progress: bool = True,
              device: str | None = None) -> RunSummary:
    """Run (or resume) a study.

    Parameters
    ----------
    config : StudyConfig or path
        A validated config, or a TOML file.
    out : path, optional
        The HDF5 file (default the config's ``[study] out``, else ``results/<name>.h5``).
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); default a LocalCluster.
    workers : int, optional
        LocalCluster worker processes (default: one per core).
    threads_per_task : int, optional
        Numba/torch threads of each task (default: cores // workers on a LocalCluster, 1 on a
        scheduler's workers).
    progress : bool
        A progress bar (done / running / failed).
    device : str, optional
        Where the CNN side runs ("auto", "cpu", "cuda", "cuda:N"; default the config's
        ``[run] device``); recorded with the run and in each XAI instance, not part of the
        config. On a scheduler's cluster an XAI task on a GPU asks for the worker resource
        ``GPU`` (start GPU workers with ``--resources GPU=1``).

    Returns
    -------
    RunSummary
    """
    with _sigterm_as_interrupt():
        return _run_study(config, out, scheduler, workers, threads_per_task, progress, device)


@contextmanager
def _sigterm_as_interrupt():
    """SIGTERM raises KeyboardInterrupt inside (main thread only), as Ctrl-C does."""
    in_main = _is_main_thread()
    previous = signal.getsignal(signal.SIGTERM)
    if in_main:
        signal.signal(signal.SIGTERM, _sigterm)
    try:
        yield
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


def _device(config: StudyConfig, name: str | None):
    """The torch device of the run, checked before anything is loaded or trained."""
    from encoding import EncodingError, resolve_device

    where = "--device" if name is not None else f"{config.source}: [run] device"
    try:
        return resolve_device(name if name is not None else config.settings.run.device)
    except EncodingError as err:
        raise ConfigError(f"{where}: {err}") from None


def _run_study(config, out, scheduler, workers, threads_per_task, progress,
               device=None) -> RunSummary:
    t0 = time.perf_counter()
    config = config if isinstance(config, StudyConfig) else load_config(config)
    path = Path(out) if out is not None else config.default_out
    summary = RunSummary(path=path)
    # the output path, and an existing file's config, before any model is loaded or trained
    statuses = check_out(path, config)
    device = _device(config, device)
    summary.device = str(device)
    summary.written = path.exists()
    client = cluster = store = None
    started = None
    try:
        # every input is found, every model built and checked, before the file is touched
        instances = plan(config, progress=progress, device=device)
        started = _now()  # a run's recorded time is its instances', after planning
        if {COMPLETE, EMPTY} & set(statuses.values()):  # before anything is skipped
            _check_same_inputs(path, stored_inputs(path), instances)
        todo = [i for i in instances if statuses.get(i.id) not in (COMPLETE, EMPTY)]
        summary.total, summary.skipped = len(instances), len(instances) - len(todo)
        summary.empty = {i.id: empty_reason(i) for i in instances
                         if i.kind == "problem" and i.spec["n"] == 0}
        empty = [i for i in todo if i.id in summary.empty]
        todo = [i for i in todo if i.id not in summary.empty]
        if todo:  # the cluster answers before the file is created
            client, cluster, summary.workers = _cluster(scheduler, workers)
        store = StudyStore(path, config)
        summary.written = True
        for inst in empty:
            store.write_empty(inst.id, kind=inst.kind, spec=inst.spec,
                              reason=summary.empty[inst.id])
        if todo:
            cores = os.cpu_count() or 1
            threads = threads_per_task or (1 if scheduler else max(1, cores // summary.workers))
            _run(client, todo, config, threads, store, summary, progress,
                 gpu=bool(scheduler) and device.type == "cuda")
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        summary.seconds = time.perf_counter() - t0
        if store is not None:
            store.record_run({"started": started, "finished": _now(),
                              "workers": summary.workers, "device": summary.device,
                              "scheduler": scheduler or "LocalCluster", "done": summary.done,
                              "failed": summary.failed, "skipped": summary.skipped,
                              "interrupted": summary.interrupted})
    return summary


# the same model on another CPU may round its float32 maps and gradients otherwise (float32's
# eps is 6e-8); a different model moves the biases by far more than this share of the largest
_INPUT_RTOL = 1e-5


#: what an instance's spec records of its inputs (studies._fingerprint), and what it means
_FINGERPRINTS = {"weights_sha256": "was computed with other model weights than this run's",
                 "images_sha256": "was computed from other images than this run's (other "
                                  "images chosen, or other pixels or labels)"}


def _check_same_inputs(path: Path, stored: dict, instances: list) -> None:
    """Refuse to run on a file whose complete instances were computed from other problems than
    this run builds: other weights (a checkpoint replaced, a built-in model trained anew on
    another CPU type), other images (a changed folder, another selection of correctly
    classified images). One file holds the problems of one model. Checked on every run, before
    anything is skipped: by the fingerprints each instance records (per model, whatever the
    instance), by the instance ids (the config being the same, they follow from the inputs),
    and, for instances written before fingerprints were recorded, by their BQMs."""
    from encoding import cache_dir

    built = {inst.id: inst for inst in instances}
    prints = {inst.spec["architecture"]: inst.spec for inst in instances
              if "architecture" in inst.spec and "weights_sha256" in inst.spec}
    for iid, old in sorted(stored.items()):
        now = prints.get(old["spec"].get("architecture"), {})
        why = next((text for key, text in _FINGERPRINTS.items()
                    if key in old["spec"] and key in now and old["spec"][key] != now[key]), None)
        inst = built.get(iid)
        if why is None and inst is None:
            why = ("is not one this run builds (the model classifies other images correctly, "
                   "or the data changed)")
        elif why is None and inst.kind == "xai" and old["spec"].get("images") != \
                inst.spec.get("images"):
            why = "explains other images (the model classifies others correctly)"
        elif why is None and inst.kind == "problem" and old["bqm"] is not None:
            why = _bqm_difference(old["bqm"], *_bqm_record(inst.payload["bqm"]))
        if why is not None:
            raise StoreError(
                f"{path} does not belong to this run: its complete instance "
                f"{iid!r} {why}. The model or the data behind the file changed since it was "
                "started: a built-in model trained anew on another CPU type or with other "
                f"library versions (its cache is {cache_dir()}), a changed checkpoint, "
                "factory or image folder. qaxai does not mix the problems of two models in "
                "one file: resume where the file was started (or copy its cached model there), "
                "restore the inputs, or choose another --out. Nothing was written.")


def _bqm_difference(old: dict, datasets: dict, attrs: dict) -> str | None:
    """Why a stored BQM is not the one built now, or None when it is (to ``_INPUT_RTOL``)."""
    if old["vartype"] != attrs["vartype"] or any(
            np.shape(old.get(k)) != np.shape(v) for k, v in datasets.items()):
        return "was a problem of another size or kind than this run builds"
    for k in ("quadratic_row", "quadratic_col"):
        if not np.array_equal(old[k], datasets[k]):
            return "couples other variables than the problem this run builds"
    scale = max(np.abs(old["linear"]).max(initial=0.0),
                np.abs(old["quadratic_bias"]).max(initial=0.0), abs(old["offset"]))
    diff = max(np.abs(old["linear"] - datasets["linear"]).max(initial=0.0),
               np.abs(old["quadratic_bias"] - datasets["quadratic_bias"]).max(initial=0.0),
               abs(old["offset"] - attrs["offset"]))
    if diff > _INPUT_RTOL * scale:
        return (f"has biases that differ from the problem this run builds by up to {diff:.3g} "
                f"(largest bias {scale:.3g})")
    return None


def _submit(client, todo: list, settings, threads: int, gpu: bool = False) -> list:
    """Submit every instance; returns (future, instance) pairs in submission order. With
    ``gpu``, an XAI task asks for the worker resource ``GPU`` (one task per GPU at a time)."""
    if gpu and any(i.kind == "xai" for i in todo) and not any(
            w.get("resources", {}).get("GPU") for w in
            client.scheduler_info().get("workers", {}).values()):
        raise StoreError("no worker of the cluster declares a GPU: start the GPU workers with "
                         "'dask worker ADDRESS --nthreads 1 --resources GPU=1', or run with "
                         "--device cpu. Nothing was computed.")
    # smallest problems first: results arrive early (a scaling study's largest take hours),
    # and an interrupted run has done the most instances it could
    order = sorted(todo, key=lambda i: i.spec.get("n", 0) if i.kind == "problem" else 0)
    # an XAI instance carries a model and images (tens of MB for a ResNet): scattered to the
    # cluster's memory rather than sent inside the task graph
    return [(client.submit(run_instance,
                           client.scatter(inst, hash=False) if inst.kind == "xai" else inst,
                           settings, threads, pure=False,
                           resources={"GPU": 1} if gpu and inst.kind == "xai" else None,
                           key=f"{inst.id}-{os.getpid()}-{time.time_ns()}"), inst)
            for inst in order]


def _result_of(future, inst) -> dict:
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - a worker died (KilledWorker, memory)
        return {"id": inst.id, "error": f"{type(exc).__name__}: {exc}", "data": {},
                "attrs": {}, "seconds": float("nan"), "worker": ""}


def _write(store: StudyStore, inst, result: dict, summary: RunSummary) -> None:
    """One result into the file and into the summary's accounting."""
    t = time.perf_counter()
    store.write(inst.id, kind=inst.kind, spec=inst.spec, data=result["data"],
                attrs=result["attrs"], seconds=result["seconds"], worker=result["worker"],
                error=result["error"])
    summary.write_seconds += time.perf_counter() - t
    if result["error"]:
        summary.failed += 1
        summary.failures[inst.id] = result["error"].strip().splitlines()[-1]
    else:
        summary.done += 1


def _run(client, todo: list, config: StudyConfig, threads: int, store: StudyStore,
         summary: RunSummary, progress: bool, gpu: bool = False) -> None:
    """Submit the instances and write each result as it arrives, with a progress bar."""
    from dask.distributed import as_completed
    from tqdm.auto import tqdm

    t_submit = time.perf_counter()
    submitted = _submit(client, todo, config.settings, threads, gpu)
    by_key = {future.key: inst for future, inst in submitted}
    remaining = len(submitted)
    with tqdm(total=remaining, desc=f"study {config.name}", unit="instance",
              disable=not progress, dynamic_ncols=True) as bar:
        bar.set_postfix(_postfix(remaining, 0, summary.workers))
        for future in as_completed([future for future, _ in submitted]):
            inst = by_key[future.key]
            _write(store, inst, _result_of(future, inst), summary)
            remaining -= 1
            summary.compute_seconds = time.perf_counter() - t_submit
            summary.arrivals.append(summary.compute_seconds)
            bar.update()
            bar.set_postfix(_postfix(remaining, summary.failed, summary.workers))


def _postfix(remaining: int, failed: int, workers: int) -> dict:
    return {"running": min(remaining, workers), "queued": max(0, remaining - workers),
            "failed": failed}


def _is_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
