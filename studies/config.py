"""Study configs: TOML files, validated against one schema.

A config has the sections below; every key is optional (defaults in brackets). Unknown
sections and keys are named (with the closest valid one), wrong types explained, and values
checked, before anything runs.

``[study]``      ``name`` [file stem], ``seed`` [0], ``out`` [``results/<name>.h5``]
``[model]``      ``architectures`` [["PaperNet"]] (bundled defaults: PaperNet, GapNet),
                 ``n_maps`` [16], ``checkpoint`` [none: the bundled default, trained on first
                 use and cached; else a checkpoint of :func:`encoding.save_checkpoint`]
``[images]``     ``per_class`` [2] correctly classified held-out digits per class,
                 ``classes`` [all]
``[xai]``        ``enabled`` [true], ``methods`` [every method], ``n_boot`` [200],
                 ``n_perm`` [200], ``null`` [true] (the re-initialised-weights null)
``[problems]``   ``formulations`` [["paper"]], ``qubits`` [[12]] (candidate caps n),
                 ``beta`` [formulation default], ``random_qubits`` [[]] and
                 ``random_seeds`` [[0]] (random selection problems, proven penalty)
``[spectral]``   ``enabled`` [true], ``levels`` [4], ``s_tol`` [1e-6], ``max_qubits`` [20]
``[dynamics]``   ``enabled`` [true], ``T`` [[10.0, 50.0, 100.0]], ``max_qubits`` [14],
                 ``t99`` [false], ``t99_max_qubits`` [8], ``t99_max_T`` [3000] (NaN
                 beyond it), ``protocol`` [true] (the
                 reference paper's tau = 50, dt = 0.01, d^2 shots), ``tol`` [1e-7]
``[hardware]``   ``enabled`` [false], ``instances`` [3] (the first problem instances with
                 at least ``min_qubits`` [4] and at most ``max_qubits`` [12] qubits),
                 ``annealing_time_us`` [[20.0]], ``reads`` [1000]

Example::

    [study]
    name = "quick"
    [images]
    per_class = 2
    [problems]
    formulations = ["paper", "cardinality"]
    qubits = [8, 12]
"""

from __future__ import annotations

import difflib
import hashlib
import tomllib
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

__all__ = ["StudyConfig", "load_config", "ConfigError", "SCHEMA"]


class ConfigError(ValueError):
    """A study config that cannot be used; the message names the key and the rule."""


_ARCHITECTURES = ("PaperNet", "GapNet")
_FORMULATIONS = ("paper", "cardinality")

# section -> key -> (type description, python types, default)
SCHEMA: dict[str, dict[str, tuple]] = {
    "study": {"name": ("string", str, None), "seed": ("integer >= 0", int, 0),
              "out": ("string (a path)", str, None)},
    "model": {"architectures": ("list of strings", list, ["PaperNet"]),
              "n_maps": ("integer >= 2", int, 16),
              "checkpoint": ("string (a path)", str, None)},
    "images": {"per_class": ("integer >= 1", int, 2), "classes": ("list of integers", list, None)},
    "xai": {"enabled": ("boolean", bool, True), "methods": ("list of strings", list, None),
            "n_boot": ("integer >= 10", int, 200), "n_perm": ("integer >= 10", int, 200),
            "null": ("boolean", bool, True)},
    "problems": {"formulations": ("list of strings", list, ["paper"]),
                 "qubits": ("list of integers", list, [12]),
                 "beta": ("number", float, None),
                 "random_qubits": ("list of integers", list, []),
                 "random_seeds": ("list of integers", list, [0])},
    "spectral": {"enabled": ("boolean", bool, True), "levels": ("integer >= 2", int, 4),
                 "s_tol": ("number > 0", float, 1e-6), "max_qubits": ("integer", int, 20)},
    "dynamics": {"enabled": ("boolean", bool, True), "T": ("list of numbers > 0", list,
                                                           [10.0, 50.0, 100.0]),
                 "max_qubits": ("integer", int, 14), "t99": ("boolean", bool, False),
                 "t99_max_qubits": ("integer", int, 8),
                 "t99_max_T": ("number > 0", float, 3000.0), "protocol": ("boolean", bool, True),
                 "tol": ("number > 0", float, 1e-7)},
    "hardware": {"enabled": ("boolean", bool, False), "instances": ("integer >= 1", int, 3),
                 "min_qubits": ("integer >= 1", int, 4), "max_qubits": ("integer", int, 12),
                 "annealing_time_us": ("list of numbers > 0", list, [20.0]),
                 "reads": ("integer >= 1", int, 1000)},
}


@dataclass(frozen=True)
class StudyConfig:
    """A validated study config.

    Attributes
    ----------
    sections : dict
        ``section -> key -> value``, defaults filled in.
    text : str
        The TOML text it came from (stored in the HDF5 file's root attributes).
    source : str
        Where it came from (a path, or ``"<string>"``).
    """

    sections: dict = field(repr=False)
    text: str = field(repr=False)
    source: str = "<string>"

    def __getitem__(self, section: str) -> dict:
        return self.sections[section]

    @property
    def name(self) -> str:
        return self.sections["study"]["name"]

    @property
    def sha256(self) -> str:
        """Hash of the config text: a results file belongs to one config."""
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def default_out(self) -> Path:
        out = self.sections["study"]["out"]
        return Path(out) if out else Path("results") / f"{self.name}.h5"


def _closest(word: str, options) -> str:
    match = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _check_type(where: str, value, kind: str, pytype):
    if pytype is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif pytype is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, pytype)
    if not ok:
        article = "an" if kind[0] in "aeiou" else "a"
        raise ConfigError(f"{where} must be {article} {kind}, got {type(value).__name__} "
                          f"{value!r}.")
    return value


def _list_of(where: str, values, kind: type, rule: str, minimum=None, allow_empty=True):
    if not allow_empty and not values:
        raise ConfigError(f"{where} must not be empty.")
    out = []
    for v in values:
        good = (isinstance(v, (int, float)) and not isinstance(v, bool)) if kind is float else \
            (isinstance(v, kind) and not isinstance(v, bool))
        if not good or (minimum is not None and not v >= minimum) or (kind is float and v != v):
            raise ConfigError(f"{where} must be a list of {rule}, got the entry {v!r}.")
        out.append(float(v) if kind is float else v)
    return out


def _validate(raw: dict, source: str) -> dict:
    if not isinstance(raw, dict):  # pragma: no cover - tomllib always gives a dict
        raise ConfigError(f"{source}: a config is a TOML table.")
    for section in raw:
        if section not in SCHEMA:
            raise ConfigError(f"{source}: unknown section [{section}]{_closest(section, SCHEMA)}; "
                              f"sections are {', '.join(f'[{s}]' for s in SCHEMA)}.")
        if not isinstance(raw[section], dict):
            raise ConfigError(f"{source}: [{section}] must be a table, got "
                              f"{type(raw[section]).__name__}.")
    sections = {}
    for section, keys in SCHEMA.items():
        given = raw.get(section, {})
        for key in given:
            if key not in keys:
                raise ConfigError(f"{source}: unknown key {key!r} in [{section}]"
                                  f"{_closest(key, keys)}; valid keys: {', '.join(keys)}.")
        values = {}
        for key, (kind, pytype, default) in keys.items():
            where = f"{source}: [{section}] {key}"
            if key in given:
                values[key] = _check_type(where, given[key], kind, pytype)
            else:
                values[key] = list(default) if isinstance(default, list) else default
        sections[section] = values
    _check_values(sections, source)
    return sections


def _check_values(c: dict, source: str) -> None:
    def at(section, key):
        return f"{source}: [{section}] {key}"

    if c["study"]["name"] is None:
        c["study"]["name"] = Path(source).stem if source != "<string>" else "study"
    if c["study"]["seed"] < 0:
        raise ConfigError(f"{at('study', 'seed')} must be >= 0, got {c['study']['seed']}.")
    arch = _list_of(at("model", "architectures"), c["model"]["architectures"], str,
                    "strings", allow_empty=False)
    bad = [a for a in arch if a not in _ARCHITECTURES]
    if bad:
        raise ConfigError(f"{at('model', 'architectures')}: unknown {bad}; choose from "
                          f"{list(_ARCHITECTURES)}.")
    if c["model"]["n_maps"] < 2:
        raise ConfigError(f"{at('model', 'n_maps')} must be >= 2, got {c['model']['n_maps']}.")
    if c["images"]["per_class"] < 1:
        raise ConfigError(f"{at('images', 'per_class')} must be >= 1, got "
                          f"{c['images']['per_class']}.")
    if c["images"]["classes"] is not None:
        _list_of(at("images", "classes"), c["images"]["classes"], int, "integers >= 0", 0,
                 allow_empty=False)
    from encoding import METHODS

    if c["xai"]["methods"] is None:
        c["xai"]["methods"] = list(METHODS)
    methods = _list_of(at("xai", "methods"), c["xai"]["methods"], str, "strings",
                       allow_empty=False)
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise ConfigError(f"{at('xai', 'methods')}: unknown {bad}; choose from {list(METHODS)}.")
    if c["xai"]["enabled"] and c["images"]["per_class"] < 2:
        raise ConfigError(f"{at('images', 'per_class')} must be >= 2 with [xai] enabled "
                          "(silhouettes and the k-NN measures need two images of a class); "
                          "raise it or set [xai] enabled = false.")
    if c["xai"]["enabled"] and c["images"]["classes"] is not None and \
            len(set(c["images"]["classes"])) < 2:
        raise ConfigError(f"{at('images', 'classes')} needs two classes or more with [xai] "
                          "enabled (disentanglement compares classes).")
    for key in ("n_boot", "n_perm"):
        if c["xai"][key] < 10:
            raise ConfigError(f"{at('xai', key)} must be >= 10, got {c['xai'][key]}.")
    forms = _list_of(at("problems", "formulations"), c["problems"]["formulations"], str,
                     "strings")
    bad = [f for f in forms if f not in _FORMULATIONS]
    if bad:
        raise ConfigError(f"{at('problems', 'formulations')}: unknown {bad}; choose from "
                          f"{list(_FORMULATIONS)}.")
    for key in ("qubits", "random_qubits"):
        c["problems"][key] = _list_of(at("problems", key), c["problems"][key], int,
                                      "integers >= 1", 1)
    c["problems"]["random_seeds"] = _list_of(at("problems", "random_seeds"),
                                             c["problems"]["random_seeds"], int,
                                             "integers >= 0", 0, allow_empty=False)
    too_many = [n for n in c["problems"]["qubits"] if forms and n > c["model"]["n_maps"]]
    if too_many:
        raise ConfigError(f"{at('problems', 'qubits')}: {too_many} exceed the model's "
                          f"{c['model']['n_maps']} maps; raise [model] n_maps or lower qubits.")
    beta = c["problems"]["beta"]
    if beta is not None and not beta >= 0:
        raise ConfigError(f"{at('problems', 'beta')} must be >= 0, got {beta}.")
    if c["spectral"]["levels"] < 2:
        raise ConfigError(f"{at('spectral', 'levels')} must be >= 2, got "
                          f"{c['spectral']['levels']}.")
    for section, key in (("spectral", "s_tol"), ("dynamics", "tol"), ("dynamics", "t99_max_T")):
        if not c[section][key] > 0:
            raise ConfigError(f"{at(section, key)} must be > 0, got {c[section][key]}.")
    c["dynamics"]["T"] = _list_of(at("dynamics", "T"), c["dynamics"]["T"], float,
                                  "numbers > 0", 1e-300, allow_empty=False)
    c["hardware"]["annealing_time_us"] = _list_of(
        at("hardware", "annealing_time_us"), c["hardware"]["annealing_time_us"], float,
        "numbers > 0", 1e-300, allow_empty=False)
    for key in ("instances", "reads", "min_qubits"):
        if c["hardware"][key] < 1:
            raise ConfigError(f"{at('hardware', key)} must be >= 1, got {c['hardware'][key]}.")


def load_config(source: str | PathLike, *, text: str | None = None) -> StudyConfig:
    """Read and validate a study config.

    Parameters
    ----------
    source : str or path
        A TOML file, or ``builtin:NAME`` for a shipped config (quick, paper, scaling); or,
        with ``text``, only a name used in messages.
    text : str, optional
        The TOML text itself (``source`` is then just its name).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ConfigError
        If the TOML does not parse, or a section, key, type or value is invalid.
    """
    if text is None and str(source).startswith("builtin:"):
        from importlib import resources

        name = str(source)[len("builtin:"):]
        entry = resources.files("studies.configs") / f"{name}.toml"
        if not entry.is_file():
            raise FileNotFoundError(f"no shipped config {name!r}; shipped: quick, paper, "
                                    "scaling (builtin:NAME).")
        return load_config(f"{name}.toml", text=entry.read_text())
    if text is None:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} does not exist; the shipped ones are "
                                    "in studies/configs/ (quick.toml, paper.toml, "
                                    "scaling.toml).")
        text = path.read_text()
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    return StudyConfig(_validate(raw, str(source)), text, str(source))
