"""The D-Wave adapter: a logical problem on a structured annealer, with a stored embedding
and the statistics needed to compare it with simulation (private; public as
``simulate.dwave.DWaveAnnealer``)."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field

import dimod
import minorminer
import numpy as np
from dwave.embedding import embed_bqm
from dwave.embedding.chain_strength import uniform_torque_compensation
from dwave.system import DWaveSampler, FixedEmbeddingComposite

from ..exceptions import SimulationError, SolverUnavailableError
from ._standin import auto_scale_divisor
from ._statistics import enumerate_energies, wilson_interval

__all__ = ["DWaveAnnealer", "HardwareResult", "has_credentials"]

#: solver properties kept with every result (the rest is large or irrelevant here)
_PROPERTY_KEYS = ("chip_id", "category", "topology", "h_range", "j_range", "extended_j_range",
                  "annealing_time_range", "default_annealing_time", "num_qubits")


def _configured_token() -> str | None:
    """The token from ``DWAVE_API_TOKEN`` or dwave-cloud-client's config file, or None (for
    checks and scrubbing only: never returned to users or logged)."""
    token = os.environ.get("DWAVE_API_TOKEN")
    if token:
        return token
    try:
        from dwave.cloud.config import load_config
        return load_config().get("token") or None
    except Exception:  # noqa: BLE001 - any config problem means "no usable credentials"
        return None


def has_credentials() -> bool:
    """Whether a D-Wave API token is configured (``DWAVE_API_TOKEN`` or dwave-cloud-client's
    config file). Never returns or logs the token."""
    return _configured_token() is not None


def _scrub(message: str) -> str:
    """The message with any configured token replaced (errors must never carry it)."""
    token = _configured_token()
    return message.replace(token, "<token>") if token else message


@dataclass
class HardwareResult:
    """What :meth:`DWaveAnnealer.run` returns.

    Attributes
    ----------
    sampleset : dimod.SampleSet
        Logical samples (chains resolved by majority vote), with ``chain_break_fraction``.
    p_ground : float
        Fraction of reads at the ground energy (exact enumeration of the logical problem).
    p_ground_interval : (float, float)
        Wilson 95 % interval of ``p_ground``.
    ground_energy : float
    levels, level_counts : ndarray
        Distinct sampled energies (ascending) and their read counts.
    feasible_fraction : float or None
        Fraction of reads with exactly ``cardinality`` ones (BINARY form), when given.
    chain_break_fraction : float
        Mean over reads of the fraction of broken chains.
    chain_strength : float
    auto_scale_divisor : float
        h and J of the embedded problem are divided by this on the chip (computed locally as
        the QPU does; 1 with ``auto_scale=False``).
    annealing_time_us : float or None
    anneal_schedule : list or None
    schedule_sha256 : str
        Hash of the anneal (annealing time or s(t) points, and the GHz schedule when known).
    timing : dict
    solver : dict
        A subset of the solver's properties.
    embedding : dict
        Logical variable -> its chain of physical qubits (``chain_lengths`` gives their
        lengths).
    """

    sampleset: dimod.SampleSet
    p_ground: float
    p_ground_interval: tuple
    ground_energy: float
    levels: np.ndarray
    level_counts: np.ndarray
    feasible_fraction: float | None
    chain_break_fraction: float
    chain_strength: float
    auto_scale_divisor: float
    annealing_time_us: float | None
    anneal_schedule: list | None
    schedule_sha256: str
    timing: dict
    solver: dict
    embedding: dict = field(repr=False)

    @property
    def chain_lengths(self) -> dict:
        """Logical variable -> number of physical qubits."""
        return {v: len(c) for v, c in self.embedding.items()}

    def to_record(self) -> tuple[dict, dict]:
        """``(datasets, attrs)``: the sampled energies, their counts and the levels as arrays;
        numbers and JSON strings as attributes (nothing pickled; the token never appears)."""
        datasets = {"levels": np.asarray(self.levels, float),
                    "level_counts": np.asarray(self.level_counts, np.int64),
                    "energies": np.asarray(self.sampleset.record.energy, float),
                    "num_occurrences": np.asarray(self.sampleset.record.num_occurrences,
                                                  np.int64)}
        attrs = {
            "p_ground": float(self.p_ground), "p_ground_low": float(self.p_ground_interval[0]),
            "p_ground_high": float(self.p_ground_interval[1]),
            "ground_energy": float(self.ground_energy),
            "feasible_fraction": np.nan if self.feasible_fraction is None
            else float(self.feasible_fraction),
            "chain_break_fraction": float(self.chain_break_fraction),
            "chain_strength": float(self.chain_strength),
            "max_chain_length": max(self.chain_lengths.values(), default=0),
            "auto_scale_divisor": float(self.auto_scale_divisor),
            "annealing_time_us": np.nan if self.annealing_time_us is None
            else float(self.annealing_time_us),
            "anneal_schedule": json.dumps(self.anneal_schedule),
            "schedule_sha256": self.schedule_sha256,
            "timing": json.dumps(self.timing, default=float),
            "solver": json.dumps(self.solver, default=str),
            "embedding": json.dumps({str(k): [int(q) for q in v]
                                     for k, v in self.embedding.items()}),
            "chain_lengths": json.dumps({str(k): int(v) for k, v in self.chain_lengths.items()}),
        }
        return datasets, attrs


class DWaveAnnealer:
    """Runs logical BQMs on a structured D-Wave sampler with a stored, seeded embedding.

    Parameters
    ----------
    child : dimod structured sampler, optional
        A QPU (``DWaveSampler``), ``MockDWaveSampler`` or :class:`PathIntegralQPU`. Default:
        ``DWaveSampler()`` when credentials are configured; otherwise an error that says how
        to configure them (no network is touched without them).
    embedding : dict, optional
        A fixed embedding (logical variable -> physical qubits) to use for every problem.
    seed : int, optional
        Seed of minorminer's embedding search (embeddings are then reproducible).
    """

    def __init__(self, child=None, *, embedding: dict | None = None, seed: int | None = None):
        if child is None:
            if not has_credentials():
                raise SimulationError(
                    "no D-Wave credentials: set DWAVE_API_TOKEN or run `dwave config create` "
                    "(dwave-cloud-client) to use a QPU, or pass child=PathIntegralQPU() / "
                    "MockDWaveSampler() to work offline.")
            try:
                child = DWaveSampler()
            except Exception as exc:  # noqa: BLE001 - re-raised without the token
                raise SolverUnavailableError(_scrub(f"could not open a D-Wave solver: {exc}")) from None
        if not isinstance(child, dimod.Structured):
            raise SimulationError("the child sampler must be structured (have nodelist and "
                                  "edgelist), like DWaveSampler or MockDWaveSampler.")
        self.child = child
        self.seed = seed
        self._fixed = dict(embedding) if embedding is not None else None
        self._embeddings: dict[str, dict] = {}

    # --- embedding ------------------------------------------------------------------------
    @staticmethod
    def _graph_key(bqm) -> str:
        nodes = sorted(map(repr, bqm.variables))
        edges = sorted(tuple(sorted((repr(u), repr(v)))) for u, v in bqm.quadratic)
        return hashlib.sha256(json.dumps([nodes, edges]).encode()).hexdigest()

    def embedding_for(self, bqm: dimod.BinaryQuadraticModel) -> dict:
        """The embedding of ``bqm``'s graph: found once per problem graph (seeded
        minorminer), then reused."""
        if self._fixed is not None:
            missing = [v for v in bqm.variables if v not in self._fixed]
            if missing:
                raise SimulationError(f"the given embedding lacks variables {missing[:5]}.")
            return self._fixed
        key = self._graph_key(bqm)
        if key not in self._embeddings:
            emb = minorminer.find_embedding(
                list(bqm.quadratic), self.child.edgelist,
                random_seed=self.seed if self.seed is not None else 0)
            for v in bqm.variables:  # isolated variables: any free qubit
                if v not in emb:
                    used = {q for chain in emb.values() for q in chain}
                    emb[v] = [next(q for q in self.child.nodelist if q not in used)]
            if not emb or len(emb) < bqm.num_variables:
                raise SimulationError("minorminer found no embedding of this problem on the "
                                      "solver's graph.")
            self._embeddings[key] = {v: list(c) for v, c in emb.items()}
        return self._embeddings[key]

    # --- sampling ---------------------------------------------------------------------------
    def run(self, bqm: dimod.BinaryQuadraticModel, *, annealing_time: float | None = None,
            anneal_schedule=None, num_reads: int = 1000, chain_strength: float | None = None,
            auto_scale: bool = True, cardinality: int | None = None,
            schedule=None, label: str | None = None) -> HardwareResult:
        """Sample ``bqm`` and summarise the reads.

        Parameters
        ----------
        annealing_time : float, optional
            µs (default: the solver's default). Exclusive with ``anneal_schedule``.
        anneal_schedule : list of (t_us, s), optional
            Checked with ``DWaveSampler.validate_anneal_schedule`` against the solver.
        num_reads : int
        chain_strength : float, optional
            Default: uniform torque compensation on the SPIN form (on the BINARY form it comes
            out about 4x larger).
        auto_scale : bool
        cardinality : int, optional
            For k-of-n formulations: report the fraction of reads with exactly k ones.
        schedule : DWaveSchedule, optional
            The solver's A(s), B(s), hashed into ``schedule_sha256`` when given.
        """
        if num_reads < 1:
            raise SimulationError(f"num_reads must be >= 1, got {num_reads}.")
        if annealing_time is not None and anneal_schedule is not None:
            raise SimulationError("give annealing_time or anneal_schedule, not both.")
        kwargs = {"num_reads": int(num_reads)}
        if not auto_scale:  # the QPU default is True; only a change is sent
            kwargs["auto_scale"] = False
        if anneal_schedule is not None:
            anneal_schedule = [[float(t), float(s)] for t, s in anneal_schedule]
            try:
                DWaveSampler.validate_anneal_schedule(self.child, anneal_schedule)
            except (ValueError, TypeError, RuntimeError) as exc:
                raise SimulationError(f"invalid anneal_schedule for this solver: {exc}") from None
            kwargs["anneal_schedule"] = anneal_schedule
        elif annealing_time is not None:
            lo, hi = self.child.properties.get("annealing_time_range", (0.0, np.inf))
            if not lo <= annealing_time <= hi:
                raise SimulationError(f"annealing_time {annealing_time} µs is outside the "
                                      f"solver's range [{lo}, {hi}] µs.")
            kwargs["annealing_time"] = float(annealing_time)
        if label is not None:
            kwargs["label"] = label
        spin = bqm.change_vartype(dimod.SPIN, inplace=False)
        embedding = self.embedding_for(bqm)
        if chain_strength is None:
            chain_strength = float(uniform_torque_compensation(spin, embedding))
        target = self.child.adjacency
        embedded = embed_bqm(spin, embedding, target, chain_strength=chain_strength)
        h_emb, J_emb, _ = embedded.to_ising()
        props = self.child.properties
        divisor = (auto_scale_divisor(h_emb.values(), J_emb.values(), props["h_range"],
                                      props["j_range"]) if auto_scale else 1.0)
        t0 = time.perf_counter()
        ss = FixedEmbeddingComposite(self.child, embedding).sample(
            bqm, chain_strength=chain_strength, **kwargs)
        wall = time.perf_counter() - t0
        return self._summarise(bqm, ss, embedding, chain_strength, divisor, annealing_time,
                               anneal_schedule, cardinality, schedule, wall)

    def _summarise(self, bqm, ss, embedding, chain_strength, divisor, annealing_time,
                   anneal_schedule, cardinality, schedule, wall) -> HardwareResult:
        energies_all, _ = enumerate_energies(bqm)
        e0 = float(np.min(energies_all))
        atol = 1e-9 * max(1.0, abs(e0))
        counts = np.asarray(ss.record.num_occurrences, dtype=np.int64)
        energies = np.asarray(ss.record.energy, dtype=float)
        reads = int(counts.sum())
        hits = int(counts[energies <= e0 + atol].sum())
        levels, inverse = np.unique(np.round(energies, 9), return_inverse=True)
        level_counts = np.bincount(inverse, weights=counts).astype(np.int64)
        feasible = None
        if cardinality is not None:
            binary = ss.change_vartype(dimod.BINARY, inplace=False) \
                if ss.vartype is dimod.SPIN else ss
            ones = np.asarray(binary.record.sample).sum(axis=1)
            feasible = float(counts[ones == cardinality].sum() / reads)
        breaks = np.asarray(ss.record.chain_break_fraction, dtype=float) \
            if "chain_break_fraction" in ss.record.dtype.names else np.zeros(len(ss))
        anneal = {"annealing_time_us": annealing_time, "anneal_schedule": anneal_schedule,
                  "default_annealing_time": self.child.properties.get("default_annealing_time"),
                  "schedule": schedule.sha256 if schedule is not None else None}
        timing = dict(ss.info.get("timing", {}))
        timing["wall_s"] = wall
        return HardwareResult(
            sampleset=ss, p_ground=hits / reads, p_ground_interval=wilson_interval(hits, reads),
            ground_energy=e0, levels=levels, level_counts=level_counts,
            feasible_fraction=feasible,
            chain_break_fraction=float(np.sum(breaks * counts) / reads),
            chain_strength=float(chain_strength), auto_scale_divisor=float(divisor),
            annealing_time_us=annealing_time, anneal_schedule=anneal_schedule,
            schedule_sha256=hashlib.sha256(json.dumps(anneal, sort_keys=True).encode())
            .hexdigest(),
            timing=timing,
            solver={k: self.child.properties[k] for k in _PROPERTY_KEYS
                    if k in self.child.properties},
            embedding={v: list(c) for v, c in embedding.items()})
