"""Digests of the code a step runs, so a workflow reruns what a code change affects and nothing else.

The code of a step is its module file plus every module it imports, transitively,
found by parsing the sources (nothing is imported). Relative imports are followed
from any file (a plugin's own package too); absolute imports only into `PACKAGES`.
A package's `__init__.py` reached through an import is hashed, but the imports of
its own submodules are not followed: a registry that assembles its families must
not tie every method to every other. A step names the family it runs instead
(`step_digest(pipeline.score, method)`), and a root `__init__.py` is followed in full.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import inspect
from dataclasses import fields, is_dataclass
from pathlib import Path

PACKAGES = ("prunebench",)  # absolute imports followed; anything else is a dependency, pinned elsewhere


@functools.cache
def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)  # a top-level name: found without running it
    locations = spec.submodule_search_locations if spec else None
    return Path(next(iter(locations))).resolve() if locations else None


def _module_file(base: Path, parts: list[str]) -> Path | None:
    """The file of module `parts` below folder `base`: a .py file or a package's __init__.py."""
    path = base.joinpath(*parts)
    if path.with_suffix(".py").is_file() and parts:
        return path.with_suffix(".py")
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return None


def _import_nodes(tree: ast.Module, function: str | None):
    """Import statements of the whole module, or of its top level and of `function` with the module's
    functions it calls (transitively)."""
    if function is None:
        yield from ast.walk(tree)
        return
    defs = {s.name: s for s in tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    used, pending = set(), [function]
    while pending:
        name = pending.pop()
        if name in used or name not in defs:
            continue
        used.add(name)
        pending += [n.id for n in ast.walk(defs[name]) if isinstance(n, ast.Name) and n.id in defs]
    for statement in tree.body:
        if statement.__class__ not in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef) or statement.name in used:
            yield from ast.walk(statement)


@functools.cache
def _imports(path: Path, function: str | None, mtime_ns: int) -> tuple[Path, ...]:
    """Files of the followed modules `path` imports (anywhere, or at its top level and in `function`)."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    found: list[Path] = []
    for node in _import_nodes(tree, function):
        if isinstance(node, ast.Import):
            targets = [(None, alias.name.split("."), []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module.split(".") if node.module else []
            base = path.parent
            for _ in range(node.level - 1):
                base = base.parent
            targets = [(base if node.level else None, module, [a.name for a in node.names])]
        else:
            continue
        for base, module, names in targets:
            if base is None:  # absolute: only into the followed packages
                top = _package_dir(module[0]) if module[0] in PACKAGES else None
                if top is None:
                    continue
                base = top.parent
            file = _module_file(base, module)
            if file is not None:
                found.append(file)
            for name in names:  # `from package import submodule`
                sub = _module_file(base, [*module, name])
                if sub is not None and sub != file:
                    found.append(sub)
    return tuple(dict.fromkeys(found))


Root = "str | os.PathLike | tuple[str | os.PathLike, str]"  # a file, or (file, function) for one function's code


def module_files(roots: list) -> list[Path]:
    """The root files and every followed module they import, transitively, in a fixed order.

    A root (file, function) counts only the imports at the file's top level and inside `function`.
    """
    pending = [(Path(r[0]).resolve(), r[1]) if isinstance(r, tuple) else (Path(r).resolve(), None) for r in roots]
    root_files = {path for path, _ in pending}
    seen: dict[Path, None] = {}
    done: set = set()
    pending.reverse()
    while pending:
        path, function = pending.pop()
        if (path, function) in done:
            continue
        done.add((path, function))
        seen[path] = None
        imported = _imports(path, function, path.stat().st_mtime_ns)
        if path.name == "__init__.py" and path not in root_files:
            imported = tuple(f for f in imported if not f.is_relative_to(path.parent))
        pending.extend((f, None) for f in reversed(imported))
    return sorted(seen, key=_label)


def _label(path: Path) -> str:
    """A file's name as the code knows it (prunebench/methods/cld.py), the same in every clone."""
    for name in PACKAGES:
        top = _package_dir(name)
        if top is not None and path.is_relative_to(top):
            return path.relative_to(top.parent).as_posix()
    return path.name


def code_digest(roots: list) -> str:
    """A short digest of the root files and every followed module they import (see `module_files`)."""
    digest = hashlib.sha256()
    for path in module_files(roots):
        digest.update(_label(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def source_files(*parts) -> list[Path]:
    """Source files of functions, classes or modules, and of the callables a dataclass holds (a Method)."""
    files = []
    for part in parts:
        if is_dataclass(part) and not isinstance(part, type):
            files += source_files(*(getattr(part, f.name) for f in fields(part) if callable(getattr(part, f.name))))
        elif part is not None:
            function = getattr(part, "func", part)  # functools.partial: its function
            files.append(inspect.getsourcefile(function))
            # a function a factory made (submodular.greedy_method): the functions it was made from, too
            cells = [c.cell_contents for c in getattr(function, "__closure__", None) or ()]
            files += source_files(*(c for c in cells if inspect.isfunction(c) and c is not function))
    return [Path(f).resolve() for f in dict.fromkeys(files) if f]


def step_digest(step, *parts) -> str:
    """The code function `step` runs (its module's top level, its own body, what they import), plus the
    modules of `parts` in full (e.g. the Method a score step scores with)."""
    return code_digest([(inspect.getsourcefile(step), step.__name__), *source_files(*parts)])
