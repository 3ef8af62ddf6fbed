"""Study configs: the shipped ones load; every bad key, type and value gets a clear error."""

from importlib import resources

import pytest

from studies.config import SCHEMA, ConfigError, load_config

SHIPPED = ("quick", "paper", "scaling", "xai-digits", "hardware")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_configs_are_valid(name):
    text = (resources.files("studies.configs") / f"{name}.toml").read_text()
    config = load_config(f"{name}.toml", text=text)
    assert config.name == name
    assert config.text == text
    assert set(config.sections) == set(SCHEMA)


def test_quick_is_the_small_main_job():
    config = load_config("quick.toml", text=(resources.files("studies.configs") /
                                             "quick.toml").read_text())
    assert max(config["problems"]["qubits"] + config["problems"]["random_qubits"]) <= 12
    assert config["hardware"]["enabled"] and config["xai"]["enabled"]
    assert str(config.default_out) == "results/quick.h5"


def test_paper_config_is_the_reference_protocol():
    config = load_config("paper.toml", text=(resources.files("studies.configs") /
                                             "paper.toml").read_text())
    assert config["problems"]["formulations"] == ["paper"]
    assert config["problems"]["beta"] == 0.7
    assert config["model"]["n_maps"] == 16
    assert set(config["model"]["architectures"]) == {"PaperNet", "GapNet"}
    assert config["images"]["per_class"] == 20
    assert config["dynamics"]["T"] == [10.0, 30.0, 50.0, 70.0, 100.0]
    assert config["dynamics"]["protocol"]


def test_defaults_fill_an_empty_config():
    config = load_config("empty.toml", text="")
    assert config.name == "empty"
    for section, keys in SCHEMA.items():
        assert set(config[section]) == set(keys)
    assert config["spectral"]["s_tol"] == 1e-6


@pytest.mark.parametrize("text, match", [
    ("[studdy]\nname = 'x'", r"unknown section \[studdy\].*did you mean 'study'"),
    ("[images]\nper_clas = 3", r"unknown key 'per_clas' in \[images\].*did you mean 'per_class'"),
    ("[images]\nper_class = '3'", r"\[images\] per_class must be an integer >= 1, got str"),
    ("[images]\nper_class = true", r"\[images\] per_class must be an integer .* got bool"),
    ("[dynamics]\nT = [10, -1.0]", r"\[dynamics\] T must be a list of numbers > 0, got the "
                                   r"entry -1.0"),
    ("[dynamics]\nT = []", r"\[dynamics\] T must not be empty"),
    ("[xai]\nmethods = ['gradcam', 'lime']", r"\[xai\] methods: unknown \['lime'\]"),
    ("[model]\narchitectures = ['VGG']", r"unknown \['VGG'\]; choose from"),
    ("[problems]\nformulations = ['qaoa']", r"\[problems\] formulations: unknown \['qaoa'\]"),
    ("[problems]\nqubits = [20]", r"\[20\] exceed the model's 16 maps"),
    ("[images]\nper_class = 1", r"per_class must be >= 2 with \[xai\] enabled"),
    ("[images]\nclasses = [3]", r"needs two classes or more"),
    ("[spectral]\ns_tol = 0", r"\[spectral\] s_tol must be in \(0, 0.5\), got 0.0"),
    ("[spectral]\nmax_qubits = -5", r"\[spectral\] max_qubits must be >= 1, got -5"),
    ("[dynamics]\nmax_qubits = 0", r"\[dynamics\] max_qubits must be >= 1"),
    ("[hardware]\nenabled = true\nmin_qubits = 6\nmax_qubits = 5",
     r"\[hardware\] max_qubits = 5 is below \[hardware\] min_qubits = 6"),
    ("[dynamics]\nt99 = true\nmax_qubits = 10\nt99_max_qubits = 11",
     r"\[dynamics\] t99_max_qubits = 11 exceeds \[dynamics\] max_qubits = 10"),
    ("[model]\nfactory = \"m:f\"\nlayer = \" \"", r"\[model\] layer is empty"),
    ("[hardware]\nreads = 0", r"\[hardware\] reads must be >= 1"),
    ("[data]\nsource = 'imagenet'", r"\[data\] source must be one of .*got 'imagenet'"),
    ("[data]\nsource = 'mnist'", r"\[data\] path: the folder holding train-images-idx3-ubyte"),
    ("[data]\npath = 'x'", r"\[data\] path is not used with source = 'digits'"),
    ("[data]\nsize = [1, 2, 3]", r"\[data\] size must be an integer >= 1 or \[height, width\]"),
    ("[data]\nsize = 0", r"\[data\] size must be an integer >= 1"),
    ("[data]\nmean = [0.5]", r"mean and std go together"),
    ("[data]\nmean = [0.5, 0.5]\nstd = [0.2, 0.2]", r"\[data\] mean has 2 values; the "
                                                    r"'digits' images have 1 channel"),
    ("[data]\nmean = [0.5]\nstd = [0.0]", r"\[data\] std must be a list of numbers > 0"),
    ("[data]\ntest_fraction = 1.0", r"\[data\] test_fraction must be in \(0, 1\)"),
    ("[data]\nchannels = 1", r"\[data\] channels applies to source = 'folder' only"),
    ("[data]\nsource = 'folder'\npath = 'x'\nchannels = 2", r"channels must be 1 \(grey\) or 3"),
    ("[model]\nbackbone = 'vgg'", r"\[model\] backbone must be one of"),
    ("[model]\nbackbone = 'resnet18'", r"'resnet18' takes colour images"),
    ("[model]\nweights = 'w.pth'", r"\[model\] weights is for backbone = 'resnet18'"),
    ("[data]\nsource = 'stl10'\npath = 'x'\n[model]\nbackbone = 'resnet18'",
     r"\[model\] weights: a ResNet-18 state_dict"),
    ("[model]\nfactory = 'nocolon'", r"factory must be 'package.module:callable'"),
    ("[model]\nfactory = 'a:b'", r"\[model\] layer is required with factory"),
    ("[model]\nfactory = 'a:b'\nlayer = 'l'\nn_maps = 8", r"\[model\] n_maps describe the "
                                                         r"built-in architectures"),
    ("[train]\nlr = 0", r"\[train\] lr must be > 0"),
    ("[train]\nepochs = 0", r"\[train\] epochs must be >= 1"),
    ("study = 3", r"\[study\] must be a table"),
    ("[study\nname = 1", r"not valid TOML"),
])
def test_bad_configs_name_the_problem(text, match):
    with pytest.raises(ConfigError, match=match):
        load_config("bad.toml", text=text)


@pytest.mark.parametrize("section, key", [(s, k) for s, keys in SCHEMA.items() for k in keys])
def test_every_key_rejects_a_wrong_type(section, key):
    # an inline table is of no key's type
    with pytest.raises(ConfigError, match=rf"\[{section}\] {key} must be an? "):
        load_config("bad.toml", text=f"[{section}]\n{key} = {{ a = 1 }}\n")


def test_shipped_configs_by_name():
    config = load_config("builtin:quick")
    assert config.name == "quick"
    assert config.text == (resources.files("studies.configs") / "quick.toml").read_text()
    with pytest.raises(FileNotFoundError, match="shipped: hardware, paper, paper-stl10, quick, scaling, xai-digits"):
        load_config("builtin:nope")


def test_missing_file_says_where_the_shipped_ones_are(tmp_path):
    with pytest.raises(FileNotFoundError, match="studies/configs"):
        load_config(tmp_path / "nope.toml")


def test_paper_stl10_names_the_files_it_needs_and_runs_with_them():
    with pytest.raises(ConfigError, match=r"(?s)needs files.*\[data\] path: the folder "
                                          r"stl10_binary/.*--set data.path=DIR.*\[model\] weights"):
        load_config("builtin:paper-stl10")
    config = load_config("builtin:paper-stl10", overrides=["data.path=d/stl10_binary",
                                                           "model.weights=r18.pth"])
    assert config["data"]["size"] == 224 and config["model"]["backbone"] == "resnet18"
    assert config["data"]["mean"] == [0.485, 0.456, 0.406]
    assert config["problems"]["formulations"] == ["paper"] and config["problems"]["beta"] == 0.7
    assert config["images"]["per_class"] == 20 and config["xai"]["null"]
    assert config["model"]["n_maps"] == 16


def test_set_overrides_are_validated_and_recorded():
    base = "[study]\nname = 'x'\n[images]\nper_class = 3\n"
    config = load_config("x.toml", text=base, overrides=[
        "images.per_class=5", "data.size=[32, 48]", "train.lr=1e-2",
        "data.source=folder", "data.path=my images/"])
    assert config["images"]["per_class"] == 5 and config["data"]["size"] == [32, 48]
    assert config["train"]["lr"] == 0.01 and config["data"]["path"] == "my images/"
    # the effective config is the text: reloading it gives the same values
    again = load_config("again.toml", text=config.text)
    assert again.sections == config.sections
    assert config.text.startswith("# effective config: x.toml with --set images.per_class=5")
    assert load_config("x.toml", text=base).sha256 != config.sha256
    for bad, match in [("images", "write section.key=value"),
                       ("imgs.per_class=2", r"unknown section \[imgs\].*did you mean 'images'"),
                       ("images.per_clas=2", r"unknown key 'per_clas'.*did you mean 'per_class'"),
                       ("images.per_class=two", r"per_class must be an integer >= 1, got str"),
                       ("images.per_class=1.5", r"per_class must be an integer >= 1, got float")]:
        with pytest.raises(ConfigError, match=match):
            load_config("x.toml", text=base, overrides=[bad])


def test_the_hash_follows_the_text():
    a = load_config("a.toml", text="[study]\nseed = 1\n")
    b = load_config("a.toml", text="[study]\nseed = 2\n")
    assert a.sha256 != b.sha256
    assert a.sha256 == load_config("other-name.toml", text="[study]\nseed = 1\n").sha256


def _outside(rule, pytype):
    """A value just outside an Interval rule."""
    from studies.config import Interval

    assert isinstance(rule, Interval)
    if rule.low is not None:
        value = rule.low if rule.closed in ("right", "neither") else rule.low - 1
    else:
        value = rule.high if rule.closed in ("left", "neither") else rule.high + 1
    return float(value) if pytype is float else int(value)


@pytest.mark.parametrize("section, key", [
    (s, k) for s, keys in SCHEMA.items() for k, spec in keys.items()
    if type(spec.rule).__name__ == "Interval"])
def test_every_declared_range_is_checked_from_the_schema(section, key):
    import re

    spec = SCHEMA[section][key]
    bad = _outside(spec.rule, spec.pytype)
    with pytest.raises(ConfigError, match=rf"\[{section}\] {key} must be "
                                          rf"{re.escape(spec.rule.describe())}, got"):
        load_config("bad.toml", text=f"[{section}]\n{key} = {bad!r}\n")
    assert spec.rule.describe() in spec.kind  # the type's words state the same rule


def test_settings_are_frozen_typed_sections_equal_to_the_toml_view():
    import dataclasses
    import pickle

    config = load_config("builtin:quick")
    settings = config.settings
    assert [f.name for f in dataclasses.fields(settings)] == list(SCHEMA)
    for section in SCHEMA:
        values = getattr(settings, section)
        assert [f.name for f in dataclasses.fields(values)] == list(SCHEMA[section])
        for key, value in dataclasses.asdict(values).items():
            expected = config[section][key]
            assert (list(value) if isinstance(value, tuple) else value) == expected
    assert settings.dynamics.T == (10.0, 50.0, 100.0) and settings.model.n_maps == 16
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.dynamics.tol = 1.0
    assert pickle.loads(pickle.dumps(settings)) == settings  # what travels to the workers
