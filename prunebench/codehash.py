"""Digests of the code a step runs, so a workflow reruns what a code change affects and nothing else.

The code of a step is its function, the module functions, classes and assignments it names, and
every module the imports they use reach, transitively, found by parsing the sources (nothing is
imported). Code is hashed as its syntax tree without docstrings: comments, formatting and
docstrings are not changes. Relative imports are followed
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


@functools.cache  # where a package lives does not change while a process runs
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


_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _bound(alias: ast.alias, statement) -> str:
    """The name an import alias binds in its module (`import a.b` binds `a`)."""
    return alias.asname or (alias.name if isinstance(statement, ast.ImportFrom) else alias.name.split(".")[0])


def _names(node) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _part(tree: ast.Module, function: str | None) -> ast.Module:
    """The module, or the part of it `function` runs: the function, the module's functions, classes and
    assignments it names (transitively), and those top-level imports whose names they use."""
    if function is None:
        return tree
    defs: dict[str, list] = {}
    for statement in tree.body:
        if isinstance(statement, _DEFS):
            defs.setdefault(statement.name, []).append(statement)
        elif isinstance(statement, (ast.Assign, ast.AnnAssign)):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for name in set().union(*map(_names, targets)):
                defs.setdefault(name, []).append(statement)
    kept, used, pending = [], set(), [function]
    while pending:
        name = pending.pop()
        if name in used:
            continue
        used.add(name)
        for statement in defs.get(name, ()):
            kept.append(statement)
            pending += _names(statement)
    imports = []
    for statement in tree.body:
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            aliases = [a for a in statement.names if _bound(a, statement) in used]
            if aliases:
                imports.append(type(statement)(**{**vars(statement), "names": aliases}))
    order = {id(s): i for i, s in enumerate(tree.body)}
    body = sorted({id(s): s for s in kept}.values(), key=lambda s: order[id(s)])
    return ast.Module(body=imports + body, type_ignores=[])


def _without_docstrings(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, *_DEFS)) and node.body and isinstance(node.body[0], ast.Expr) \
                and isinstance(node.body[0].value, ast.Constant) and isinstance(node.body[0].value.value, str):
            node.body = node.body[1:] or [ast.Pass()]
    return tree


@functools.cache
def _parsed(path: Path, function: str | None, mtime_ns: int) -> tuple[ast.Module, str]:
    """The part of `path` that counts (see `_part`) and its normalised form: its syntax tree without
    docstrings, so comments, formatting and docstrings are not code changes."""
    part = _part(ast.parse(path.read_bytes(), filename=str(path)), function)
    return part, ast.dump(_without_docstrings(ast.parse(ast.unparse(part))))


def _imports(path: Path, function: str | None) -> tuple[Path, ...]:
    """Files of the followed modules `path` imports (anywhere, or those the part `function` runs uses)."""
    return _imports_of(path, function, path.stat().st_mtime_ns)


@functools.cache  # Snakemake asks for every job's digest: each file's imports are read once per version
def _imports_of(path: Path, function: str | None, mtime_ns: int) -> tuple[Path, ...]:
    tree, _ = _parsed(path, function, mtime_ns)
    found: list[Path] = []
    for node in ast.walk(tree):
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


def _parts(roots: list) -> list[tuple[Path, str | None]]:
    """The roots and every followed module they import, transitively, as (file, function or None for all
    of it), in a fixed order. A root (file, function) counts only the part of the file `function` runs."""
    pending = [(Path(r[0]).resolve(), r[1]) if isinstance(r, tuple) else (Path(r).resolve(), None) for r in roots]
    root_files = {path for path, _ in pending}
    done: dict = {}
    pending.reverse()
    while pending:
        path, function = pending.pop()
        if (path, function) in done:
            continue
        done[path, function] = None
        imported = _imports(path, function)
        if path.name == "__init__.py" and path not in root_files:
            imported = tuple(f for f in imported if not f.is_relative_to(path.parent))
        pending.extend((f, None) for f in reversed(imported))
    return sorted(done, key=lambda part: (_label(part[0]), part[1] or ""))


def module_files(roots: list) -> list[Path]:
    """The files whose code the roots run (see `_parts`), in a fixed order."""
    return list(dict.fromkeys(path for path, _ in _parts(roots)))


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
    for path, function in _parts(roots):
        code = _parsed(path, function, path.stat().st_mtime_ns)[1]
        digest.update(f"{_label(path)}:{function or ''}".encode() + b"\0" + code.encode() + b"\0")
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
    """The code function `step` runs (its body, the module functions and names it uses, what they import), plus the
    modules of `parts` in full (e.g. the Method a score step scores with); a part (file, function) is known by its
    source alone and counts as a root (the part of the file that function runs), so its module is not imported."""
    sources = [part for part in parts if isinstance(part, tuple)]
    objects = [part for part in parts if not isinstance(part, tuple)]
    return code_digest([(inspect.getsourcefile(step), step.__name__), *sources, *source_files(*objects)])
