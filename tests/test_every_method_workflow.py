"""Every registered method, and every value of every choice-valued parameter, through real Snakemake.

A rule gets only the inputs the registry says a method reads (proxy files, the dataset for
methods that probe the model), so a parameter value that reads something else fails only in
the workflow. One small synthetic run covers them all: a plugin registers each method again
under one more name per other choice value (the same entry, so the same code and inputs), and
the config gives each name its value.
"""

import json

import pytest
import yaml
from conftest import snakemake

from prunebench import paths
from prunebench.methods import REGISTRY

# windows and trajectories that fit a 4-epoch log, and short probes
FITS = {"dyn_unc": {"window": 3}, "dual": {"epochs": 4, "window": 3}, "tdds": {"epochs": 4, "window": 3},
        "deepfool": {"max_iter": 3}, "slocurv": {"probes": 2}, "boundary_ccs": {"max_steps": 3}}
CONFIG = {
    "plugins": ["every_variant"],
    "dataset": {"name": "synthetic", "options": {"num_classes": 3, "train_per_class": 40, "test_per_class": 5,
                                                 "image_size": 12}},
    "proxy": {"epochs": 4, "batch_size": 32, "snapshot_epochs": [2], "repeats": 2, "log_kl_shift": True},
    "fractions": [0.5],
    "device": "cpu",
}
OUT = paths.results_dir(CONFIG)
PLUGIN = """import dataclasses
from prunebench.methods import REGISTRY, register

for alias, name in {aliases}.items():  # the same method under another name, for another parameter value
    register(dataclasses.replace(REGISTRY[name], name=alias))
"""


def variants(method) -> list[dict]:
    """The method's parameters at their defaults, then once per other value of each choice parameter.
    A choice naming another method (a difficulty score) also gets that method's fitting parameters."""
    base = FITS.get(method.name, {})
    out = [base]
    for key, spec in method.parameters.items():
        choices = spec.choices(base, None) if callable(spec.choices) else spec.choices  # a difficulty score: registry
        for value in choices if spec.kind == "choice" else ():
            if value != spec.default:
                extra = {"score_params": FITS.get(value, {})} if key == "score" and value in REGISTRY else {}
                out.append({**base, key: value, **extra})
    return out


@pytest.mark.pipeline
def test_every_method_and_choice_value_gets_its_inputs_in_the_workflow(tmp_path):
    built_in = [m for m in REGISTRY.values() if m.score.__module__.startswith("prunebench.")]
    params, aliases = {}, {}
    for method in built_in:
        for i, values in enumerate(variants(method)):
            name = method.name if i == 0 else f"{method.name}_v{i}"
            params[name] = values
            if i:
                aliases[name] = method.name
    assert len(built_in) >= 29 and len(aliases) > len(built_in)  # every method, and more values than methods
    (tmp_path / "every_variant.py").write_text(PLUGIN.format(aliases=json.dumps(aliases)))
    config = tmp_path / "every_variant.yaml"
    config.write_text(yaml.safe_dump({**CONFIG, "methods": list(params), "method_params": params}))

    def subset(name):
        fraction = "1.0" if REGISTRY[aliases.get(name, name)].full_only else "0.5"
        subset = paths.SUBSET.format(proxy="small_cnn", method=name, fraction=fraction, seed=0)
        return f"{OUT}/{subset}"

    snakemake(tmp_path, "--configfile", str(config), "--cores", "2", *map(subset, params))
    missing = [name for name in params if not (tmp_path / subset(name)).exists()]
    assert missing == []
    logs = {p.stem for p in (tmp_path / OUT / "logs" / "score").glob("*/*.log")}  # job_scope method: one per method
    assert logs == set(params)  # every method and every value was scored by its own job
