"""Errors that msrc reports to a person, without a Python traceback."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Issue:
    """One problem found in a scenario.

    Attributes
    ----------
    where:
        ``file:line`` (or ``--set ...`` for a command-line override) where the
        problem stands; empty when no place is known.
    path:
        Dotted path of the scenario key, e.g. ``battery.soc_min``.
    message:
        What is wrong: the value and the rule it breaks.
    """

    where: str
    path: str
    message: str

    def __str__(self) -> str:
        """The issue on one line (a line break inside any part is written as ``\\n``)."""
        prefix = ": ".join(p for p in (self.where, self.path) if p)
        if not prefix:
            text = self.message
        else:
            joiner = " " if self.message.startswith("= ") and (self.path or self.where.startswith("-")) else ": "
            text = f"{prefix}{joiner}{self.message}"
        return text.replace("\r", "\\r").replace("\n", "\\n")


class ScenarioError(Exception):
    """A scenario that cannot be used, with every problem found in it.

    The CLI prints one line per issue and exits with status 2.
    """

    def __init__(self, issues: list[Issue] | Issue | str):
        if isinstance(issues, str):
            issues = [Issue("", "", issues)]
        elif isinstance(issues, Issue):
            issues = [issues]
        self.issues: list[Issue] = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class RuleViolation(ValueError):
    """A cross-field rule broken inside a scenario section.

    Raised from pydantic validators so that the error can point at the
    sub-key it concerns (``subpath``), not only at the section. ``involves``
    lists the other keys the rule reads (relative to the same section): when
    one of them, and not ``subpath``, was set by a ``--set`` option, the error
    is placed at that option, the change that broke the rule.
    """

    def __init__(self, subpath: tuple[str | int, ...], message: str, involves: tuple[tuple[str | int, ...], ...] = ()):
        self.subpath = subpath
        self.message = message
        self.involves = involves
        super().__init__(message)
