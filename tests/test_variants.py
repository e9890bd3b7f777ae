"""Method variants: a labelled method with other parameters, checked at config time and run beside the method
itself through real Snakemake."""

import json

import pytest
from conftest import snakemake

from prunebench import paths
from prunebench.config import ConfigError, method_labels, method_params, method_spec, validate_config
from prunebench.io import read_table, table_metadata
from prunebench.pipeline import step_code
from prunebench.plan import make_plan

FIRST45 = {"name": "cld_first45", "method": "cld", "params": {"epochs": [1, 5]}}


def config(*methods, **changes):
    return {"dataset": {"name": "synthetic"}, "proxy": {"epochs": 8}, "methods": ["random", *methods], **changes}


@pytest.mark.parametrize("methods, changes, message", [
    (["cld", FIRST45, {"name": "cld_first45", "method": "forgetting"}], {},
     "config: methods[3]: 'cld_first45' is listed twice; give each entry a name of its own"),
    (["cld", "cld"], {}, "config: methods[2]: 'cld' is listed twice"),
    ([{"name": "el2n", "method": "cld"}], {},
     "config: methods[1].name: 'el2n' is the registered method el2n; give this variant of cld a label of its own"),
    ([{"name": "cld/first45", "method": "cld"}], {},
     "config: methods[1].name: 'cld/first45' must be lower-case letters, digits and _, starting with a letter"),
    ([{"name": "cld_x", "method": "cdl"}], {}, "config: methods[1].method: unknown method 'cdl'; known: random, "),
    ([{"name": "cld_x", "method": "cld", "params": {"stride": 9}}], {},
     "config: methods.cld_x: cld: stride=9 must be an integer in [1, 3]"),
    ([{"name": "cld_x", "method": "cld", "params": {"window": 2}}], {},
     "config: methods.cld_x: cld: unknown parameter(s) window"),
    ([FIRST45], {"method_params": {"cld_first45": {"stride": 2}}},
     "config: method_params.cld_first45: cld_first45 is a variant; its parameters go in its methods entry's params"),
    ([{"name": "cld", "method": "cld", "params": {"stride": 2}}], {"method_params": {"cld": {"stride": 3}}},
     "config: methods[1].params: cld's parameters are also in method_params.cld; give them in one place"),
    ([{"name": "cld_x", "method": "cld", "extra": 1}], {}, "config: unknown key methods[1].extra"),
    ([{"name": "cld_x", "params": {}}], {}, "config: missing key methods[1].method"),
])
def test_a_bad_variant_is_one_config_line(methods, changes, message):
    with pytest.raises(ConfigError) as caught:
        validate_config(config(*methods, **changes))
    assert str(caught.value).startswith(message), str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_variant_takes_its_own_params_over_the_method_defaults_not_the_methods_overrides():
    cfg = validate_config(config("cld", FIRST45, method_params={"cld": {"stride": 2}}))
    assert method_labels(cfg) == ["random", "cld", "cld_first45"]
    assert method_spec(cfg, "cld_first45").name == "cld"
    assert method_params(cfg, "cld")["stride"] == 2
    assert method_params(cfg, "cld_first45")["epochs"] == [1, 5]
    assert method_params(cfg, "cld_first45")["stride"] == 1  # method_params.cld is cld's, not its variant's


def test_a_variants_params_from_the_command_line_are_read_by_the_methods_types():
    """Snakemake's --config passes numbers inside mappings as strings."""
    cfg = validate_config(config({"name": "cld_x", "method": "cld", "params": {"stride": "2", "epochs": ["1", "7"]}}))
    assert method_params(cfg, "cld_x")["stride"] == 2 and method_params(cfg, "cld_x")["epochs"] == [1, 7]


def test_a_difficulty_score_may_name_a_variant():
    cfg = validate_config(config(FIRST45, {"name": "ccs_first45", "method": "ccs", "params": {"score": "cld_first45"}},
                                 method_params={"ccs": {"score": "cld_first45", "score_params": {"stride": 2}}}))
    resolved = method_params(cfg, "ccs_first45")
    assert (resolved["score"], resolved["score_params"]) == ("cld", {"epochs": [1, 5]})
    assert method_params(cfg, "ccs")["score_params"] == {"epochs": [1, 5], "stride": 2}  # its own on top
    with pytest.raises(ConfigError, match=r"^config: methods.ccs_bad: ccs: score=cld: cld: stride=4 must be"):
        validate_config(config(FIRST45, {"name": "ccs_bad", "method": "ccs",
                                         "params": {"score": "cld_first45", "score_params": {"stride": 4}}}))


def test_score_params_from_the_command_line_are_read_by_the_type_of_the_method_a_named_score_variant_runs():
    """--config strings in score_params: the same whether `score` names cld or a variant of cld."""
    for score in ("cld", "cld_first45"):
        params = {"score": score, "score_params": {"stride": "2"}}
        cfg = validate_config(config(FIRST45, {"name": "ccs_v", "method": "ccs", "params": params},
                                     method_params={"ccs": params}))
        assert method_params(cfg, "ccs_v")["score_params"]["stride"] == 2
        assert method_params(cfg, "ccs")["score_params"]["stride"] == 2


def test_a_variants_code_digest_is_its_methods_and_follows_its_params():
    cfg = validate_config(config("cld", FIRST45, "ccs", {"name": "ccs_first45", "method": "ccs",
                                                         "params": {"score": "cld_first45"}}))

    def digest(label):
        return step_code("score", method_spec(cfg, label).name, method_params(cfg, label))

    assert digest("cld_first45") == digest("cld") != digest("random")
    # CCS on a variant of CLD runs CLD's code, CCS on AUM (its default) AUM's
    assert digest("ccs_first45") == step_code("score", "ccs", {**method_params(cfg, "ccs"), "score": "cld"})
    assert digest("ccs_first45") != digest("ccs")


def test_plan_counts_a_variant_as_a_method():
    cfg = validate_config(config("full", "cld", FIRST45, seeds=[0, 1], fractions=[0.1, 0.2], job_scope="seed"))
    jobs = make_plan(cfg).jobs
    assert jobs["score"] == 4 * 2 and jobs["select"] == 3 * 2 and jobs["select_full"] == 2
    assert jobs["train_target"] == 3 * 2


# ---- through real Snakemake: forgetting and DeepCore's forgetting side by side


VARIANT_RUN = """
dataset: {name: fashion_mnist}
split: {max_samples: 3000}
seeds: [0]
proxy: {epochs: 4, batch_size: 128}
methods: [random, {name: forgetting_deepcore, method: forgetting, params: {compat: deepcore}}, forgetting]
fractions: [0.1]
target: {epochs: 2, batch_size: 128}
"""


def test_a_variant_runs_beside_its_method_with_files_results_and_report_rows_of_its_own(tmp_path):
    (tmp_path / "variants.yaml").write_text(VARIANT_RUN)
    snakemake(tmp_path, "--configfile", str(tmp_path / "variants.yaml"), "--cores", "2")
    out = tmp_path / paths.results_dir({"dataset": {"name": "fashion_mnist"}})
    run = {"proxy": "small_cnn", "seed": 0}
    tables = {m: read_table(out / paths.SCORES.format(**run, method=m)) for m in ("forgetting", "forgetting_deepcore")}
    meta = table_metadata(tables["forgetting_deepcore"], "scores")
    assert (meta["method"], meta["base_method"], meta["params"]["compat"]) == ("forgetting_deepcore", "forgetting",
                                                                                "deepcore")
    paper, deepcore = (tables[m].column("score").to_numpy() for m in ("forgetting", "forgetting_deepcore"))
    never_learned = paper == 4  # the paper's count for samples never right in 4 epochs
    assert never_learned.any()  # else the two would not differ
    assert (deepcore[never_learned] == 0).all() and (deepcore[~never_learned] == paper[~never_learned]).all()

    subsets = {m: set(read_table(out / paths.SUBSET.format(**run, method=m, fraction="0.1")).column("index")
                      .to_pylist()) for m in ("forgetting", "forgetting_deepcore")}
    assert len(subsets["forgetting"]) == len(subsets["forgetting_deepcore"]) == 270
    assert subsets["forgetting"] != subsets["forgetting_deepcore"]

    target = paths.TARGET.format(**run, arch="small_cnn", method="forgetting_deepcore", fraction="0.1")
    assert json.loads((out / target).read_text())["method"] == "forgetting_deepcore"
    assert (out / paths.log("score", "method").format(**run, method="forgetting_deepcore")).exists()
    assert set(read_table(out / paths.TABLE).column("method").to_pylist()) == {
        "random", "forgetting", "forgetting_deepcore"}

    summary = (out / paths.REPORT / "summary.md").read_text()
    rows = [line.split("|")[1].strip() for line in summary.splitlines() if line.startswith("| ")]
    first = rows.index("forgetting")
    assert rows[first + 1] == "forgetting_deepcore"  # grouped: the method, then its variant (listed before it)
    assert "| forgetting_deepcore − forgetting |" in summary and "| forgetting_deepcore − random |" in summary
    assert "With one seed there is no interval" in summary
    assert "forgetting_deepcore is forgetting with" in (out / "report" / "index.html").read_text()
