"""Fixtures of the studies tests."""

import pytest


@pytest.fixture(scope="session")
def trained_default_cache(tmp_path_factory):
    """A cache folder holding the trained default PaperNet (trained once per test process)."""
    from encoding import default_model

    folder = tmp_path_factory.mktemp("qaxai-cache")
    default_model(cache=folder, progress=False)
    return folder


TINY_CONFIG = """
[study]
name = "tiny"
seed = 3
[images]
per_class = 2
classes = [0, 1, 3]
[xai]
n_boot = 20
n_perm = 20
[problems]
formulations = ["paper", "cardinality"]
qubits = [6]
random_qubits = [4, 5]
random_seeds = [0, 1]
[dynamics]
T = [10.0, 30.0]
t99 = true
t99_max_qubits = 4
t99_max_T = 2000.0
[hardware]
enabled = true
instances = 1
min_qubits = 4
max_qubits = 6
reads = 50
"""


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory, trained_default_cache):
    """A small study, run once: (config, file, summary). Every part of the pipeline is in it:
    the XAI instance, image problems of both formulations, random problems, T_99 and the
    hardware stand-in on one problem."""
    import os

    from studies.config import load_config
    from studies.runner import run_study

    folder = tmp_path_factory.mktemp("tiny-study")
    config_path = folder / "tiny.toml"
    config_path.write_text(TINY_CONFIG)
    config = load_config(config_path)
    old = os.environ.get("QAXAI_CACHE_DIR")
    os.environ["QAXAI_CACHE_DIR"] = str(trained_default_cache)
    try:
        summary = run_study(config, folder / "tiny.h5", workers=1, threads_per_task=1,
                            progress=False)
    finally:
        if old is None:
            os.environ.pop("QAXAI_CACHE_DIR")
        else:
            os.environ["QAXAI_CACHE_DIR"] = old
    return config, folder / "tiny.h5", summary
