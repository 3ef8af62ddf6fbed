"""studies — problem files, the ``qaxai`` command line and figures.

Study configs, the Dask runner and the HDF5 store arrive with the studies issue.
"""

from .problems import builtin_problems, load_bqm

__all__ = ["load_bqm", "builtin_problems"]
