"""The errors prunebench raises for input a user can fix; a pipeline step reports them in one line.

Anything else (a TypeError, an IndexError, a ValueError from numpy) is a bug and keeps its traceback.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input: a config value, a name, data a method cannot use, said in one line."""


class UnknownNameError(InputError, KeyError):
    """A name that is not registered (method, dataset, architecture)."""

    def __str__(self) -> str:  # the message as written, not KeyError's repr of it
        return str(self.args[0]) if self.args else ""


class DiskFullError(InputError):
    """No space left where a result is written: the user frees space and reruns."""

