"""Fixtures of the studies tests."""

import pytest


@pytest.fixture(scope="session")
def trained_default_cache(tmp_path_factory):
    """A cache folder holding the trained default PaperNet (trained once per test process)."""
    from encoding import default_model

    folder = tmp_path_factory.mktemp("qaxai-cache")
    default_model(cache=folder, progress=False)
    return folder
