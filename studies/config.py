"""Study configs: TOML files, validated against one schema.

A config has the sections below; every key is optional (defaults in brackets). Unknown
sections and keys are named (with the closest valid one), wrong types explained, and values
checked, before anything runs.

``[study]``      ``name`` [file stem], ``seed`` [0], ``out`` [``results/<name>.h5``]
``[data]``       ``source`` ["digits"]: "digits" (bundled) | "mnist" (IDX files) | "stl10"
                 (binary release) | "folder" (one sub-folder per class); ``path`` [required
                 unless digits]; ``size`` [none: as stored; an int or [h, w]]; ``mean``,
                 ``std`` [none: per-channel normalisation inside the model]; ``limit``,
                 ``test_limit`` [none: at most this many images of the train / held-out split];
                 ``test_fraction`` [0.2: the held-out share of digits and folders, a seeded
                 stratified split]; ``channels`` [3: 1 reads a folder's images as grey]
``[model]``      ``architectures`` [["PaperNet"]] (built in: PaperNet, GapNet, trained on
                 [data] by [train] and cached), ``backbone`` ["digits-conv" | "resnet18"],
                 ``weights`` [ResNet-18 state_dict file, torchvision's key names; required
                 with resnet18], ``n_maps`` [16], ``checkpoint`` [none: train; else a
                 checkpoint of :func:`encoding.save_checkpoint`]; or a model of your own:
                 ``factory`` ["package.module:callable", called with no arguments],
                 ``checkpoint`` [its state_dict file], ``layer`` [dotted name of the explained
                 layer; required with factory, default "reduce"]
``[train]``      recipe of the built-in architectures: ``epochs`` [15], ``batch_size`` [64],
                 ``lr`` [0.003], ``weight_decay`` [1e-4], ``seed`` [0]
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
import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

__all__ = ["StudyConfig", "load_config", "ConfigError", "SCHEMA"]


class ConfigError(ValueError):
    """A study config that cannot be used; the message names the key and the rule."""


_ARCHITECTURES = ("PaperNet", "GapNet")
_FORMULATIONS = ("paper", "cardinality")
_SOURCES = ("digits", "mnist", "stl10", "folder")
_BACKBONES = ("digits-conv", "resnet18")
#: what each data source needs at [data] path
_SOURCE_FILES = {
    "mnist": "the folder holding train-images-idx3-ubyte, train-labels-idx1-ubyte, "
             "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (or .gz)",
    "stl10": "the folder stl10_binary/ holding train_X.bin, train_y.bin, test_X.bin, test_y.bin",
    "folder": "a folder with one sub-folder of images per class",
}

# section -> key -> (type description, python types, default)
SCHEMA: dict[str, dict[str, tuple]] = {
    "study": {"name": ("string", str, None), "seed": ("integer >= 0", int, 0),
              "out": ("string (a path)", str, None)},
    "data": {"source": ("string", str, "digits"), "path": ("string (a path)", str, None),
             "size": ("integer or [height, width]", (int, list), None),
             "mean": ("list of numbers", list, None), "std": ("list of numbers > 0", list, None),
             "limit": ("integer >= 1", int, None), "test_limit": ("integer >= 1", int, None),
             "test_fraction": ("number in (0, 1)", float, 0.2),
             "channels": ("integer (1 or 3)", int, 3)},
    "model": {"architectures": ("list of strings", list, ["PaperNet"]),
              "backbone": ("string", str, "digits-conv"),
              "weights": ("string (a path)", str, None),
              "n_maps": ("integer >= 2", int, 16),
              "checkpoint": ("string (a path)", str, None),
              "factory": ("string ('package.module:callable')", str, None),
              "layer": ("string (a dotted layer name)", str, None)},
    "train": {"epochs": ("integer >= 1", int, 15), "batch_size": ("integer >= 1", int, 64),
              "lr": ("number > 0", float, 3e-3), "weight_decay": ("number >= 0", float, 1e-4),
              "seed": ("integer >= 0", int, 0)},
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
    elif isinstance(pytype, tuple):
        ok = isinstance(value, pytype) and not isinstance(value, bool)
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
    _check_values(sections, source, {(sec, k) for sec, keys in raw.items() for k in keys})
    return sections


def _check_values(c: dict, source: str, given: set) -> None:
    def at(section, key):
        return f"{source}: [{section}] {key}"

    _check_data_model(c, source, given, at)

    if c["study"]["name"] is None:
        c["study"]["name"] = Path(source).stem if source != "<string>" else "study"
    if c["study"]["seed"] < 0:
        raise ConfigError(f"{at('study', 'seed')} must be >= 0, got {c['study']['seed']}.")
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
    too_many = [n for n in c["problems"]["qubits"] if forms and n > c["model"]["n_maps"]
                and c["model"]["factory"] is None]
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


def _check_data_model(c: dict, source: str, given: set, at) -> None:
    d, m, t = c["data"], c["model"], c["train"]
    if d["source"] not in _SOURCES:
        raise ConfigError(f"{at('data', 'source')} must be one of {list(_SOURCES)}, got "
                          f"{d['source']!r}{_closest(d['source'], _SOURCES)}.")
    size = d["size"]
    if size is not None:
        sizes = [size] if isinstance(size, int) else size
        if len(sizes) not in (1, 2) or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in sizes) \
                or (isinstance(size, list) and len(size) != 2):
            raise ConfigError(f"{at('data', 'size')} must be an integer >= 1 or [height, width], "
                              f"got {size!r}.")
    if d["channels"] not in (1, 3):
        raise ConfigError(f"{at('data', 'channels')} must be 1 (grey) or 3 (colour), got "
                          f"{d['channels']}.")
    if ("data", "channels") in given and d["source"] != "folder":
        raise ConfigError(f"{at('data', 'channels')} applies to source = 'folder' only (MNIST "
                          "and the digits are grey, STL-10 colour).")
    channels = {"digits": 1, "mnist": 1, "stl10": 3, "folder": d["channels"]}[d["source"]]
    if (d["mean"] is None) != (d["std"] is None):
        raise ConfigError(f"{source}: [data] mean and std go together: give both or neither.")
    if d["mean"] is not None:
        d["mean"] = _list_of(at("data", "mean"), d["mean"], float, "numbers", allow_empty=False)
        d["std"] = _list_of(at("data", "std"), d["std"], float, "numbers > 0", 1e-300,
                            allow_empty=False)
        for key in ("mean", "std"):
            if len(d[key]) != channels:
                raise ConfigError(f"{at('data', key)} has {len(d[key])} values; the "
                                  f"{d['source']!r} images have {channels} channel(s): give one "
                                  "value per channel.")
    for key in ("limit", "test_limit"):
        if d[key] is not None and d[key] < 1:
            raise ConfigError(f"{at('data', key)} must be >= 1, got {d[key]}.")
    if not 0.0 < d["test_fraction"] < 1.0:
        raise ConfigError(f"{at('data', 'test_fraction')} must be in (0, 1), got "
                          f"{d['test_fraction']}.")
    if d["source"] == "digits" and d["path"] is not None:
        raise ConfigError(f"{at('data', 'path')} is not used with source = 'digits' (they ship "
                          "with scikit-learn); remove it or choose another source.")
    if m["factory"] is not None:
        if not isinstance(m["factory"], str) or m["factory"].count(":") != 1 or \
                not all(m["factory"].split(":")):
            raise ConfigError(f"{at('model', 'factory')} must be 'package.module:callable', got "
                              f"{m['factory']!r}.")
        built_in = [k for k in ("architectures", "backbone", "weights", "n_maps")
                    if ("model", k) in given]
        if built_in:
            raise ConfigError(f"{source}: [model] {', '.join(built_in)} describe the built-in "
                              "architectures; a factory model is used as given. Remove them, "
                              "or remove factory.")
        if m["layer"] is None:
            raise ConfigError(f"{at('model', 'layer')} is required with factory: the dotted name "
                              "of the explained convolutional layer (e.g. 'layer3').")
        m["architectures"] = []
    else:
        arch = _list_of(at("model", "architectures"), m["architectures"], str, "strings",
                        allow_empty=False)
        bad = [a for a in arch if a not in _ARCHITECTURES]
        if bad:
            raise ConfigError(f"{at('model', 'architectures')}: unknown {bad}; choose from "
                              f"{list(_ARCHITECTURES)}, or give your own model with factory.")
        if m["backbone"] not in _BACKBONES:
            raise ConfigError(f"{at('model', 'backbone')} must be one of {list(_BACKBONES)}, got "
                              f"{m['backbone']!r}{_closest(m['backbone'], _BACKBONES)}.")
        if m["backbone"] == "resnet18" and channels != 3:
            raise ConfigError(f"{at('model', 'backbone')} = 'resnet18' takes colour images; "
                              f"the {d['source']!r} images have {channels} channel.")
        if m["weights"] is not None and m["backbone"] != "resnet18":
            raise ConfigError(f"{at('model', 'weights')} is for backbone = 'resnet18' (the "
                              f"{m['backbone']!r} backbone is trained from scratch).")
    needed = []
    if d["source"] != "digits" and d["path"] is None:
        needed.append(f"[data] path: {_SOURCE_FILES[d['source']]} (--set data.path=DIR)")
    if m["factory"] is None and m["backbone"] == "resnet18" and m["weights"] is None \
            and m["checkpoint"] is None:
        needed.append("[model] weights: a ResNet-18 state_dict file in torchvision's key layout, "
                      "e.g. resnet18-f37072fd.pth (--set model.weights=FILE)")
    if needed:
        raise ConfigError(f"{source} needs files it does not name; qaxai never downloads them:\n  "
                          + "\n  ".join(needed))
    if t["epochs"] < 1 or t["batch_size"] < 1:
        key = "epochs" if t["epochs"] < 1 else "batch_size"
        raise ConfigError(f"{at('train', key)} must be >= 1, got {t[key]}.")
    if not t["lr"] > 0:
        raise ConfigError(f"{at('train', 'lr')} must be > 0, got {t['lr']}.")
    if not t["weight_decay"] >= 0:
        raise ConfigError(f"{at('train', 'weight_decay')} must be >= 0, got {t['weight_decay']}.")
    if t["seed"] < 0:
        raise ConfigError(f"{at('train', 'seed')} must be >= 0, got {t['seed']}.")


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if value == value else "nan"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")  # pragma: no cover


def _dump_toml(raw: dict) -> str:
    lines = []
    for section, keys in raw.items():
        if not isinstance(keys, dict):
            lines.append(f"{section} = {_toml_value(keys)}")
            continue
        lines.append(f"[{section}]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in keys.items())
        lines.append("")
    return "\n".join(lines)


def _apply_overrides(raw: dict, overrides) -> None:
    for item in overrides:
        where = f"--set {item}"
        name, sep, text = item.partition("=")
        section, dot, key = name.strip().partition(".")
        if not sep or not dot or not key:
            raise ConfigError(f"{where}: write section.key=value, e.g. --set data.size=224.")
        if section not in SCHEMA:
            raise ConfigError(f"{where}: unknown section [{section}]"
                              f"{_closest(section, SCHEMA)}; sections are "
                              f"{', '.join(SCHEMA)}.")
        if key not in SCHEMA[section]:
            raise ConfigError(f"{where}: unknown key {key!r} in [{section}]"
                              f"{_closest(key, SCHEMA[section])}; valid keys: "
                              f"{', '.join(SCHEMA[section])}.")
        try:  # a TOML literal (224, [224, 224], true, "text"); else the bare text as a string
            value = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = text.strip()
        table = raw.setdefault(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: [{section}] is not a table in the config.")
        table[key] = value


def load_config(source: str | PathLike, *, text: str | None = None,
                overrides: Sequence[str] = ()) -> StudyConfig:
    """Read and validate a study config.

    Parameters
    ----------
    source : str or path
        A TOML file, or ``builtin:NAME`` for a shipped config (quick, paper, paper-stl10,
        scaling); or,
        with ``text``, only a name used in messages.
    text : str, optional
        The TOML text itself (``source`` is then just its name).
    overrides : sequence of str
        ``"section.key=value"`` items (the CLI's ``--set``), value in TOML literal syntax (a
        bare word is taken as a string). They replace the file's values and are validated
        with them; the config's ``text`` is then the effective config, written out in full.

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
            shipped = sorted(p.name[:-5] for p in resources.files("studies.configs").iterdir()
                             if p.name.endswith(".toml"))
            raise FileNotFoundError(f"no shipped config {name!r}; shipped: "
                                    f"{', '.join(shipped)} (builtin:NAME).")
        return load_config(f"{name}.toml", text=entry.read_text(), overrides=overrides)
    if text is None:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} does not exist; the shipped ones are "
                                    "in studies/configs/ (quick.toml, paper.toml, "
                                    "paper-stl10.toml, scaling.toml), also as builtin:NAME.")
        text = path.read_text()
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    overrides = list(overrides)
    if overrides:
        _apply_overrides(raw, overrides)
        text = (f"# effective config: {source} with "
                + " ".join(f"--set {o}" for o in overrides).replace("\n", " ") + "\n"
                + _dump_toml(raw))
    return StudyConfig(_validate(raw, str(source)), text, str(source))
