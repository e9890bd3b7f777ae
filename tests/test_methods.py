"""Each method against properties its paper states, on synthetic signals with planted answers."""

import numpy as np
import pyarrow as pa
import pytest

from prunebench.io import matrix_column, write_table
from prunebench.methods import REGISTRY, ProxyPlan, get_method
from prunebench.methods.baselines import random_scores
from prunebench.methods.cld import cld_scores
from prunebench.methods.dynamics import aum_scores, el2n_scores, forgetting_scores
from prunebench.methods.uncertainty import entropy_scores
from prunebench.selection import select_rows
from prunebench.signals import EVAL_FILE, Signals

RNG = np.random.default_rng(0)


def planted_losses(n_per_class=60, classes=3, epochs=12, mislabeled=8, seed=0):
    """Eval losses where clean samples learn with their class and planted mislabeled ones get worse.

    Returns pool losses (N, T), pool labels, query losses (M, T), query labels, mislabeled rows.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(epochs)
    labels = np.repeat(np.arange(classes), n_per_class)
    rates = 0.15 + 0.1 * np.arange(classes)  # each class learns at its own pace
    curve = 2.3 * np.exp(-rates[labels, None] * t)
    pool = curve * rng.uniform(0.7, 1.3, size=(len(labels), 1)) + 0.02 * rng.standard_normal((len(labels), epochs))
    bad = rng.choice(len(labels), size=mislabeled, replace=False)
    # the better the model learns their (given) class, the worse they fit: loss rises as the class's falls
    pool[bad] = 3.0 - 0.8 * curve[bad] + 0.02 * rng.standard_normal((mislabeled, epochs))
    query_labels = np.repeat(np.arange(classes), 10)
    query = 2.3 * np.exp(-rates[query_labels, None] * t) + 0.01 * rng.standard_normal((len(query_labels), epochs))
    return pool, labels, query, query_labels, bad


def test_cld_ranks_planted_mislabeled_samples_at_the_bottom_of_their_class():
    pool, labels, query, query_labels, bad = planted_losses()
    scores = cld_scores(pool, labels, query, query_labels)
    clean = np.setdiff1d(np.arange(len(labels)), bad)
    assert scores[bad].max() < scores[clean].min()
    assert scores[clean].min() > 0.5 and scores[bad].max() < 0  # learning with the class vs against it
    rows = select_rows(scores, labels, np.arange(len(labels)), 0.5, keep="highest", balanced=True)
    assert not set(rows) & set(bad)


def test_cld_is_the_pearson_correlation_of_loss_differences():
    pool = RNG.random((20, 9))
    labels = np.zeros(20, dtype=int)
    query = RNG.random((5, 9))
    reference = np.diff(query.mean(axis=0))
    expected = [np.corrcoef(np.diff(row), reference)[0, 1] for row in pool]
    np.testing.assert_allclose(cld_scores(pool, labels, query, np.zeros(5, dtype=int)), expected, atol=1e-12)


def test_cld_constant_trajectories_score_zero_and_blocks_do_not_change_the_answer():
    pool = RNG.random((50, 6))
    pool[0] = 1.0
    labels = RNG.integers(0, 2, 50)
    query, query_labels = RNG.random((10, 6)), np.repeat([0, 1], 5)
    whole = cld_scores(pool, labels, query, query_labels)
    assert whole[0] == 0.0
    np.testing.assert_array_equal(whole, cld_scores(pool, labels, query, query_labels, block=7))


def eval_log(folder, pool, labels, query, query_labels):
    """A real post-epoch eval log (dynamics_eval.parquet) holding these losses, and the split it belongs to."""
    n, m = len(labels), len(query_labels)
    table = pa.table({"index": pa.array(np.arange(n + m), pa.int64()),
                      "role": pa.array(["pool"] * n + ["query"] * m),
                      "label": pa.array(np.concatenate([labels, query_labels]), pa.int64()),
                      "loss": matrix_column(np.concatenate([pool, query]).astype(np.float32))})
    folder.mkdir()
    write_table(table, folder / EVAL_FILE, {"epochs": pool.shape[1]})
    return Signals(table.select(["index", "label", "role"]), folder)


def cld_on(signals, plan, **params):
    cld = get_method("cld")
    assert cld.problems(cld.params(params), plan) == []
    return cld.score(signals, cld.params(params), 0, plan)


def test_cld_on_the_first_epochs_or_every_strideth_equals_cld_on_a_log_that_only_has_those(tmp_path):
    pool, labels, query, query_labels, _ = planted_losses(epochs=12)
    pool, query = pool.astype(np.float32), query.astype(np.float32)  # as the proxy logs them
    full = eval_log(tmp_path / "full", pool, labels, query, query_labels)
    plan = ProxyPlan(epochs=12)
    # the defaults read every epoch: the same bytes as CLD on the whole log
    assert cld_on(full, plan).tobytes() == cld_scores(pool, labels, query, query_labels).tobytes()
    for first, last, stride in [(1, 5, 1), (1, 9, 1), (1, 12, 2), (1, 12, 3), (3, 11, 2), (2, 12, 5)]:
        columns = slice(first - 1, last, stride)
        only = eval_log(tmp_path / f"only{first}_{last}_{stride}", pool[:, columns], labels, query[:, columns],
                        query_labels)
        expected = cld_on(only, ProxyPlan(epochs=pool[:, columns].shape[1]))
        np.testing.assert_array_equal(cld_on(full, plan, epochs=[first, last], stride=stride), expected)
    assert not np.array_equal(cld_on(full, plan, epochs=[1, 5]), cld_on(full, plan))


@pytest.mark.parametrize("params, message", [
    ({"epochs": [1, 13]}, "cld: epochs=[1, 13] must be null or [first, last] with 1 <= first, first + 2 <= last "
                          "<= 12 (proxy.epochs; CLD needs 3 epochs)"),
    ({"epochs": [5, 6]}, "cld: epochs=[5, 6] must be null or [first, last]"),
    ({"epochs": [0, 4]}, "cld: epochs=[0, 4] must be null"),
    ({"epochs": 4}, "cld: epochs=4 must be null"),
    ({"epochs": [1, 4], "stride": 2}, "cld: stride=2 must be an integer in [1, 1] (CLD needs 3 of the epochs 1..4"),
    ({"stride": 6}, "cld: stride=6 must be an integer in [1, 5]"),
    ({"stride": 0}, "cld: stride=0 must be an integer in [1, 5]"),
])
def test_clds_epochs_and_stride_are_checked_against_the_proxys_log(params, message):
    cld = get_method("cld")
    assert cld.problems(cld.params(params), ProxyPlan(epochs=12))[0].startswith(message)


def test_cld_needs_every_class_in_the_query_set():
    with pytest.raises(ValueError, match="class 1 has no query samples"):
        cld_scores(RNG.random((4, 5)), np.array([0, 0, 1, 1]), RNG.random((2, 5)), np.array([0, 0]))


def test_forgetting_counts_correct_to_wrong_transitions_and_never_learned_rank_first():
    correct = np.array([
        [1, 1, 1, 1, 1, 1],  # unforgettable
        [1, 0, 1, 0, 1, 1],  # forgotten twice
        [0, 1, 1, 0, 1, 1],  # forgotten once (learning late is no event)
        [0, 0, 0, 0, 0, 0],  # never learned
    ])
    scores = forgetting_scores(correct)
    assert scores.tolist() == [0, 2, 1, 6]
    order = select_rows(scores, np.zeros(4, dtype=int), np.arange(4), 1.0)
    assert order.tolist() == [3, 1, 2, 0]


def test_forgetting_refuses_unlogged_correctness():
    with pytest.raises(ValueError, match="correctness must be 0 or 1"):
        forgetting_scores(np.full((3, 4), -1))


def test_aum_puts_planted_mislabeled_samples_lowest():
    epochs, n = 15, 200
    margins = RNG.normal(2.0, 1.0, size=(n, epochs)) + np.linspace(0, 3, epochs)
    bad = np.arange(0, n, 20)
    margins[bad] = RNG.normal(-2.0, 1.0, size=(len(bad), epochs))  # another class always wins
    scores = aum_scores(margins)
    assert scores[bad].max() < np.delete(scores, bad).min()
    np.testing.assert_allclose(scores, margins.mean(axis=1))


def test_el2n_is_the_error_norm_and_mislabeled_score_highest():
    labels = np.array([0, 1, 2, 0])
    logits = np.log([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [1 / 3, 1 / 3, 1 / 3], [1e-300, 1.0, 1e-300]])
    scores = el2n_scores([logits], labels)
    np.testing.assert_allclose(scores[0], np.sqrt(0.1**2 + 2 * 0.05**2))
    np.testing.assert_allclose(scores[3], np.sqrt(2))  # confidently wrong: the maximum possible
    assert scores.argmax() == 3


def test_entropy_is_highest_for_uniform_predictions():
    logits = np.array([[0.0, -np.inf, -np.inf], [0.0, 0.0, -np.inf], [0.0, 0.0, 0.0]])
    scores = entropy_scores(logits)
    np.testing.assert_allclose(scores, [0.0, np.log(2), np.log(3)], atol=1e-9)


def test_random_selection_is_uniform_and_nested_across_fractions():
    labels = np.repeat(np.arange(4), 250)
    index = np.arange(1000)
    hits = np.zeros(1000)
    for seed in range(200):
        scores = random_scores(1000, seed)
        small = select_rows(scores, labels, index, 0.1)
        large = select_rows(scores, labels, index, 0.3)
        assert set(small) <= set(large)
        hits[large] += 1
    # each sample is kept with probability 0.3: over 200 seeds a count is Binomial(200, 0.3), mean 60, sd 6.5
    assert hits.min() > 30 and hits.max() < 90
    assert abs(hits.std() - 6.5) < 1.0  # spread as a uniform draw's, not concentrated on some samples
    assert not np.array_equal(random_scores(1000, 0), random_scores(1000, 1))


def test_registry_describes_every_method():
    assert {"random", "full", "cld", "forgetting", "el2n", "aum", "entropy"} <= set(REGISTRY)
    for method in REGISTRY.values():
        assert method.keep in ("highest", "lowest")
        assert method.paper
    with pytest.raises(KeyError, match="unknown method 'nope'; known: random"):
        get_method("nope")


def test_registry_rejects_parameters_the_proxy_cannot_serve():
    plan = ProxyPlan(epochs=8, snapshot_epochs=(2,))
    el2n = get_method("el2n")
    assert el2n.problems(el2n.params(), plan) == []
    assert el2n.proxy_files(el2n.params({"epoch": 8}), plan) == ["snapshot_epoch8.parquet"]
    assert "el2n: epoch=5 has no proxy snapshot; allowed: [2, 8]" in el2n.problems(el2n.params({"epoch": 5}), plan)[0]
    assert "unknown parameter(s) window" in el2n.problems(el2n.params({"window": 3}), plan)[0]
    no_training_pass = ProxyPlan(epochs=8, snapshot_epochs=(2,), log_in_training=False)
    for name in ("forgetting", "aum"):
        method = get_method(name)
        assert method.problems(method.params(), no_training_pass) == [
            f"{name}: needs in-training signals, but proxy.log_in_training is false"]
    assert get_method("cld").problems(get_method("cld").params(), no_training_pass) == []
    assert get_method("cld").problems(get_method("cld").params(), ProxyPlan(2, ()))[0].startswith(
        "cld: needs at least 3 logged proxy epochs")
    aum = get_method("aum")
    assert "keep must be 'highest' or 'lowest'" in aum.problems(aum.params({"keep": "top"}), plan)[0]
    assert get_method("random").proxy_files({}, plan) == []
    assert get_method("cld").proxy_files({}, plan) == ["dynamics_eval.parquet"]
