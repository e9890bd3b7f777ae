"""The errors prunebench raises for input a user can fix; a pipeline step reports them in one line.

Anything else (a TypeError, an IndexError, a ValueError from numpy) is a bug and keeps its traceback.
"""

from __future__ import annotations

import re


class InputError(ValueError):
    """Bad input: a config value, a name, data a method cannot use, said in one line."""


class UnknownNameError(InputError, KeyError):
    """A name that is not registered (method, dataset, architecture)."""

    def __str__(self) -> str:  # the message as written, not KeyError's repr of it
        return str(self.args[0]) if self.args else ""


class DiskFullError(InputError):
    """No space left where a result is written: the user frees space and reruns."""



NAME = re.compile(r"[a-z][a-z0-9_]*")  # registered names are path segments and Snakemake wildcard values


def check_new_name(kind: str, name: str, registry: dict) -> None:
    """Refuse a name a registry (method, dataset, architecture) cannot take: ill-formed or taken."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValueError(f"{kind} name {name!r} must be lower-case letters, digits and _, starting with a letter")
    if name in registry:
        raise ValueError(f"{kind} {name!r} is already registered")
