"""What a selection method is, and the registry that built-in families and plugins add methods to.

A method's `score(signals, params, seed, plan)` turns logged arrays into one score per pool
sample (plus optional extra columns); `prunebench.selection` turns scores into subsets by top-k,
unless the method has its own `subset` sampler (strata, Beta sampling, weights), which is then
called once per fraction. Each parameter is declared once (default, one-line doc, allowed values)
and checked by `Method.problems` before any training; `check` holds only rules that span several
parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import UnknownNameError, check_new_name
from ..signals import EVAL_FILE, TRAIN_FILE, is_model_file, model_file, snapshot_file


@dataclass(frozen=True)
class ProxyPlan:
    """What the proxy runs log, so methods can be checked before any training."""

    epochs: int
    snapshot_epochs: tuple[int, ...] = ()
    log_in_training: bool = True
    log_kl_shift: bool = False
    repeats: int = 1  # independent proxy runs; repeats 1.. stop after the last snapshot epoch
    arch: str = "small_cnn"
    crop_size: int | None = None  # the side the proxy saw (image folders' dataset.crop_size); None: the stored side

    @property
    def logged_snapshots(self) -> list[int]:
        """Epochs with a snapshot in the main run: the configured ones and the last."""
        return sorted(set(self.snapshot_epochs) | {self.epochs})


Scored = dict[str, np.ndarray]  # the score table's columns: index, label, score, and method-specific ones


def _at(value, params: dict, plan: ProxyPlan):
    """A bound or note, fixed or computed from the other parameters and the plan."""
    return value(params, plan) if callable(value) else value


@dataclass(frozen=True)
class Param:
    """One parameter of a method: its default, a one-line doc and the values it allows.

    Bounds and notes may be functions of (params, plan) when the range depends on the proxy
    or on a parameter declared before this one. `rule(params, plan)` replaces the range check
    with one of its own (one line or None); rules run after every range and choice check.
    """

    default: Any
    doc: str
    kind: str = "any"  # "integer" [low, high], "number" [low, high) or [low, high], "choice", "mapping", "any"
    low: Any = None
    high: Any = None
    closed: bool = False  # numbers: is `high` allowed
    choices: Any = ()  # a tuple, or a function of (params, plan) read at check time (a registry that grows)
    nullable: bool = False  # null is allowed (it means "take it from the proxy plan")
    note: Any = ""  # why the range is what it is, appended to the error
    rule: Callable[[dict, ProxyPlan], str | None] | None = None

    @classmethod
    def integer(cls, default, doc, low, high, note="", nullable=False) -> Param:
        return cls(default, doc, "integer", low, high, note=note, nullable=nullable)

    @classmethod
    def number(cls, default, doc, low, high, closed=False) -> Param:
        return cls(default, doc, "number", low, high, closed=closed)

    @classmethod
    def choice(cls, default, doc, choices) -> Param:
        return cls(default, doc, "choice", choices=tuple(choices))

    @classmethod
    def mapping(cls, default, doc) -> Param:
        return cls(default, doc, "mapping")

    def problem(self, key: str, params: dict, plan: ProxyPlan) -> str | None:
        value = params[key]
        if self.rule is not None:
            return self.rule(params, plan)
        if value is None and self.nullable:
            return None
        if self.kind == "choice" and value not in (choices := _at(self.choices, params, plan)):
            return f"{key}={value!r} must be one of {', '.join(map(repr, choices))}"
        if self.kind == "mapping" and not isinstance(value, dict):
            return f"{key}={value!r} must be a mapping"
        if self.kind in ("integer", "number"):
            low, high = _at(self.low, params, plan), _at(self.high, params, plan)
            if self.kind == "integer":
                if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                    return f"{key}={value!r} must be an integer in [{low}, {high}]{_at(self.note, params, plan)}"
            elif isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                    low <= value and (value <= high if self.closed else value < high)):
                return f"{key}={value!r} must be a number in [{low}, {high}{']' if self.closed else ')'}"
        return None


# every method accepts these overrides
SELECTION_PARAMS = {"keep": "'highest' or 'lowest' score first", "balanced": "per-class budgets (else one ranking)"}


@dataclass(frozen=True)
class Method:
    name: str
    score: Callable[[Any, dict, int, ProxyPlan], np.ndarray | Scored]  # (signals, params, seed, plan)
    family: str
    paper: str
    signals: tuple[str, ...] = ()  # what it reads: "train.<signal>", "eval.<signal>", "snapshot.<array>", "model"
    keep: str = "highest"  # "highest" or "lowest" score first
    balanced: bool = True  # per-class budgets by default (else one global ranking)
    parameters: dict[str, Param] = field(default_factory=dict)
    files: Callable[[dict, ProxyPlan], list[str]] | None = None  # proxy files read; None: from `signals`
    requires: Callable[[ProxyPlan], str | None] | None = None  # what the proxy must log, checked first
    check: Callable[[dict, ProxyPlan], list[str]] | None = None  # rules spanning several parameters, checked last
    # (scored, fraction, params, rng, signals) -> (rows in preference order, weights or None)
    subset: Callable[..., tuple[np.ndarray, np.ndarray | None]] | None = None
    subset_reads_signals: bool = False  # the sampler needs the proxy's signals, not only the score table
    full_only: bool = False  # trains on the whole pool; only fraction 1 exists
    difficulty: bool = False  # its score ranks samples by difficulty: CCS and D2-Pruning may build on it

    @property
    def defaults(self) -> dict:
        return {key: spec.default for key, spec in self.parameters.items()}

    @property
    def docs(self) -> dict:
        return {key: spec.doc for key, spec in self.parameters.items()}

    def params(self, overrides: dict | None = None) -> dict:
        """Defaults merged with `overrides`, including the selection parameters."""
        return {"keep": self.keep, "balanced": self.balanced, **self.defaults, **(overrides or {})}

    def proxy_files(self, params: dict, plan: ProxyPlan) -> list[str]:
        """Names of the proxy outputs this method reads (none for label-only methods)."""
        if self.files is not None:
            return self.files(params, plan)
        files = []
        if any(s.startswith("train.") for s in self.signals):
            files.append(TRAIN_FILE)
        if any(s.startswith(("eval.", "query.")) for s in self.signals):
            files.append(EVAL_FILE)
        if any("snapshot." in s for s in self.signals):
            files.append(snapshot_file(snapshot_epoch(params, plan)))
        if "model" in self.signals:
            files.append(model_file(snapshot_epoch(params, plan)))
        return files

    def needs_images(self, params: dict, plan: ProxyPlan) -> bool:
        """A method that reads the proxy's weights probes them with the dataset's images."""
        return any(is_model_file(name) for name in self.proxy_files(params, plan))

    @property
    def fraction_dependent(self) -> bool:
        """True when a subset is not a prefix of one ranking, so each fraction is sampled on its own."""
        return self.subset is not None

    def problems(self, params: dict, plan: ProxyPlan) -> list[str]:
        """One line per reason these parameters cannot run on what the proxy logs (the first is enough)."""
        found = []
        unknown = set(params) - set(self.parameters) - set(SELECTION_PARAMS)
        if unknown:
            known = ", ".join(sorted(set(self.parameters) | set(SELECTION_PARAMS)))
            found.append(f"{self.name}: unknown parameter(s) {', '.join(sorted(unknown))}; known: {known}")
        if params.get("keep") not in ("highest", "lowest"):
            found.append(f"{self.name}: keep must be 'highest' or 'lowest', got {params.get('keep')!r}")
        if not isinstance(params.get("balanced"), bool):
            found.append(f"{self.name}: balanced must be true or false, got {params.get('balanced')!r}")
        if found:
            return found
        if self.requires and (line := self.requires(plan)):
            return [f"{self.name}: {line}"]
        # plain ranges and choices in declared order, then rules (they may read the other parameters)
        for key, spec in sorted(self.parameters.items(), key=lambda item: item[1].rule is not None):
            if line := spec.problem(key, params, plan):
                return [f"{self.name}: {line}"]
        if TRAIN_FILE in self.proxy_files(params, plan) and not plan.log_in_training:
            return [f"{self.name}: needs in-training signals, but proxy.log_in_training is false"]
        return [f"{self.name}: {line}" for line in (self.check(params, plan) if self.check else [])]


REGISTRY: dict[str, Method] = {}


def register(entry: Method) -> Method:
    """Add a method to the registry (built-in families and plugins alike)."""
    check_new_name("method", entry.name, REGISTRY)
    REGISTRY[entry.name] = entry
    return entry


def method(name: str, **entry) -> Callable:
    """Decorator: register the score function `(signals, params, seed, plan)` as method `name`.

    Keyword arguments are Method's fields (family, paper, signals, keep, balanced, parameters, ...).
    """
    def decorate(score):
        register(Method(name=name, score=score, **entry))
        return score
    return decorate


def get_method(name: str) -> Method:
    if name not in REGISTRY:
        raise UnknownNameError(f"unknown method {name!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[name]


# ---- parameters and helpers shared by several families ----

def snapshot_epoch(params: dict, plan: ProxyPlan) -> int:
    """A method's `epoch` parameter; null (or none declared) means the proxy's last epoch."""
    return plan.epochs if params.get("epoch") is None else params["epoch"]


def repeats(params: dict, plan: ProxyPlan) -> int:
    """A method's `repeats` parameter; null (or none declared) means every proxy run."""
    return plan.repeats if params.get("repeats") is None else params["repeats"]


def snapshot_files(params: dict, plan: ProxyPlan, repeated: bool = False) -> list[str]:
    epoch = snapshot_epoch(params, plan)
    return [snapshot_file(epoch, r) for r in range(repeats(params, plan) if repeated else 1)]


def model_files(params: dict, plan: ProxyPlan, repeated: bool = False) -> list[str]:
    epoch = snapshot_epoch(params, plan)
    return [model_file(epoch, r) for r in range(repeats(params, plan) if repeated else 1)]


def epoch_param(default: int | None = None, repeated: bool = False) -> Param:
    """The proxy snapshot a method reads; `repeated`: in every proxy run its `repeats` parameter takes."""
    def rule(params, plan):
        epoch = snapshot_epoch(params, plan)
        across = repeated and repeats(params, plan) > 1
        allowed = sorted(plan.snapshot_epochs) if across else plan.logged_snapshots
        if epoch not in allowed:
            return (f"epoch={epoch!r} has no proxy snapshot{' in every repeat' if across else ''}; "
                    f"allowed: {allowed} (add it to proxy.snapshot_epochs)")
        return None
    return Param(default, "proxy snapshot epoch to read (null: the last epoch)", "integer", nullable=True, rule=rule)


REPEATS = Param.integer(None, "independent proxy runs averaged (null: all of proxy.repeats)", 1,
                        lambda p, plan: plan.repeats, " (proxy.repeats; null takes them all)", nullable=True)


def compat_param(what: str) -> Param:
    """null: the method as its paper defines it; 'deepcore': DeepCore's behaviour, described by `what`."""
    return Param.choice(None, f"null (the paper) or 'deepcore' (reproduce DeepCore's published numbers): {what}",
                        (None, "deepcore"))


def min_epochs(epochs: int) -> Callable[[ProxyPlan], str | None]:
    return lambda plan: (None if plan.epochs >= epochs else
                         f"needs at least {epochs} logged proxy epochs, proxy.epochs is {plan.epochs}")


# ---- a difficulty score computed by another method (CCS, D2-Pruning) ----

def difficulty_names(params=None, plan=None) -> tuple[str, ...]:
    """The registered methods marked `difficulty` (built-in or from a plugin)."""
    return tuple(name for name, entry in REGISTRY.items() if entry.difficulty)


def difficulty_params(doc: str) -> dict[str, Param]:
    return {"score": Param("aum", f"{doc}: a method marked difficulty (`prunebench methods` lists them)", "choice",
                           choices=difficulty_names),
            "score_params": Param.mapping({}, "that score's parameters")}


def base_score(spec: Method, params: dict) -> tuple[str, dict] | None:
    """The difficulty score method (and its parameters) that a method declaring `difficulty_params` is computed
    from; None for any other method, whatever its string parameters happen to name."""
    return (params["score"], params["score_params"]) if "score_params" in spec.parameters else None


def difficulty_method(params: dict) -> tuple[Method, dict]:
    """The method named by `score` and its full parameters."""
    base = REGISTRY[params["score"]]
    return base, base.params(params["score_params"])


def difficulty_problems(params: dict, plan: ProxyPlan) -> list[str]:
    base, base_params = difficulty_method(params)
    return [f"score={params['score']}: {line}" for line in base.problems(base_params, plan)]


def difficulty_files(params: dict, plan: ProxyPlan) -> list[str]:
    base, base_params = difficulty_method(params)
    return base.proxy_files(base_params, plan)


def difficulty_scores(s, params: dict, seed: int, plan: ProxyPlan) -> tuple[np.ndarray, str]:
    """The base method's scores and its keep direction (its preferred end is the hard one)."""
    base, base_params = difficulty_method(params)
    scored = base.score(s, base_params, seed, plan)
    return np.asarray(scored["score"] if isinstance(scored, dict) else scored, np.float64), base_params["keep"]
