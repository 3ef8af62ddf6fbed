"""Reading BQM problem files, and the problems that ship with qaxai.

Formats (chosen by the file's content, then its suffix):

- dimod's binary BQM file (``bqm.to_file()``), any suffix;
- JSON: dimod's ``bqm.to_serializable()``, or the plain form
  ``{"vartype": "BINARY", "linear": {"a": 1.0}, "quadratic": [["a", "b", -2.0]], "offset": 0.0}``;
- COO text (``i j bias`` per line, dimod's ``coo`` format): needs the vartype, from a
  ``# vartype=SPIN`` header line or the ``vartype`` argument. COO keeps no offset.

A name ``builtin:NAME`` loads a shipped problem; :func:`builtin_problems` lists them.

:func:`random_selection_bqm` is the random "choose m of n" selection QUBO that the random
problems of a study and the benchmarks use. Two generated families are hard for a
minimum-gap search and for annealing:
:func:`perturbative_crossing_bqm` (a first-order avoided crossing whose gap shrinks
exponentially with n) and :func:`rounded_ising_bqm` (random couplings near -1, 0, +1, whose
near-ties give narrow crossings).
"""

from __future__ import annotations

import json
from importlib import resources
from os import PathLike
from pathlib import Path

import dimod
import numpy as np

from .exceptions import ProblemFileError

__all__ = ["load_bqm", "builtin_problems", "random_selection_bqm", "perturbative_crossing_bqm",
           "rounded_ising_bqm"]

PENALTIES = ("proven", "loose")

_BUILTIN_PREFIX = "builtin:"


def builtin_problems() -> dict[str, str]:
    """Names of the shipped problems and a one-line description of each."""
    out = {}
    for entry in resources.files("studies.data").iterdir():
        if entry.name.endswith(".json"):
            meta = json.loads(entry.read_text()).get("info", {})
            out[entry.name[:-5]] = meta.get("description", "")
    return dict(sorted(out.items()))


def load_bqm(source: str | PathLike, *, vartype: str | None = None) -> dimod.BinaryQuadraticModel:
    """Read a BQM from a file, or a shipped one by ``"builtin:NAME"``.

    Parameters
    ----------
    source : str or path
        File path, or ``builtin:NAME``.
    vartype : {"SPIN", "BINARY"}, optional
        Needed only for COO files without a ``# vartype=`` header.

    Raises
    ------
    FileNotFoundError
        If the file (or the builtin name) does not exist.
    ValueError
        If the content is not a BQM in any supported format.
    """
    text_source = str(source)
    if text_source.startswith(_BUILTIN_PREFIX):
        name = text_source[len(_BUILTIN_PREFIX):]
        entry = resources.files("studies.data") / f"{name}.json"
        if not entry.is_file():
            raise FileNotFoundError(
                f"no builtin problem {name!r}; available: {', '.join(builtin_problems())}."
            )
        return _from_json(json.loads(entry.read_text()), text_source)
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"problem file {path} does not exist (or is not a file).")
    raw = path.read_bytes()
    if raw.startswith(b"DIMODBQM"):
        try:
            with path.open("rb") as fh:
                return _same_vartype(dimod.BinaryQuadraticModel.from_file(fh), path, vartype)
        except (ValueError, KeyError, TypeError, EOFError, OSError) as exc:
            if isinstance(exc, ProblemFileError):
                raise
            raise ProblemFileError(f"{path} starts as a dimod BQM file but cannot be read "
                                   f"({type(exc).__name__}: {exc}): truncated or damaged? "
                                   "Write it again with bqm.to_file().") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProblemFileError(f"{path} is neither a dimod BQM file nor text (JSON or COO).") from exc
    stripped = text.lstrip()
    if not stripped:
        raise ProblemFileError(f"{path} is empty; a problem file holds a dimod BQM, JSON or COO "
                               "text ('i j bias' lines).")
    if stripped[0] in "{[":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProblemFileError(f"{path} looks like JSON but does not parse: {exc}") from exc
        return _same_vartype(_from_json(data, str(path)), path, vartype)
    return _from_coo(text, str(path), vartype)


def _same_vartype(bqm: dimod.BinaryQuadraticModel, path: Path, vartype: str | None
                  ) -> dimod.BinaryQuadraticModel:
    """A file that states its vartype is read as it says; a ``vartype`` argument that
    contradicts it is refused, not applied."""
    if vartype is not None and _vartype(vartype, str(path)) is not bqm.vartype:
        raise ProblemFileError(f"{path} is a {bqm.vartype.name} problem; --vartype {vartype} "
                               "contradicts it (--vartype is for COO files without a "
                               "'# vartype=' header): leave it out.")
    return bqm


_JSON_FORM = ('give dimod\'s to_serializable() output or {"vartype": ..., "linear": {...}, '
              '"quadratic": [[u, v, bias], ...], "offset": ...}')


def _from_json(data: dict, where: str) -> dimod.BinaryQuadraticModel:
    if not isinstance(data, dict):
        raise ProblemFileError(f"{where}: a JSON problem must be an object, got a JSON "
                               f"{'array' if isinstance(data, list) else type(data).__name__}; "
                               f"{_JSON_FORM} (COO text is 'i j bias' lines, not JSON).")
    if data.get("type") == "BinaryQuadraticModel":
        try:
            return dimod.BinaryQuadraticModel.from_serializable(data)
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            what = f"lacks {exc}" if isinstance(exc, KeyError) else f"is malformed ({exc})"
            raise ProblemFileError(f"{where}: a dimod serializable BQM (type "
                                   f"'BinaryQuadraticModel') that {what}; write it whole with "
                                   "json.dump(bqm.to_serializable(), f).") from exc
    if "bqm" in data:  # the shipped problems wrap a serialisable BQM with "info"
        return _from_json(data["bqm"], where)
    missing = [key for key in ("vartype", "linear") if key not in data]
    if missing:
        raise ProblemFileError(
            f"{where}: JSON problem lacks {missing}; give dimod's to_serializable() output or "
            '{"vartype": ..., "linear": {...}, "quadratic": [[u, v, bias], ...], "offset": ...}.'
        )
    if not isinstance(data["linear"], dict):
        raise ProblemFileError(f"{where}: \"linear\" must be an object {{variable: bias}}, got a "
                               f"JSON {_json_type(data['linear'])}; {_JSON_FORM}.")
    if not isinstance(data.get("quadratic", []), list):
        raise ProblemFileError(f"{where}: \"quadratic\" must be a list of [u, v, bias], got a "
                               f"JSON {_json_type(data['quadratic'])}.")
    quadratic = {}
    for item in data.get("quadratic", []):
        if not (isinstance(item, (list, tuple)) and len(item) == 3):
            raise ProblemFileError(f"{where}: each quadratic entry must be [u, v, bias], got {item!r}.")
        u, v, bias = item
        bias = _bias(bias, where, f"the coupling ({u!r}, {v!r})")
        quadratic[(u, v)] = quadratic.get((u, v), 0.0) + bias
    return dimod.BinaryQuadraticModel(
        {k: _bias(v, where, f"variable {k!r}") for k, v in data["linear"].items()}, quadratic,
        _bias(data.get("offset", 0.0), where, "the offset"), _vartype(data["vartype"], where),
    )


def _json_type(value) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), "number" if isinstance(value, (int, float)) else type(value).__name__)


def _bias(value, where: str, what: str) -> float:
    """A finite number, or an error naming the file and the entry."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise ProblemFileError(f"{where}: the bias of {what} must be a finite number, got "
                               f"{value!r}.")
    return float(value)


def _from_coo(text: str, where: str, vartype: str | None) -> dimod.BinaryQuadraticModel:
    header = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#") and "vartype=" in line:
            header = line.split("vartype=", 1)[1].split()[0]
    if vartype is not None and header is not None and \
            _vartype(vartype, where) is not _vartype(header, where):
        raise ProblemFileError(f"{where}: its header says vartype={header}, --vartype says "
                               f"{vartype}; the two contradict each other: leave out --vartype "
                               "(it is for COO files without a header) or fix the header.")
    vt = vartype or header
    if vt is None:
        raise ProblemFileError(
            f"{where}: a COO problem needs its vartype: add a '# vartype=BINARY' (or SPIN) line, "
            "or pass --vartype."
        )
    bqm = dimod.BinaryQuadraticModel(_vartype(vt, where))
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        try:
            i, j, bias = int(fields[0]), int(fields[1]), float(fields[2])
            ok = len(fields) == 3 and i >= 0 and j >= 0 and np.isfinite(bias)
        except (ValueError, IndexError):
            ok = False
        if not ok:
            raise ProblemFileError(
                f"{where}, line {number}: {line.strip()!r} is not 'i j bias' (two variable "
                "indices >= 0 and a finite number); fix or remove the line.")
        if i == j:
            bqm.add_linear(i, bias)
        else:
            bqm.add_quadratic(i, j, bias)
    return bqm


def _vartype(value, where: str) -> dimod.Vartype:
    try:
        return dimod.as_vartype(value)
    except (TypeError, ValueError) as exc:
        raise ProblemFileError(f"{where}: vartype must be 'SPIN' or 'BINARY', got {value!r}.") from exc


def _random_selection(n: int, seed: int, penalty: str, beta: float):
    from encoding import cardinality_bqm, cardinality_penalty

    if penalty not in PENALTIES:
        raise ProblemFileError(f"penalty must be one of {PENALTIES}, got {penalty!r}.")
    if int(n) < 1 or int(seed) < 0:
        raise ProblemFileError(f"need n >= 1 and seed >= 0, got n={n!r}, seed={seed!r}.")
    rng = np.random.default_rng([int(n), int(seed)])
    r = rng.uniform(0.05, 1.0, n)
    X = rng.random((n, 64)) ** 3
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    R = X @ X.T
    np.fill_diagonal(R, 0.0)
    m = max(1, int(round(n / 4)))
    rh = r / r.max()
    if penalty == "proven":
        lam = cardinality_penalty(rh, R, beta, m, 1e-2)
    else:
        lam = float(np.max(np.abs(rh) + beta * np.abs(R).sum(axis=1))) + 0.1
    bqm = cardinality_bqm(rh, R, beta, m, lam, list(range(n)))
    meta = {"formulation": "cardinality", "beta": beta, "m": m, "penalty": lam,
            "penalty_rule": penalty, "relevance": "random", "redundancy": "random cosine"}
    return bqm, r, meta


def random_selection_bqm(n: int, seed: int, *, penalty: str = "proven", beta: float = 0.5
                         ) -> dimod.BinaryQuadraticModel:
    """A random "choose m of n" selection QUBO in the cardinality formulation (BINARY).

    ``E(x) = -sum r_k x_k + beta sum_{k<l} R_kl x_k x_l + lam (sum x - m)^2`` with relevance
    r ~ U(0.05, 1) divided by its maximum, redundancy R = cosine similarity of n random
    non-negative "maps" of 64 pixels (cubed uniforms: sparse, like rectified feature maps),
    m = round(n / 4) (at least 1). Seeded by ``(n, seed)``: the same problem on every machine.

    Parameters
    ----------
    penalty : {"proven", "loose"}
        "proven": lam = the bound of :func:`encoding.cardinality_penalty` plus 0.01, the
        smallest that provably makes every minimiser choose m maps (the studies' choice).
        "loose": lam = max_k(|r_k| + beta sum_l |R_kl|) + 0.1, a simpler sufficient rule,
        several times larger: it compresses the energy differences that decide the
        selection, so the gap is smaller and closes later (s* near 1), the hard regime for
        eigensolvers (the benchmarks' choice).
    beta : float
        Weight of the redundancy.
    """
    return _random_selection(n, seed, penalty, beta)[0]


def perturbative_crossing_bqm(n: int, *, eps: float = 0.1, delta: float = 0.2
                              ) -> dimod.BinaryQuadraticModel:
    """A star of n spins whose anneal has a perturbative (first-order) avoided crossing.

    Spin 0, the centre, has field ``h_c = (n - 1)(1 - eps) - delta``; the n - 1 leaves have
    field ``h = 1 - eps`` and coupling ``J = 1`` to the centre (SPIN). With the centre at -1
    the leaves feel ``h - J = -eps``: a false minimum with ``2**(n-1)`` low-energy neighbours,
    which the transverse field lowers by about (n - 1) A(s). With the centre at +1 they feel
    ``2 - eps``: the true minimum, lower by ``2 delta`` and walled in. The ground state
    follows the false minimum until late in the anneal, then tunnels to the true one, which
    flips every spin: the gap there shrinks exponentially in n and the crossing moves towards
    s = 1 as n grows. The leaves' total spin is conserved, so the spectrum reduces to sectors
    of ``2 (2S + 1)`` states: an exact reference at any n.
    """
    if int(n) < 2:
        raise ProblemFileError(f"a star needs n >= 2 spins, got {n!r}.")
    if not (0.0 < eps < 1.0 and delta > 0.0):
        raise ProblemFileError(f"need 0 < eps < 1 and delta > 0, got eps={eps!r}, delta={delta!r}.")
    m = int(n) - 1
    linear = {0: m * (1.0 - eps) - delta, **{i: 1.0 - eps for i in range(1, m + 1)}}
    return dimod.BinaryQuadraticModel(linear, {(0, i): 1.0 for i in range(1, m + 1)}, 0.0,
                                      "SPIN")


def rounded_ising_bqm(n: int, rng: np.random.Generator, *, jitter: float = 0.02
                      ) -> dimod.BinaryQuadraticModel:
    """A random SPIN problem on n variables with fields drawn from {-1, 0, 1} and couplings
    from {-1, 0, 0, 1}, each plus ``jitter`` times a standard normal: the near-ties of such
    rounded couplings make narrow avoided crossings and tiny gaps common. Draws h_0..h_{n-1},
    then J_ij for i < j in order, from ``rng``."""
    h = {i: float(rng.choice([-1, 0, 1]) + jitter * rng.normal()) for i in range(n)}
    J = {(i, j): float(rng.choice([-1, 0, 0, 1]) + jitter * rng.normal())
         for i in range(n) for j in range(i + 1, n)}
    return dimod.BinaryQuadraticModel(h, J, 0.0, "SPIN")
