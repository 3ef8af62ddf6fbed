"""studies — study configs, the Dask runner, the HDF5 store, figures and the ``qaxai`` CLI.

>>> from studies import load_config, run_study, load_study, study_figures
>>> config = load_config("builtin:quick", overrides=["images.per_class=3"])
>>> config.name, config["images"]["per_class"], config["problems"]["qubits"]
('quick', 3, [8, 12])
>>> summary = run_study(config, "results/quick.h5")         # doctest: +SKIP
>>> study = load_study("results/quick.h5")                  # doctest: +SKIP
>>> study_figures("results/quick.h5", "results/figures")    # doctest: +SKIP
"""

from .config import StudyConfig, load_config
from .exceptions import ConfigError, ProblemFileError, StoreError, StudyError, UsageError
from .problems import builtin_problems, load_bqm
from .runner import RunSummary, run_study
from .store import StudyData, StudyStore, load_study
from .study_figures import study_figures

__all__ = ["load_bqm", "builtin_problems", "load_config", "StudyConfig", "ConfigError",
           "run_study", "RunSummary", "StudyStore", "StudyData", "load_study", "study_figures",
           "StudyError", "StoreError", "ProblemFileError", "UsageError"]
