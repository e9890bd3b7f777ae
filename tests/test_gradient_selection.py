"""Submodular greedy, CRAIG, GradMatch and Glister on small synthetic problems with known answers,
the DeepCore switches against the paper behaviour, and weighted subsets from selection to target training."""

import itertools

import numpy as np
import pytest
from conftest import synthetic_proxy_run

from prunebench import pipeline
from prunebench.budgets import class_budgets
from prunebench.io import read_table, table_metadata
from prunebench.methods import REGISTRY, ProxyPlan, gradients, kernels, probabilities, submodular

RNG = np.random.default_rng(11)


def random_similarity(n, seed=0, dim=3):
    x = np.random.default_rng(seed).normal(size=(n, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return (0.5 + 0.5 * x @ x.T).astype(np.float32)


def fl_value(sim, chosen):
    return float(sim[:, list(chosen)].max(axis=1).sum()) if len(chosen) else 0.0


def gc_value(sim, chosen, lam=1.0):
    chosen = list(chosen)
    return float(lam * sim[:, chosen].sum() - sim[np.ix_(chosen, chosen)].sum())


def logdet_value(sim, chosen, ridge):
    chosen = list(chosen)
    return float(np.linalg.slogdet(sim[np.ix_(chosen, chosen)].astype(np.float64) + ridge * np.eye(len(chosen)))[1]) \
        if chosen else 0.0


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("how", ["naive", "lazy"])
def test_facility_location_greedy_reaches_one_minus_one_over_e_of_the_brute_force_optimum(seed, how):
    sim = random_similarity(9, seed)
    for k in (2, 3, 4):
        picks = submodular.greedy(submodular.FacilityLocation(sim), 9, k, how)
        best = max(fl_value(sim, c) for c in itertools.combinations(range(9), k))
        assert fl_value(sim, picks) >= (1 - 1 / np.e) * best - 1e-6


@pytest.mark.parametrize("function", submodular.FUNCTIONS)
def test_lazy_greedy_picks_what_naive_greedy_picks(function):
    sim = random_similarity(60, 3, dim=5)
    naive = submodular.greedy(submodular.objective(function, sim), 60, 25, "naive")
    lazy = submodular.greedy(submodular.objective(function, sim), 60, 25, "lazy")
    assert naive.tolist() == lazy.tolist()


@pytest.mark.parametrize("function", submodular.FUNCTIONS)
def test_each_gain_is_the_increase_of_its_set_function(function):
    sim = random_similarity(12, 5, dim=4)
    value = {"facility_location": fl_value, "graph_cut": gc_value,
             "log_determinant": lambda s, c: logdet_value(s, c, 1e-3)}[function]
    objective = submodular.objective(function, sim, ridge=1e-3)
    chosen = []
    for row in (3, 7, 1):
        others = [i for i in range(12) if i not in chosen]
        expected = [value(sim, chosen + [i]) - value(sim, chosen) for i in others]
        np.testing.assert_allclose(objective.gains(np.array(others)), expected, rtol=1e-4, atol=1e-4)
        objective.add(row)
        chosen.append(row)


def test_log_determinant_picks_diverse_rows_not_the_most_redundant_as_deepcore_does():
    x = np.array([[1, 0], [0.99, 0.141], [0, 1], [0.7, 0.7]])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    sim = (0.5 + 0.5 * x @ x.T).astype(np.float32)
    picks = submodular.greedy(submodular.LogDeterminant(sim, 1e-3), 4, 2, "naive")
    assert set(picks.tolist()) == {0, 2}  # the two orthogonal rows
    # DeepCore's quantity s_xS S_S^-1 s_Sx after picking row 0 is largest for its near-duplicate row 1
    quad = [sim[0, i] ** 2 / sim[0, 0] for i in (1, 2, 3)]
    assert int(np.argmax(quad)) == 0


def test_stochastic_greedy_samples_its_budgeted_share_and_stays_close_to_greedy():
    sim = random_similarity(400, 1, dim=6)
    full = fl_value(sim, submodular.greedy(submodular.FacilityLocation(sim), 400, 20, "lazy"))
    draws = [fl_value(sim, submodular.greedy(submodular.FacilityLocation(sim), 400, 20, "stochastic",
                                             np.random.default_rng(s), 0.01)) for s in range(3)]
    assert min(draws) >= 0.95 * full
    assert submodular.stochastic_sample_size(400, 20, 0.01) == 93
    assert submodular.stochastic_sample_size(400, 20, 0.9) == 3


def gradient_problem(n=120, classes=4, dim=6, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, classes)).astype(np.float32)
    labels = np.zeros(n, int)
    h = rng.normal(size=(n, dim)).astype(np.float32)
    return probabilities.errors(logits, labels, np.float32), h


def test_gradmatch_weighted_sum_approaches_the_target_gradient_as_the_budget_grows():
    e, h = gradient_problem(200)
    errors = []
    for k in (1, 4, 16, 64):
        rows, weights = gradients.gradmatch_subset(e, h, k, np.random.default_rng(0), ridge=1e-3)
        assert len(rows) == len(set(rows.tolist())) == k and (weights >= 0).all()
        errors.append(gradients.weighted_gradient_error(e, h, rows, weights))
    assert errors == sorted(errors, reverse=True) and errors[-1] < 0.05 < errors[0]


def test_gradmatch_always_returns_exactly_the_budget_and_non_negative_weights():
    e, h = gradient_problem(80, seed=3)
    for k in (1, 7, 40, 80):
        rows, weights = gradients.gradmatch_subset(e, h, k, np.random.default_rng(1))
        assert len(rows) == len(np.unique(rows)) == k and (weights >= 0).all() and np.isfinite(weights).all()


def test_omp_ridge_weights_solve_the_ridge_problem_on_its_picks():
    e, h = gradient_problem(50, seed=4)
    picks, w = gradients.omp(e, h, 6, ridge=0.5)
    gram = kernels.grad_gram(e, h).astype(np.float64)
    bias, weight = kernels.mean_gradient(e, h)
    b = kernels.dot_gradient(e, h, bias, weight)
    expected = np.linalg.solve(gram[np.ix_(picks, picks)] + 0.5 * np.eye(6), b[picks])
    np.testing.assert_allclose(w, expected, rtol=1e-4, atol=1e-6)
    assert picks[0] == int(np.argmax(b))  # the first pick is the row most aligned with the target


def test_nnls_meets_the_optimality_conditions():
    a = RNG.normal(size=(30, 12))
    m = a.T @ a + 0.1 * np.eye(12)
    b = RNG.normal(size=12) * 5
    w = gradients.nnls_gram(m, b)
    gradient = m @ w - b
    assert (w >= 0).all()
    np.testing.assert_allclose(gradient[w > 0], 0, atol=1e-8)
    assert (gradient[w == 0] >= -1e-8).all()


def test_craig_weights_count_the_rows_each_pick_stands_for_and_deepcore_adds_one():
    # three tight gradient clusters of sizes 5, 3 and 2
    h = np.repeat(np.array([[0.0, 0], [5, 0], [0, 5]], np.float32), [5, 3, 2], axis=0)
    h += RNG.normal(scale=0.01, size=h.shape).astype(np.float32)
    e = np.tile(np.array([[-0.5, 0.5]], np.float32), (10, 1))
    order = gradients.craig_order(e, h, 3)
    assert sorted(order // 1 * 0 + np.array([0 if i < 5 else 1 if i < 8 else 2 for i in order])) == [0, 1, 2]
    weights = gradients.craig_weights(e, h, order)
    cluster = {i: 0 if i < 5 else 1 if i < 8 else 2 for i in range(10)}
    assert {cluster[int(i)]: w for i, w in zip(order, weights)} == {0: 5, 1: 3, 2: 2}
    assert (gradients.craig_weights(e, h, order, plus_one=True) == weights + 1).all()


def glister_problem(seed=0, n=60, m=30, classes=3, dim=4):
    rng = np.random.default_rng(seed)
    w, b = rng.normal(size=(classes, dim)), rng.normal(size=classes)
    h = rng.normal(size=(n, dim)).astype(np.float32)
    labels = rng.integers(0, classes, n)
    val_h = rng.normal(size=(m, dim)).astype(np.float32)
    val_labels = rng.integers(0, classes, m)
    logits, val_logits = h @ w.T + b, val_h @ w.T + b
    return w, b, h, labels, logits, val_h, val_labels, val_logits


def test_glister_applies_the_one_step_last_layer_update_to_the_validation_gradient():
    w, b, h, labels, logits, val_h, val_labels, val_logits = glister_problem()
    e = probabilities.errors(logits, labels, np.float32)
    gain = gradients.GlisterGain(e, h, val_logits, val_labels, val_h, eta=0.5)
    for row in (4, 9):
        gain.add(row)
    chosen = [4, 9]
    # the explicit update: theta - eta * mean_{j in S} g_j, then fresh validation errors
    w2 = w - 0.5 * (e[chosen].T.astype(np.float64) @ h[chosen]) / 2
    b2 = b - 0.5 * e[chosen].mean(0)
    expected = probabilities.errors((val_h @ w2.T + b2).astype(np.float32), val_labels, np.float32)
    np.testing.assert_allclose(gain.val_e, expected, atol=1e-5)
    g = np.concatenate([e, np.einsum("nc,nd->ncd", e, h).reshape(len(e), -1)], axis=1).astype(np.float64)
    gv = np.concatenate([expected, np.einsum("nc,nd->ncd", expected, val_h).reshape(len(expected), -1)], axis=1)
    np.testing.assert_allclose(gain.gains(np.arange(len(e))), 0.5 * g @ gv.mean(0), rtol=1e-4, atol=1e-6)


def test_glister_with_its_update_differs_from_deepcores_static_top_k():
    _, _, h, labels, logits, val_h, val_labels, val_logits = glister_problem(1, n=200, m=100)
    e = probabilities.errors(logits, labels, np.float32)
    updated = gradients.glister_order(e, h, val_logits, val_labels, val_h, budget=40, how="naive", eta=1.0)
    static = gradients.glister_order(e, h, val_logits, val_labels, val_h, budget=40, eta=1.0, update=False)
    first = gradients.GlisterGain(e, h, val_logits, val_labels, val_h, eta=1.0).gains(np.arange(200))
    assert static.tolist() == np.argsort(-first, kind="stable")[:40].tolist()
    assert updated[0] == static[0] and set(updated.tolist()) != set(static.tolist())


# ---- through the registry and the pipeline steps ----

PROXY = {"arch": "small_cnn", "epochs": 2, "batch_size": 32, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4,
         "nesterov": True, "schedule": "cosine", "milestones": [], "gamma": 0.1, "augment": None,
         "snapshot_epochs": [], "log_in_training": True, "log_kl_shift": False, "repeats": 1}
PLAN = ProxyPlan(epochs=2)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return synthetic_proxy_run(tmp_path_factory.mktemp("weighted"), PROXY, {"num_classes": 3, "train_per_class": 40,
                               "test_per_class": 5, "image_size": 12}, query_fraction=0.2)


def select(folder, name, fraction, overrides=None, tag=""):
    method = REGISTRY[name]
    params = method.params(overrides)
    assert method.problems(params, PLAN) == []
    scores = folder / f"{name}{tag}.parquet"
    pipeline.score(name, params, PLAN, folder / "split.parquet", folder / "proxy", 0, scores)
    out = folder / f"{name}{tag}_{fraction}.parquet"
    pipeline.select(scores, fraction, out, folder / "split.parquet", folder / "proxy")
    return read_table(out)


@pytest.mark.parametrize("name", ["craig", "gradmatch"])
def test_weighted_subsets_carry_their_weights_to_the_parquet_and_target_training_uses_them(run, name):
    subset = select(run, name, 0.25)
    weights = subset.column("weight").to_numpy()
    assert table_metadata(subset)["weighted"] is True
    assert (weights >= 0).all() and not np.allclose(weights, 1.0) and len(weights) == 24
    target = {**PROXY, "epochs": 1, "budget": "epochs"}
    out = run / f"{name}_target.json"
    pipeline.train_target(run / "data", run / f"{name}_0.25.parquet", target, "small_cnn", 0, "cpu", "small_cnn",
                          out, run / "split.parquet")
    import json
    record = json.loads(out.read_text())
    assert record["weighted"] is True and record["k"] == 24


def test_unweighted_greedy_methods_record_unweighted_subsets(run):
    subset = select(run, "facility_location", 0.25)
    assert table_metadata(subset)["weighted"] is False and (subset.column("weight").to_numpy() == 1).all()


@pytest.mark.parametrize("name", ["facility_location", "craig", "glister"])
def test_stochastic_greedy_runs_per_fraction_with_exact_budgets(run, name):
    for fraction in (0.1, 0.5):
        subset = select(run, name, fraction, {"greedy": "stochastic"}, tag="_stochastic")
        assert np.bincount(subset.column("label").to_numpy()).tolist() == class_budgets([32] * 3, fraction).tolist()


def test_the_deepcore_switches_change_the_subsets(run):
    for name in ("herding", "cal", "glister"):
        paper = set(select(run, name, 0.25).column("index").to_pylist())
        deepcore = set(select(run, name, 0.25, {"compat": "deepcore"}, tag="_deepcore").column("index").to_pylist())
        assert paper != deepcore, name
    craig = select(run, "craig", 0.25).column("weight").to_numpy()
    craig_deepcore = select(run, "craig", 0.25, {"compat": "deepcore"}, tag="_deepcore").column("weight").to_numpy()
    np.testing.assert_allclose(craig_deepcore, craig + 1)


def test_a_global_group_bigger_than_max_class_is_refused_before_reading_any_signal(run):
    method = REGISTRY["facility_location"]
    params = method.params({"balanced": False, "max_class": 50})
    with pytest.raises(ValueError, match="facility_location: the whole pool .* has 96 samples"):
        pipeline.score("facility_location", params, PLAN, run / "split.parquet", run / "missing", 0,
                       run / "refused.parquet")
    assert not (run / "refused.parquet").exists()


@pytest.mark.parametrize("name, params, message", [
    ("facility_location", {"greedy": "fast"}, "facility_location: greedy='fast' must be one of 'naive', 'lazy'"),
    ("graph_cut", {"epsilon": 1.5}, "graph_cut: epsilon=1.5 must be a number in [1e-12, 1)"),
    ("log_determinant", {"ridge": 0}, "log_determinant: ridge=0 must be a number in [1e-12"),
    ("craig", {"compat": "cords"}, "craig: compat='cords' must be one of None, 'deepcore'"),
    ("gradmatch", {"target": "val"}, "gradmatch: target='val' must be one of 'train', 'query'"),
    ("kcenter", {"max_class": 1}, "kcenter: max_class=1 must be an integer in [2, 10000000]"),
    ("d2_pruning", {"kernel": "rbf"}, "d2_pruning: kernel='rbf' must be one of 'code', 'paper'"),
    ("d2_pruning", {"score": "moderate"}, "d2_pruning: score='moderate' must be one of 'cld', 'forgetting'"),
    ("cal", {"neighbors": 0}, "cal: neighbors=0 must be an integer in [1, 1000]"),
    ("glister", {"epoch": 1}, "glister: epoch=1 has no proxy snapshot; allowed: [2]"),
])
def test_bad_parameters_fail_in_one_line_naming_the_method_and_the_range(name, params, message):
    method = REGISTRY[name]
    problems = method.problems(method.params(params), PLAN)
    assert problems and message in problems[0] and "\n" not in problems[0]
