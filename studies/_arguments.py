"""Argument types of the ``qaxai`` command line (private): each checks one kind of value
and says the rule in argparse's error line (exit status 2)."""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

__all__ = ["positive_float", "byte_limit", "integer_at_least", "figure_path", "folder_path",
           "file_path", "joined_negative_numbers"]


def positive_float(text: str) -> float:
    """A finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def byte_limit(text: str) -> float:
    """Bytes > 0, or ``inf`` (no limit: the memory guard is off)."""
    if text.strip().lower() in ("inf", "infinity"):
        return math.inf
    return positive_float(text)


#: the formats a figure is written in (matplotlib chooses by the suffix)
_FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


def figure_path(text: str) -> str:
    """A figure file to write: a name with a figure suffix, not a folder, in a folder that
    exists or can be made (matplotlib would write ``DIR.png`` for ``DIR``)."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name in it, e.g. "
                                         f"{path / 'figure.png'}")
    if path.suffix.lower() not in _FIGURE_SUFFIXES:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no figure suffix; end it in {', '.join(_FIGURE_SUFFIXES)} (the "
            "format is chosen by it)")
    return file_path(text)


def _first_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def folder_path(text: str) -> str:
    """An output folder: an existing folder, or one that can be made (not a file)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file; give a folder to write into")
    if not _first_existing(path).is_dir():
        raise argparse.ArgumentTypeError(f"{text} cannot be made: "
                                         f"{_first_existing(path)} is a file, not a folder")
    return text


def file_path(text: str) -> str:
    """An output file: not a folder, in a folder that exists or can be made."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name in it")
    if not _first_existing(path.parent).is_dir():
        raise argparse.ArgumentTypeError(f"{text} cannot be written: "
                                         f"{_first_existing(path.parent)} is a file, not a "
                                         "folder")
    return text


def integer_at_least(low: int):
    """An argument type: an integer >= ``low``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}") \
                from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-inf$", re.IGNORECASE)


def joined_negative_numbers(argv: list[str]) -> list[str]:
    """``--opt -1e-3`` as ``--opt=-1e-3``: argparse takes a token that starts with '-' and is
    not a plain negative number (an exponent, 'inf') for an option of its own."""
    out: list[str] = []
    for token in argv:
        if (_NUMBER.match(token) and out and out[-1].startswith("--") and "=" not in out[-1]
                and not out[-1] == "--"):
            out[-1] = f"{out[-1]}={token}"
        else:
            out.append(token)
    return out
