"""Reading BQM problem files, and the problems that ship with qaxai.

Formats (chosen by the file's content, then its suffix):

- dimod's binary BQM file (``bqm.to_file()``), any suffix;
- JSON: dimod's ``bqm.to_serializable()``, or the plain form
  ``{"vartype": "BINARY", "linear": {"a": 1.0}, "quadratic": [["a", "b", -2.0]], "offset": 0.0}``;
- COO text (``i j bias`` per line, dimod's ``coo`` format): needs the vartype, from a
  ``# vartype=SPIN`` header line or the ``vartype`` argument. COO keeps no offset.

A name ``builtin:NAME`` loads a shipped problem; :func:`builtin_problems` lists them.
"""

from __future__ import annotations

import json
from importlib import resources
from os import PathLike
from pathlib import Path

import dimod

__all__ = ["load_bqm", "builtin_problems"]

_BUILTIN_PREFIX = "builtin:"


def builtin_problems() -> dict[str, str]:
    """Names of the shipped problems and a one-line description of each."""
    out = {}
    for entry in resources.files("studies.data").iterdir():
        if entry.name.endswith(".json"):
            meta = json.loads(entry.read_text()).get("info", {})
            out[entry.name[:-5]] = meta.get("description", "")
    return dict(sorted(out.items()))


def load_bqm(source: str | PathLike, *, vartype: str | None = None) -> dimod.BinaryQuadraticModel:
    """Read a BQM from a file, or a shipped one by ``"builtin:NAME"``.

    Parameters
    ----------
    source : str or path
        File path, or ``builtin:NAME``.
    vartype : {"SPIN", "BINARY"}, optional
        Needed only for COO files without a ``# vartype=`` header.

    Raises
    ------
    FileNotFoundError
        If the file (or the builtin name) does not exist.
    ValueError
        If the content is not a BQM in any supported format.
    """
    text_source = str(source)
    if text_source.startswith(_BUILTIN_PREFIX):
        name = text_source[len(_BUILTIN_PREFIX):]
        entry = resources.files("studies.data") / f"{name}.json"
        if not entry.is_file():
            raise FileNotFoundError(
                f"no builtin problem {name!r}; available: {', '.join(builtin_problems())}."
            )
        return _from_json(json.loads(entry.read_text()), text_source)
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"problem file {path} does not exist (or is not a file).")
    raw = path.read_bytes()
    if raw.startswith(b"DIMODBQM"):
        with path.open("rb") as fh:
            return dimod.BinaryQuadraticModel.from_file(fh)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is neither a dimod BQM file nor text (JSON or COO).") from exc
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} looks like JSON but does not parse: {exc}") from exc
        return _from_json(data, str(path))
    return _from_coo(text, str(path), vartype)


def _from_json(data: dict, where: str) -> dimod.BinaryQuadraticModel:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: a JSON problem must be an object, got {type(data).__name__}.")
    if data.get("type") == "BinaryQuadraticModel":
        return dimod.BinaryQuadraticModel.from_serializable(data)
    if "bqm" in data:  # the shipped problems wrap a serialisable BQM with "info"
        return _from_json(data["bqm"], where)
    missing = [key for key in ("vartype", "linear") if key not in data]
    if missing:
        raise ValueError(
            f"{where}: JSON problem lacks {missing}; give dimod's to_serializable() output or "
            '{"vartype": ..., "linear": {...}, "quadratic": [[u, v, bias], ...], "offset": ...}.'
        )
    quadratic = {}
    for item in data.get("quadratic", []):
        if not (isinstance(item, (list, tuple)) and len(item) == 3):
            raise ValueError(f"{where}: each quadratic entry must be [u, v, bias], got {item!r}.")
        u, v, bias = item
        quadratic[(u, v)] = quadratic.get((u, v), 0.0) + float(bias)
    return dimod.BinaryQuadraticModel(
        {k: float(v) for k, v in data["linear"].items()}, quadratic,
        float(data.get("offset", 0.0)), _vartype(data["vartype"], where),
    )


def _from_coo(text: str, where: str, vartype: str | None) -> dimod.BinaryQuadraticModel:
    header = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#") and "vartype=" in line:
            header = line.split("vartype=", 1)[1].split()[0]
    vt = vartype or header
    if vt is None:
        raise ValueError(
            f"{where}: a COO problem needs its vartype: add a '# vartype=BINARY' (or SPIN) line, "
            "or pass --vartype."
        )
    body = "\n".join(l for l in text.splitlines() if not l.strip().startswith("#"))
    try:
        from dimod.serialization import coo

        return coo.loads(body, vartype=_vartype(vt, where))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{where}: not a COO problem ('i j bias' per line): {exc}") from exc


def _vartype(value, where: str) -> dimod.Vartype:
    try:
        return dimod.as_vartype(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: vartype must be 'SPIN' or 'BINARY', got {value!r}.") from exc
