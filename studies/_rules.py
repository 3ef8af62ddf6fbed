"""The value rules of study-config keys (private): a key's type, default and rule, each
rule checking one value and describing itself in messages. :mod:`studies.config` declares
its schema with them."""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .exceptions import ConfigError

__all__ = ["Rule", "Interval", "Options", "ListOf", "Check", "Key"]


class Rule:
    """A value rule of one key, declared in the schema and checked from there (after the
    key's type). ``describe()`` is its text in messages and in type descriptions."""

    def describe(self) -> str:  # pragma: no cover - every rule overrides it
        raise NotImplementedError

    def check(self, where: str, value):
        """Return ``value`` (converted where the rule says) or raise :class:`ConfigError`."""
        raise NotImplementedError  # pragma: no cover


@dataclass(frozen=True)
class Interval(Rule):
    """``low <= value``, ``value < high`` and so on, as ``closed`` says ("left", "right",
    "both", "neither"); a missing end is unbounded."""

    low: float | None = None
    high: float | None = None
    closed: str = "left"

    def describe(self) -> str:
        left = self.closed in ("left", "both")
        right = self.closed in ("right", "both")
        if self.high is None:
            return f"{'>=' if left else '>'} {self.low:g}"
        if self.low is None:
            return f"{'<=' if right else '<'} {self.high:g}"
        return f"in {'[' if left else '('}{self.low:g}, {self.high:g}{']' if right else ')'}"

    def holds(self, value) -> bool:
        if value != value:  # NaN
            return False
        left = self.closed in ("left", "both")
        right = self.closed in ("right", "both")
        if self.low is not None and not (value >= self.low if left else value > self.low):
            return False
        return self.high is None or (value <= self.high if right else value < self.high)

    def check(self, where: str, value):
        if not self.holds(value):
            raise ConfigError(f"{where} must be {self.describe()}, got {value}.")
        return value


@dataclass(frozen=True)
class Options(Rule):
    """One of ``values`` (or of what a callable returns, for lists known at run time);
    ``text`` replaces the list in messages; ``hint`` follows a refusal."""

    values: tuple | Callable[[], Sequence] = ()
    text: str | None = None
    hint: str = ""

    def allowed(self) -> list:
        return list(self.values() if callable(self.values) else self.values)

    def describe(self) -> str:
        return self.text or f"one of {self.allowed()}"

    def check(self, where: str, value):
        if value not in self.allowed():
            near = _closest(value, self.allowed()) if isinstance(value, str) else ""
            raise ConfigError(f"{where} must be {self.describe()}, got {value!r}{near}.{self.hint}")
        return value


@dataclass(frozen=True)
class ListOf(Rule):
    """A list whose entries are of type ``item`` (``float`` takes integers too; finite) and
    satisfy ``rule``; ``nonempty`` refuses ``[]``."""

    item: type
    rule: Rule | None = None
    nonempty: bool = False

    def describe(self) -> str:
        word = _TYPE_WORDS[self.item] + "s"
        if isinstance(self.rule, Interval):
            return f"list of {word} {self.rule.describe()}"
        return f"list of {word}"

    def check(self, where: str, value):
        if self.nonempty and not value:
            raise ConfigError(f"{where} must not be empty.")
        out = []
        for v in value:
            if self.item is float:
                good = isinstance(v, (int, float)) and not isinstance(v, bool) \
                    and math.isfinite(v)
            else:
                good = isinstance(v, self.item) and not isinstance(v, bool)
            if good and isinstance(self.rule, Interval):
                good = self.rule.holds(v)
            if not good:
                raise ConfigError(f"{where} must be a {self.describe()}, got the entry {v!r}.")
            out.append(float(v) if self.item is float else v)
        if isinstance(self.rule, Options):
            bad = [v for v in out if v not in self.rule.allowed()]
            if bad:
                raise ConfigError(f"{where}: unknown {bad}; choose from "
                                  f"{self.rule.allowed()}{self.rule.hint and ','}"
                                  f"{self.rule.hint.rstrip('.')}.")
        return out


@dataclass(frozen=True)
class Check(Rule):
    """A rule written as a function ``f(where, value) -> value`` with its description."""

    text: str
    function: Callable

    def describe(self) -> str:
        return self.text

    def check(self, where: str, value):
        return self.function(where, value)


_TYPE_WORDS = {int: "integer", float: "number", str: "string", bool: "boolean", list: "list"}


@dataclass(frozen=True)
class Key:
    """One config key: its Python type(s), default, rule, and the words for messages.

    ``kind`` defaults to the type's word followed by the rule's description (e.g. "integer
    >= 1", "list of numbers > 0"); ``note`` is appended (e.g. "(a path)").
    """

    pytype: type | tuple
    default: object = None
    rule: Rule | None = None
    note: str = ""
    kind_text: str | None = None

    @property
    def kind(self) -> str:
        if self.kind_text:
            return self.kind_text
        if isinstance(self.rule, ListOf):
            text = self.rule.describe()
        else:
            text = _TYPE_WORDS[self.pytype]
            if isinstance(self.rule, Interval):
                text += f" {self.rule.describe()}"
        return f"{text} {self.note}".strip()

    def validate(self, where: str, value):
        """Type, then rule (``None`` stays ``None``: the key is unset)."""
        if value is None:
            return None
        value = _check_type(where, value, self.kind, self.pytype)
        return value if self.rule is None else self.rule.check(where, value)


def _closest(word: str, options) -> str:
    match = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _check_type(where: str, value, kind: str, pytype):
    if pytype is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
        if ok and not math.isfinite(value):
            raise ConfigError(f"{where} must be a finite number, got {value}.")
    elif pytype is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(pytype, tuple):
        ok = isinstance(value, pytype) and not isinstance(value, bool)
    else:
        ok = isinstance(value, pytype)
    if not ok:
        article = "an" if kind[0] in "aeiou" else "a"
        raise ConfigError(f"{where} must be {article} {kind}, got {type(value).__name__} "
                          f"{value!r}.")
    return value
