"""Fixtures shared by the encoding tests."""

import pytest


@pytest.fixture(scope="session")
def trained_default(tmp_path_factory):
    """The bundled default model, trained once per test process into a temporary cache."""
    from encoding import default_model

    return default_model(cache=tmp_path_factory.mktemp("qaxai-cache"), progress=False)
