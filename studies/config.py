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
                 ``n_perm`` [200], ``null`` [true] (the re-initialised-weights null),
                 ``max_qubits`` [20] (QuboCAM's candidates at most, the maps of largest
                 relevance first, so that every selection of a wide layer is exact)
``[problems]``   ``formulations`` [["paper"]], ``qubits`` [[12]] (candidate caps n),
                 ``beta`` [formulation default], ``random_qubits`` [[]] and
                 ``random_seeds`` [[0]] (random selection problems, proven penalty),
                 ``scales`` [["auto"]] (H_P divided by its largest Ising coefficient,
                 "auto", or kept in the BQM's units, "none"; each problem once per entry)
``[spectral]``   ``enabled`` [true], ``levels`` [4], ``s_tol`` [1e-6], ``max_qubits`` [20]
``[dynamics]``   ``enabled`` [true], ``T`` [[10.0, 50.0, 100.0]], ``max_qubits`` [14],
                 ``t99`` [false], ``t99_max_qubits`` [8], ``t99_max_T`` [3000] (NaN
                 beyond it), ``protocol`` [true] (the
                 reference paper's tau = 50, dt = 0.01, d^2 shots), ``tol`` [1e-7]
``[run]``        ``device`` ["auto": a GPU where torch sees one, else the CPU; "cpu", "cuda",
                 "cuda:N"]: where the CNN side runs (training, capture, explainers, metrics);
                 ``qaxai run --device`` overrides it without changing the config
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

import hashlib
import json
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, make_dataclass
from os import PathLike
from pathlib import Path

from ._rules import Check, Interval, Key, ListOf, Options, _closest
from .exceptions import ConfigError

__all__ = ["StudyConfig", "load_config", "ConfigError", "SCHEMA", "Settings", "SECTION_TYPES",
           "Key", "Interval", "Options", "ListOf", "Check"]


_ARCHITECTURES = ("PaperNet", "GapNet")
_FORMULATIONS = ("paper", "cardinality")
_SCALES = ("auto", "none")
_SOURCES = ("digits", "mnist", "stl10", "folder")
_BACKBONES = ("digits-conv", "resnet18")
#: what each data source needs at [data] path
_SOURCE_FILES = {
    "mnist": "the folder holding train-images-idx3-ubyte, train-labels-idx1-ubyte, "
             "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (or .gz)",
    "stl10": "the folder stl10_binary/ holding train_X.bin, train_y.bin, test_X.bin, test_y.bin",
    "folder": "a folder with one sub-folder of images per class",
}

def _check_size(where: str, size):
    sizes = [size] if isinstance(size, int) else size
    if len(sizes) not in (1, 2) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in sizes) \
            or (isinstance(size, list) and len(size) != 2):
        raise ConfigError(f"{where} must be an integer >= 1 or [height, width], got {size!r}.")
    return size


def _check_factory(where: str, factory: str):
    if factory.count(":") != 1 or not all(factory.split(":")):
        raise ConfigError(f"{where} must be 'package.module:callable', got {factory!r}.")
    return factory


def _check_nonempty(where: str, text: str):
    if not text.strip():
        raise ConfigError(f"{where} is empty; give a value or leave the key out (an empty path "
                          "would be read as the working directory).")
    return text


#: a string that must say something: a name, a path, a layer
_NONEMPTY = Check("a non-empty string", _check_nonempty)


def _check_device_name(where: str, name: str):
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", name):
        raise ConfigError(f"{where} must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {name!r}.")
    return name


def _xai_methods():
    from encoding import METHODS

    return METHODS


_AT_LEAST_0, _AT_LEAST_1, _POSITIVE = Interval(0), Interval(1), Interval(0, closed="neither")

#: section -> key -> :class:`Key`: every key's type, default and value rule, stated once;
#: :func:`load_config` checks each key from here, then the rules that join keys
SCHEMA: dict[str, dict[str, Key]] = {
    "study": {"name": Key(str, rule=_NONEMPTY), "seed": Key(int, 0, _AT_LEAST_0),
              "out": Key(str, rule=_NONEMPTY, note="(a path)")},
    "data": {"source": Key(str, "digits", Options(_SOURCES)),
             "path": Key(str, rule=_NONEMPTY, note="(a path)"),
             "size": Key((int, list), rule=Check("integer >= 1 or [height, width]", _check_size),
                         kind_text="integer or [height, width]"),
             "mean": Key(list, rule=ListOf(float, nonempty=True)),
             "std": Key(list, rule=ListOf(float, _POSITIVE, nonempty=True)),
             "limit": Key(int, None, _AT_LEAST_1), "test_limit": Key(int, None, _AT_LEAST_1),
             "test_fraction": Key(float, 0.2, Interval(0, 1, "neither")),
             "channels": Key(int, 3, Options((1, 3), text="1 (grey) or 3 (colour)"),
                             kind_text="integer (1 or 3)")},
    "model": {"architectures": Key(list, ["PaperNet"], ListOf(str, Options(
                  _ARCHITECTURES, hint=" or give your own model with factory"), nonempty=True)),
              "backbone": Key(str, "digits-conv", Options(_BACKBONES)),
              "weights": Key(str, rule=_NONEMPTY, note="(a path)"),
              "n_maps": Key(int, 16, Interval(2)),
              "checkpoint": Key(str, rule=_NONEMPTY, note="(a path)"),
              "factory": Key(str, rule=Check("'package.module:callable'", _check_factory),
                             kind_text="string ('package.module:callable')"),
              "layer": Key(str, rule=_NONEMPTY, note="(a dotted layer name)")},
    "train": {"epochs": Key(int, 15, _AT_LEAST_1), "batch_size": Key(int, 64, _AT_LEAST_1),
              "lr": Key(float, 3e-3, _POSITIVE), "weight_decay": Key(float, 1e-4, _AT_LEAST_0),
              "seed": Key(int, 0, _AT_LEAST_0)},
    "images": {"per_class": Key(int, 2, _AT_LEAST_1),
               "classes": Key(list, rule=ListOf(int, _AT_LEAST_0, nonempty=True))},
    "xai": {"enabled": Key(bool, True),
            "methods": Key(list, rule=ListOf(str, Options(_xai_methods), nonempty=True)),
            "n_boot": Key(int, 200, Interval(10)), "n_perm": Key(int, 200, Interval(10)),
            "null": Key(bool, True), "max_qubits": Key(int, 20, _AT_LEAST_1)},
    "problems": {"formulations": Key(list, ["paper"], ListOf(str, Options(_FORMULATIONS))),
                 "qubits": Key(list, [12], ListOf(int, _AT_LEAST_1)),
                 "beta": Key(float, None, _AT_LEAST_0),
                 "random_qubits": Key(list, [], ListOf(int, _AT_LEAST_1)),
                 "random_seeds": Key(list, [0], ListOf(int, _AT_LEAST_0, nonempty=True)),
                 "scales": Key(list, ["auto"], ListOf(str, Options(_SCALES), nonempty=True))},
    "spectral": {"enabled": Key(bool, True), "levels": Key(int, 4, Interval(2)),
                 "s_tol": Key(float, 1e-6, Interval(0, 0.5, "neither")),
                 "max_qubits": Key(int, 20, _AT_LEAST_1)},
    "dynamics": {"enabled": Key(bool, True),
                 "T": Key(list, [10.0, 50.0, 100.0], ListOf(float, _POSITIVE, nonempty=True)),
                 "max_qubits": Key(int, 14, _AT_LEAST_1), "t99": Key(bool, False),
                 "t99_max_qubits": Key(int, 8, _AT_LEAST_1),
                 "t99_max_T": Key(float, 3000.0, _POSITIVE),
                 "protocol": Key(bool, True), "tol": Key(float, 1e-7, _POSITIVE)},
    "run": {"device": Key(str, "auto", Check("'auto', 'cpu', 'cuda' or 'cuda:N'",
                                             _check_device_name),
                          kind_text="string ('auto', 'cpu', 'cuda' or 'cuda:N')")},
    "hardware": {"enabled": Key(bool, False), "instances": Key(int, 3, _AT_LEAST_1),
                 "min_qubits": Key(int, 4, _AT_LEAST_1), "max_qubits": Key(int, 12, _AT_LEAST_1),
                 "annealing_time_us": Key(list, [20.0], ListOf(float, _POSITIVE, nonempty=True)),
                 "reads": Key(int, 1000, _AT_LEAST_1)},
}


def _annotation(spec: Key) -> str:
    words = {int: "int", float: "float", str: "str", bool: "bool", list: "tuple"}
    text = " | ".join(words[t] for t in spec.pytype) if isinstance(spec.pytype, tuple) \
        else words[spec.pytype]
    return f"{text} | None" if spec.default is None else text


def _settings_class(section: str, keys: dict[str, Key]) -> type:
    cls = make_dataclass(f"{section.capitalize()}Settings",
                         [(key, _annotation(spec)) for key, spec in keys.items()], frozen=True)
    cls.__module__ = __name__
    cls.__doc__ = (f"The validated [{section}] section of a study config (read-only; lists "
                   "as tuples). Its keys, types and rules are :data:`SCHEMA`'s.")
    return cls


#: section -> its frozen settings class (generated from :data:`SCHEMA`, so the keys are
#: declared once); module attributes by name, so that they pickle to Dask workers
SECTION_TYPES: dict[str, type] = {sec: _settings_class(sec, keys) for sec, keys in SCHEMA.items()}
globals().update({cls.__name__: cls for cls in SECTION_TYPES.values()})
Settings = make_dataclass("Settings", [(sec, cls.__name__) for sec, cls in SECTION_TYPES.items()],
                          frozen=True)
Settings.__module__ = __name__
Settings.__doc__ = ("A study's validated settings: one frozen object per config section "
                    "(``settings.dynamics.T``), built once by :func:`load_config` and handed "
                    "to planning and to every task.")


def _frozen(value):
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


def _settings(sections: dict) -> "Settings":
    return Settings(**{sec: SECTION_TYPES[sec](**{k: _frozen(v) for k, v in values.items()})
                       for sec, values in sections.items()})


@dataclass(frozen=True)
class StudyConfig:
    """A validated study config.

    Attributes
    ----------
    sections : dict
        ``section -> key -> value``, defaults filled in (the TOML view).
    settings : Settings
        The same values as frozen, typed objects, one per section (``settings.model.n_maps``).
    text : str
        The TOML text it came from (stored in the HDF5 file's root attributes).
    source : str
        Where it came from (a path, or ``"<string>"``).
    """

    sections: dict = field(repr=False)
    text: str = field(repr=False)
    source: str = "<string>"
    settings: Settings = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "settings", _settings(self.sections))

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
        for key, spec in keys.items():
            if key in given:
                values[key] = spec.validate(f"{source}: [{section}] {key}", given[key])
            else:
                values[key] = list(spec.default) if isinstance(spec.default, list) \
                    else spec.default
        sections[section] = values
    _check_cross_rules(sections, source, {(sec, k) for sec, keys in raw.items() for k in keys})
    return sections


def _check_cross_rules(c: dict, source: str, given: set) -> None:
    """The rules that join keys (each key's own range is in :data:`SCHEMA`), and the
    defaults that depend on other keys."""
    def at(section, key):
        return f"{source}: [{section}] {key}"

    _check_data_model(c, source, given, at)
    if c["study"]["name"] is None:
        c["study"]["name"] = Path(source).stem if source != "<string>" else "study"
    if c["xai"]["methods"] is None:
        c["xai"]["methods"] = list(_xai_methods())
    if c["xai"]["enabled"] and c["images"]["per_class"] < 2:
        raise ConfigError(f"{at('images', 'per_class')} must be >= 2 with [xai] enabled "
                          "(silhouettes and the k-NN measures need two images of a class); "
                          "raise it or set [xai] enabled = false.")
    if c["xai"]["enabled"] and c["images"]["classes"] is not None and \
            len(set(c["images"]["classes"])) < 2:
        raise ConfigError(f"{at('images', 'classes')} needs two classes or more with [xai] "
                          "enabled (disentanglement compares classes).")
    hw, dy = c["hardware"], c["dynamics"]
    if hw["enabled"] and hw["min_qubits"] > hw["max_qubits"]:
        raise ConfigError(f"{at('hardware', 'max_qubits')} = {hw['max_qubits']} is below "
                          f"[hardware] min_qubits = {hw['min_qubits']}: no problem could get the "
                          "hardware stand-in; raise max_qubits or lower min_qubits.")
    if dy["enabled"] and dy["t99"] and dy["t99_max_qubits"] > dy["max_qubits"]:
        raise ConfigError(f"{at('dynamics', 't99_max_qubits')} = {dy['t99_max_qubits']} exceeds "
                          f"[dynamics] max_qubits = {dy['max_qubits']}: T_99 is searched only "
                          "where P(T) is computed; lower t99_max_qubits or raise max_qubits.")
    too_many = [n for n in c["problems"]["qubits"] if c["problems"]["formulations"]
                and n > c["model"]["n_maps"] and c["model"]["factory"] is None]
    if too_many:
        raise ConfigError(f"{at('problems', 'qubits')}: {too_many} exceed the model's "
                          f"{c['model']['n_maps']} maps; raise [model] n_maps or lower qubits.")


def _check_data_model(c: dict, source: str, given: set, at) -> None:
    d, m = c["data"], c["model"]
    if ("data", "channels") in given and d["source"] != "folder":
        raise ConfigError(f"{at('data', 'channels')} applies to source = 'folder' only (MNIST "
                          "and the digits are grey, STL-10 colour).")
    channels = {"digits": 1, "mnist": 1, "stl10": 3, "folder": d["channels"]}[d["source"]]
    if (d["mean"] is None) != (d["std"] is None):
        raise ConfigError(f"{source}: [data] mean and std go together: give both or neither.")
    for key in ("mean", "std"):
        if d[key] is not None and len(d[key]) != channels:
            raise ConfigError(f"{at('data', key)} has {len(d[key])} values; the "
                              f"{d['source']!r} images have {channels} channel(s): give one "
                              "value per channel.")
    if d["source"] == "digits" and d["path"] is not None:
        raise ConfigError(f"{at('data', 'path')} is not used with source = 'digits' (they ship "
                          "with scikit-learn); remove it or choose another source.")
    if m["factory"] is not None:
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
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"config file {path} is not UTF-8 text (byte {exc.start}: "
                              f"{exc.reason}); TOML is UTF-8: save it as UTF-8.") from None
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
