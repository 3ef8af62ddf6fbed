"""Study configs: the shipped ones load; every bad key, type and value gets a clear error."""

from importlib import resources

import pytest

from studies.config import SCHEMA, ConfigError, load_config

SHIPPED = ("quick", "paper", "scaling")


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
    ("[spectral]\ns_tol = 0", r"\[spectral\] s_tol must be > 0"),
    ("[hardware]\nreads = 0", r"\[hardware\] reads must be >= 1"),
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
    with pytest.raises(FileNotFoundError, match="shipped: paper, paper-stl10, quick, scaling"):
        load_config("builtin:nope")


def test_missing_file_says_where_the_shipped_ones_are(tmp_path):
    with pytest.raises(FileNotFoundError, match="studies/configs"):
        load_config(tmp_path / "nope.toml")


def test_the_hash_follows_the_text():
    a = load_config("a.toml", text="[study]\nseed = 1\n")
    b = load_config("a.toml", text="[study]\nseed = 2\n")
    assert a.sha256 != b.sha256
    assert a.sha256 == load_config("other-name.toml", text="[study]\nseed = 1\n").sha256
