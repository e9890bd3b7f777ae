"""Configuration: schema validation, defaults, and the checks that need the method registry.

Every problem is reported as one `ConfigError` line naming the key at fault.
"""

from __future__ import annotations

import copy
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from . import store
from .archs import ARCHS
from .datasets import DATASETS, FOLDER_DATASETS
from .errors import NAME, InputError
from .methods import REGISTRY, Method, ProxyPlan, get_method
from .methods.registry import base_score
from .paths import DATA, RESULTS, results_dir
from .plugins import PluginError, load_plugins
from .splits import budget_problem, read_query_scores, split_problem, split_sizes

SCHEMA_PATH = Path(__file__).with_name("config.schema.yaml")


class ConfigError(InputError):
    """A configuration problem, described in one line."""


@cache
def schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _where(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "top level"


def _describe(error: jsonschema.ValidationError) -> str:
    where = _where(error.absolute_path)
    prefix = "" if where == "top level" else f"{where}."
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        keys = re.findall(r"'([^']+)'", error.message.split("(")[-1]) or ["?"]
        return f"config: unknown key {', '.join(prefix + k for k in keys)}"
    if error.validator == "required":
        missing = re.findall(r"'([^']+)'", error.message)[:1] or ["?"]
        return f"config: missing key {prefix}{missing[0]}"
    return f"config: {where}: {error.message}"


def _fill_defaults(node: Any, node_schema: dict, root: dict) -> Any:
    """Fill `default:` values from the schema into dicts, following local $refs."""
    if not isinstance(node, dict):
        return node
    properties = dict(node_schema.get("properties", {}))
    if "$ref" in node_schema:
        referenced = root["$defs"][node_schema["$ref"].split("/")[-1]]
        properties = {**referenced.get("properties", {}),
                      **{k: {**referenced.get("properties", {}).get(k, {}), **v} for k, v in properties.items()}}
    for key, sub in properties.items():
        if key not in node and "default" in sub:
            node[key] = copy.deepcopy(sub["default"])
        if key in node:
            node[key] = _fill_defaults(node[key], sub, root)
    return node


# YAML 1.2 core scalars: what PyYAML (YAML 1.1) leaves as strings (1e-9) and Snakemake's --config
# passes as strings inside lists and mappings ('fractions=[0.1,0.5]', 'proxy={epochs: 6}')
_INT = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_WORDS = {**{w: True for w in ("true", "True", "TRUE")}, **{w: False for w in ("false", "False", "FALSE")},
          **{w: None for w in ("null", "Null", "NULL", "~")}}


def _scalar(value, types: set[str]):
    """`value` read as YAML 1.2 would, if it is a string written for one of the JSON `types` (number, integer,
    boolean, null); any other string stays as it is."""
    if not isinstance(value, str):
        return value
    if types & {"integer", "number"} and _INT.fullmatch(value):
        return int(value)
    if types & {"integer", "number"} and _FLOAT.fullmatch(value):
        return float(value)
    word = _WORDS.get(value, value)
    if ("boolean" in types and isinstance(word, bool)) or ("null" in types and word is None):
        return word
    return value


def _parse_scalars(node: Any, node_schema: dict, root: dict) -> Any:
    """Strings where the schema expects a number, boolean or null (Snakemake's --config passes them as strings
    inside lists and mappings), read as YAML 1.2 does; a string anywhere else stays a string, quoted or not."""
    if "$ref" in node_schema:
        referenced = root["$defs"][node_schema["$ref"].split("/")[-1]]
        node_schema = {**referenced, **node_schema,
                       "properties": {**referenced.get("properties", {}), **node_schema.get("properties", {})}}
    if isinstance(node, dict):
        extra = node_schema.get("additionalProperties")
        return {k: _parse_scalars(v, node_schema.get("properties", {}).get(k, extra if isinstance(extra, dict)
                                                                              else {}), root)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_parse_scalars(v, node_schema.get("items", {}), root) for v in node]
    types = node_schema.get("type", [])
    return _scalar(node, {types} if isinstance(types, str) else set(types))


def _param_types(param) -> set[str]:
    """The JSON types a method parameter takes: a choice's string stays a string, other choices are read."""
    if param is None or param.kind in ("any", "mapping"):
        return set()
    nullable = {"null"} if param.nullable else set()
    if param.kind == "choice":
        kinds = {bool: "boolean", int: "integer", float: "number", type(None): "null"}
        choices = () if callable(param.choices) else param.choices  # computed choices: registry names
        return {kinds[type(c)] for c in choices if type(c) in kinds} | nullable
    return {param.kind} | nullable


def _method_scalars(name: str, values, named: dict[str, str]):
    """--config strings in `method_params.<name>`, read by the types of the method's parameters; `named`: each
    variant's method by label, so a difficulty `score` naming a variant reads score_params as that method's."""
    spec = REGISTRY.get(name)
    if spec is None or not isinstance(values, dict):
        return values
    # a list (CLD's epochs: [first, last]) holds numbers: its items are read as YAML 1.2 scalars
    out = {k: [_scalar(x, {"integer", "number", "boolean", "null"}) for x in v] if isinstance(v, list) else
           _scalar(v, {"boolean"} if k == "balanced" else _param_types(spec.parameters.get(k)))
           for k, v in values.items()}
    base = base_score(spec, spec.params(out))
    if base is not None and "score_params" in out:
        out["score_params"] = _method_scalars(named.get(base[0], base[0]), out["score_params"], named)
    return out


def _option_types(parameter) -> set[str]:
    """The JSON types a loader's keyword option takes, from its default and its annotation."""
    kinds = {bool: "boolean", int: "integer", float: "number", type(None): "null"}
    types = {kinds[type(parameter.default)]} if type(parameter.default) in kinds else set()
    text = "" if parameter.annotation is parameter.empty else str(parameter.annotation)
    words = {"bool": "boolean", "int": "integer", "float": "number", "None": "null"}
    return types | {t for word, t in words.items() if re.search(rf"\b{word}\b", text)}


def validate_config(config: dict) -> dict:
    """A copy of `config` with defaults filled in; raises ConfigError on the first problem."""
    root = schema()
    config = _parse_scalars(config, root, root)
    errors = list(jsonschema.Draft202012Validator(root).iter_errors(config))
    if errors:
        raise ConfigError(_describe(jsonschema.exceptions.best_match(errors)))
    cfg = _fill_defaults(copy.deepcopy(config), root, root)
    try:
        load_plugins(cfg["plugins"])
    except PluginError as err:
        raise ConfigError(f"config: plugins: {err}") from None

    dataset = cfg["dataset"]
    if dataset["name"] not in DATASETS:
        raise ConfigError(f"config: dataset.name: {dataset['name']!r} is not one of the registered datasets: "
                          f"{', '.join(DATASETS)}")
    options = DATASETS[dataset["name"]].options
    dataset["options"] = {k: _scalar(v, _option_types(options[k])) if k in options else v
                          for k, v in dataset["options"].items()}
    named = {label: entry["method"] for label, entry in variants(cfg).items()}
    cfg["method_params"] = {name: _method_scalars(name, values, named) for name, values in cfg["method_params"].items()}
    _check_methods(cfg)
    cfg["methods"] = [{**e, "params": _method_scalars(e["method"], e.get("params") or {}, named)}
                      if isinstance(e, dict) else e for e in cfg["methods"]]
    if dataset["root"] is not None and not Path(dataset["root"]).is_dir():
        raise ConfigError(f"config: dataset.root: {dataset['root']} is not a folder")
    folder_keys = ("store_size", "crop_size", "num_classes", "skip_bad_images")
    if dataset["name"] in FOLDER_DATASETS:
        if dataset["root"] is None:
            raise ConfigError(f"config: dataset.root: {dataset['name']} needs the folder holding its images")
        if (dataset["crop_size"] or 0) > dataset["store_size"]:
            raise ConfigError(f"config: dataset.crop_size: {dataset['crop_size']} is larger than dataset.store_size "
                              f"({dataset['store_size']})")
    else:
        for key in folder_keys:
            if key in config["dataset"]:
                raise ConfigError(f"config: dataset.{key}: only image folders ({', '.join(FOLDER_DATASETS)}) have it")
    unknown = sorted(set(dataset["options"]) - set(DATASETS[dataset["name"]].options))
    if unknown:
        known = ", ".join(DATASETS[dataset["name"]].options) or "none"
        raise ConfigError(f"config: dataset.options: unknown option(s) {', '.join(unknown)} for {dataset['name']}; "
                          f"known: {known}")
    _check_budgets(cfg)
    split = cfg["split"]
    if split["query_selection"] != "random":
        if split["query_scores"] is None:
            raise ConfigError(f"config: split.query_scores: query_selection {split['query_selection']} needs a "
                              "Parquet file of index, score")
        if not Path(split["query_scores"]).is_file():
            raise ConfigError(f"config: split.query_scores: {split['query_scores']} is not a file")
        counts = DATASETS[dataset["name"]].class_counts
        if counts is not None:  # the training set's size is known: check every index now (else make_split does)
            try:
                read_query_scores(split["query_scores"], sum(counts(dataset["options"])))
            except InputError as err:
                raise ConfigError(f"config: {err}") from None
    for where in ("proxy.archs", "target.archs"):
        section, key = where.split(".")
        for name in cfg[section][key]:
            if name not in ARCHS:
                raise ConfigError(f"config: {where}: unknown architecture {name!r}; known: {', '.join(ARCHS)}")
    _check_transfer(cfg)
    _check_run_name(cfg)  # after target.proxy's default is filled: run_name may name it
    for name in cfg["method_params"]:  # parameters of unlisted methods may stay, so presets can swap lists
        if name in variants(cfg):
            raise ConfigError(f"config: method_params.{name}: {name} is a variant; its parameters go in its "
                              "methods entry's params")
        if name not in REGISTRY:
            raise ConfigError(f"config: method_params.{name}: unknown method {name!r}; known: {', '.join(REGISTRY)}")
    for section in ("proxy", "target"):
        if cfg[section]["nesterov"] and cfg[section]["momentum"] == 0:
            raise ConfigError(f"config: {section}.nesterov: Nesterov needs {section}.momentum > 0")
    if cfg["target"]["budget"] == "steps" and cfg["target"]["steps"] is None:
        raise ConfigError("config: target.steps: budget 'steps' needs target.steps")
    chosen = cfg["report"]["fraction"]
    if chosen is not None and not any(abs(chosen - f) <= 1e-12 for f in cfg["fractions"]):
        raise ConfigError(f"config: report.fraction: {chosen} is not one of fractions {cfg['fractions']}")
    proxy = cfg["proxy"]
    late = [e for e in proxy["snapshot_epochs"] if e > proxy["epochs"]]
    if late:
        raise ConfigError(f"config: proxy.snapshot_epochs: {late} after the last epoch ({proxy['epochs']})")
    if proxy["repeats"] > 1 and not proxy["snapshot_epochs"]:
        raise ConfigError("config: proxy.repeats: repeated runs keep only proxy.snapshot_epochs, which is empty")
    for arch in proxy["archs"]:
        for label in method_labels(cfg):
            problems = method_spec(cfg, label).problems(method_params(cfg, label), proxy_plan(cfg, arch))
            if problems:
                where = f"methods.{label}: " if label in variants(cfg) else "method_params."
                raise ConfigError(f"config: {where}{problems[0]}")
    return cfg


def _check_run_name(cfg: dict) -> None:
    """The run's folder: its fields name config values, and it is one plain folder name below results/."""
    try:
        folder = results_dir(cfg)
    except (KeyError, IndexError, AttributeError) as err:
        raise ConfigError(f"config: run_name: {cfg['run_name']!r} names no config value ({err})") from None
    except (ValueError, TypeError) as err:  # a brace left open, a format spec the value does not take
        raise ConfigError(f"config: run_name: {cfg['run_name']!r} is not a format string of config values ({err})"
                          ) from None
    name, data_root = folder.removeprefix(f"{RESULTS}/"), Path(RESULTS, DATA)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+=-]*", name) or Path(folder) in (store.DEFAULT, data_root):
        raise ConfigError(f"config: run_name: {name!r} is not a folder name of letters, digits and ._+=- "
                          f"(or is the proxy store, {store.DEFAULT}, or the prepared datasets' folder, {data_root})")


def _check_methods(cfg: dict) -> None:
    """Each `methods` entry names a registered method, and each label is path-safe and listed once."""
    seen = set()
    for i, entry in enumerate(cfg["methods"]):
        label, base = (entry["name"], entry["method"]) if isinstance(entry, dict) else (entry, entry)
        if base not in REGISTRY:
            where = f"methods[{i}].method" if isinstance(entry, dict) else "methods"
            raise ConfigError(f"config: {where}: unknown method {base!r}; known: {', '.join(REGISTRY)}")
        if isinstance(entry, dict):
            if not NAME.fullmatch(label):
                raise ConfigError(f"config: methods[{i}].name: {label!r} must be lower-case letters, digits and _, "
                                  "starting with a letter (it names files)")
            if label in REGISTRY and label != base:
                raise ConfigError(f"config: methods[{i}].name: {label!r} is the registered method {label}; "
                                  f"give this variant of {base} a label of its own")
            if label == base and label in cfg["method_params"]:
                raise ConfigError(f"config: methods[{i}].params: {label}'s parameters are also in "
                                  f"method_params.{label}; give them in one place")
        if label in seen:
            raise ConfigError(f"config: methods[{i}]: {label!r} is listed twice; give each entry a name of its own")
        seen.add(label)


def _check_transfer(cfg: dict) -> None:
    """target.proxy names a proxy run, the oracle has each target's own, and every proxy run feeds a target.
    Fills target.proxy's default: the first of proxy.archs."""
    archs, target = cfg["proxy"]["archs"], cfg["target"]
    if target["proxy"] is None:
        target["proxy"] = archs[0]
    if target["proxy"] not in archs:
        raise ConfigError(f"config: target.proxy: {target['proxy']!r} is not one of proxy.archs ({', '.join(archs)})")
    if target["oracle"]:
        missing = [a for a in target["archs"] if a not in archs]
        if missing:
            raise ConfigError(f"config: target.oracle: target architecture(s) {', '.join(missing)} have no proxy "
                              "run of their own; add them to proxy.archs")
    fed = {target["proxy"], *(target["archs"] if target["oracle"] else ())}
    unused = [a for a in archs if a not in fed]
    if unused:
        raise ConfigError(f"config: proxy.archs: no target trains on the subsets of {', '.join(unused)}; name it "
                          "in target.proxy, or list it in target.archs with target.oracle on")


def _check_budgets(cfg: dict) -> None:
    """Refuse a split that empties a class, or a fraction that keeps no sample, where the dataset's class
    sizes are known before any file is read (else make_split and select refuse them, before any target trains)."""
    counts = DATASETS[cfg["dataset"]["name"]].class_counts
    if counts is None:
        return
    split = cfg["split"]
    query, pool = split_sizes(counts(cfg["dataset"]["options"]), split["query_fraction"], split["max_samples"])
    problem = split_problem(query, pool, split["query_fraction"])
    if problem:
        raise ConfigError(f"config: {problem}")
    problem = budget_problem(pool, cfg["fractions"])
    if problem:
        raise ConfigError(f"config: fractions: {problem}")


def merge(base: dict, override: dict) -> dict:
    """`override` on top of `base`, nested dicts merged key by key (as Snakemake merges --configfile)."""
    out = dict(base)
    for key, value in override.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load_config(*paths: str | Path) -> dict:
    """Read YAML config files, each overriding the ones before it, and validate the result."""
    config: dict = {}
    for path in paths:
        try:
            raw = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"config: cannot read {path}: {' '.join(str(err).split())}") from None
        config = merge(config, raw or {})
    return validate_config(config)


def proxy_settings(cfg: dict, arch: str) -> dict:
    """The proxy section as one architecture's runs take it: `arch` in place of `archs`, so a run's settings
    (its rule's params, its key in prunebench.store) stay the same when another architecture is added."""
    return {**{k: v for k, v in cfg["proxy"].items() if k != "archs"}, "arch": arch}


def target_settings(cfg: dict) -> dict:
    """The target section as a training takes it: without the keys that choose which trainings run, so adding
    an architecture or the oracle leaves the settings (the rule's params) of the existing trainings as they are."""
    return {k: v for k, v in cfg["target"].items() if k not in ("archs", "proxy", "oracle")}


def proxy_plan(cfg: dict, arch: str) -> ProxyPlan:
    proxy = cfg["proxy"]
    return ProxyPlan(proxy["epochs"], tuple(proxy["snapshot_epochs"]), proxy["log_in_training"],
                     proxy["log_kl_shift"], proxy["repeats"], arch, cfg["dataset"]["crop_size"])


def reads_proxy(cfg: dict, label: str) -> bool:
    """Whether a method's subsets depend on the proxy run (random and full read none of its outputs)."""
    plan = proxy_plan(cfg, cfg["target"]["proxy"])
    return bool(method_spec(cfg, label).proxy_files(method_params(cfg, label), plan))


def target_runs(cfg: dict) -> list[tuple[str, str, str]]:
    """(proxy arch, target arch, method) of every configured target job (each trains every fraction and seed):
    each target architecture on target.proxy's subsets, and with target.oracle also on its own proxy's, where
    that is another run and the method's subsets depend on the proxy (else it would train the same subsets twice).
    """
    target, methods = cfg["target"], method_labels(cfg)
    runs = [(target["proxy"], arch, m) for arch in target["archs"] for m in methods]
    if target["oracle"]:
        runs += [(arch, arch, m) for arch in target["archs"] for m in methods
                 if arch != target["proxy"] and reads_proxy(cfg, m)]
    return runs


def method_labels(cfg: dict) -> list[str]:
    """The configured methods' labels, in config order: a registry name, or a variant's name."""
    return [e["name"] if isinstance(e, dict) else e for e in cfg["methods"]]


def variants(cfg: dict) -> dict[str, dict]:
    """The labelled variants in `methods`, by label: {name, method, params}."""
    return {e["name"]: e for e in cfg["methods"] if isinstance(e, dict)}


def method_spec(cfg: dict, label: str) -> Method:
    """The registered method a label runs (a variant's base method, else the registry entry of that name)."""
    entry = variants(cfg).get(label)
    return get_method(entry["method"] if entry else label)


def method_params(cfg: dict, label: str) -> dict:
    """A method's full parameters: a registry name's defaults with method_params.<name> on top; a variant's
    base defaults with its own params on top. A difficulty `score` (CCS, D2-Pruning) naming a variant is
    resolved to that variant's method and params, so scoring and code digests see registry names only."""
    entry = variants(cfg).get(label)
    spec = method_spec(cfg, label)
    params = spec.params(entry.get("params") if entry else cfg["method_params"].get(label))
    base = base_score(spec, params)
    if base is not None and base[0] not in REGISTRY and base[0] in variants(cfg):
        ref = variants(cfg)[base[0]]
        params = {**params, "score": ref["method"], "score_params": {**(ref.get("params") or {}), **base[1]}}
    return params

