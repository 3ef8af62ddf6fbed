"""The exception tree: one base per package in its exceptions.py, input errors also
ValueErrors, no package's errors under another's base, and real raise sites."""

import importlib
import inspect

import dimod
import pytest

import encoding.exceptions
import simulate
import simulate.exceptions
import spectral
import spectral.exceptions
import studies
import studies.exceptions

BASES = {"spectral": spectral.SpectralError, "simulate": simulate.SimulationError,
         "encoding": encoding.EncodingError, "studies": studies.StudyError}


@pytest.mark.parametrize("package", sorted(BASES))
def test_one_base_per_package_and_every_error_under_it(package):
    module = importlib.import_module(f"{package}.exceptions")
    base = BASES[package]
    assert base.__module__ == module.__name__
    assert issubclass(base, ValueError)
    classes = [c for _, c in inspect.getmembers(module, inspect.isclass)
               if issubclass(c, Exception) and c.__module__ == module.__name__]
    assert classes and all(issubclass(c, base) for c in classes)
    for other, other_base in BASES.items():  # no package's errors are another's
        if other != package:
            assert not any(issubclass(c, other_base) for c in classes), (package, other)
    pkg = importlib.import_module(package)
    for name in module.__all__:  # and each is public at package level
        assert getattr(pkg, name) is getattr(module, name)


def test_raise_sites_use_the_tree():
    bqm = dimod.BinaryQuadraticModel({0: -1.0}, {}, 0.0, "BINARY")
    with pytest.raises(simulate.SimulationError) as info:
        simulate.anneal(bqm, -1.0)
    assert not isinstance(info.value, spectral.SpectralError)
    with pytest.raises(simulate.PropagationError) as info:
        simulate.anneal(dimod.BinaryQuadraticModel({0: -1.0, 1: 1.0}, {}, 0.0, "BINARY"),
                        1e4, method="dop853", tol=1e-300)
    assert isinstance(info.value, ArithmeticError)
    with pytest.raises(studies.ConfigError):
        studies.load_config("builtin:quick", overrides=["images.per_class=0"])
    with pytest.raises(studies.ProblemFileError):
        from studies.problems import random_selection_bqm
        random_selection_bqm(0, 1)
    assert studies.exceptions.ConfigError is studies.config.ConfigError
