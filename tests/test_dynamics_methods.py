"""Training-dynamics and uncertainty scores against their papers' definitions, on signals with planted answers."""

import numpy as np
import pytest

from prunebench.methods import dynamics, uncertainty

RNG = np.random.default_rng(1)


def softmax(z):
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def learning_curves(n=300, epochs=12, seed=0):
    """p_y per epoch: easy samples learned at once, hard ones learned late and noisily, mislabeled never.

    Returns p_true (N, T) and the rows of each kind.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(epochs)
    kind = np.repeat([0, 1, 2], [n // 2, n // 3, n - n // 2 - n // 3])  # easy, hard, mislabeled
    p = np.empty((n, epochs))
    p[kind == 0] = 0.97 + 0.02 * rng.random(((kind == 0).sum(), epochs))
    late = 1 / (1 + np.exp(-(t - epochs / 2)))
    p[kind == 1] = np.clip(late + 0.2 * rng.standard_normal(((kind == 1).sum(), epochs)), 0.01, 0.99)
    p[kind == 2] = 0.02 + 0.01 * rng.random(((kind == 2).sum(), epochs))
    return p, {name: np.flatnonzero(kind == k) for k, name in enumerate(["easy", "hard", "mislabeled"])}


def windows(x, j):
    return [x[:, k:k + j] for k in range(x.shape[1] - j + 1)]


def test_forgetting_deepcore_switch_ranks_never_learned_samples_last_instead_of_first():
    correct = np.array([[1, 0, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1]])
    assert dynamics.forgetting_scores(correct).tolist() == [2, 4, 0]  # the paper: never learned = most forgotten
    assert dynamics.forgetting_scores(correct, "zero").tolist() == [2, 0, 0]  # DeepCore: tied with unforgettable


def test_el2n_averages_the_error_norm_over_independent_runs():
    labels = RNG.integers(0, 4, 50)
    runs = [np.log(RNG.dirichlet(np.ones(4), 50)) for _ in range(3)]  # logits
    before = [r.copy() for r in runs]
    expected = np.mean([np.linalg.norm(softmax(r) - np.eye(4)[labels], axis=1) for r in runs], axis=0)
    np.testing.assert_allclose(dynamics.el2n_scores(runs, labels), expected)
    assert all(np.array_equal(a, b) for a, b in zip(runs, before))  # inputs untouched


def test_grand_last_layer_equals_the_norm_of_the_materialised_gradient():
    n, c, d = 40, 5, 7
    labels = RNG.integers(0, c, n)
    runs = [(RNG.standard_normal((n, c)), RNG.standard_normal((n, d))) for _ in range(2)]
    expected = []
    for logits, h in runs:
        e = softmax(logits) - np.eye(c)[labels]
        full = np.concatenate([e, (e[:, :, None] * h[:, None, :]).reshape(n, -1)], axis=1)  # [bias, weight] grads
        expected.append(np.linalg.norm(full, axis=1))
    scores = dynamics.grand_last_layer_scores([p for p, _ in runs], [h for _, h in runs], labels)
    np.testing.assert_allclose(scores, np.mean(expected, axis=0), rtol=1e-5)


def test_dyn_unc_is_the_mean_windowed_std_and_ranks_hard_samples_first():
    p, kinds = learning_curves()
    scores = dynamics.dyn_unc_scores(p, window=4)
    expected = np.mean([w.std(axis=1) for w in windows(p, 4)], axis=0)
    np.testing.assert_allclose(scores, expected, atol=1e-9)
    assert scores[kinds["hard"]].min() > scores[kinds["easy"]].max()
    assert scores[kinds["hard"]].min() > scores[kinds["mislabeled"]].max()


def test_dual_weighs_uncertainty_by_difficulty():
    p, kinds = learning_curves()
    scores = dynamics.dual_scores(p, window=4)
    expected = np.mean([w.std(axis=1) * (1 - w.mean(axis=1)) for w in windows(p, 4)], axis=0)
    np.testing.assert_allclose(scores, expected, atol=1e-9)
    assert scores[kinds["hard"]].min() > max(scores[kinds["easy"]].max(), scores[kinds["mislabeled"]].max())
    # of two equally uncertain samples, the harder (lower mean p_y) scores higher
    pair = np.array([[0.2, 0.3, 0.2, 0.3], [0.7, 0.8, 0.7, 0.8]])
    first, second = dynamics.dual_scores(pair, window=2)
    assert first > second


def test_tdds_follows_the_official_definition():
    n, c, epochs, j, beta = 30, 4, 9, 4, 0.9
    probs = RNG.dirichlet(np.ones(c), size=(epochs, n))  # (T, N, C) train-time softmax per epoch
    kl = np.abs(probs[1:] * (np.log(probs[1:]) - np.log(probs[:-1]))).sum(axis=2).T  # (N, T - 1)
    expected = np.zeros(n)
    for k in range(epochs - j + 1):
        a = kl[:, k:k + j - 1]
        v = np.linalg.norm(a - a.mean(axis=1, keepdims=True), axis=1)
        expected += beta * (1 - beta) ** (epochs - j - k) * v
    np.testing.assert_allclose(dynamics.tdds_scores(kl, window=j, decay=beta), expected, rtol=1e-8)


def test_tdds_ranks_samples_whose_predictions_keep_moving_first():
    epochs, n = 10, 100
    kl = np.full((n, epochs - 1), 0.01)
    movers = np.arange(0, n, 10)
    kl[movers] = RNG.uniform(0, 2, (len(movers), epochs - 1))  # late, varied changes of prediction
    scores = dynamics.tdds_scores(kl, window=5)
    assert set(np.argsort(-scores)[:len(movers)]) == set(movers)


def test_block_processing_does_not_change_any_window_score():
    p = RNG.random((1000, 12))
    for score in (dynamics.dyn_unc_scores, dynamics.dual_scores):
        whole = score(p, 5)
        blocked = dynamics._by_blocks(lambda x, score=score: score(x, 5), p, block=77)
        np.testing.assert_array_equal(whole, blocked)


def test_uncertainty_scores_order_confident_after_uncertain():
    logits = np.log([[0.98, 0.01, 0.01], [0.6, 0.3, 0.1], [0.4, 0.35, 0.25]])
    assert np.argsort(-uncertainty.least_confidence_scores(logits)).tolist() == [2, 1, 0]
    assert np.argsort(-uncertainty.entropy_scores(logits)).tolist() == [2, 1, 0]
    np.testing.assert_allclose(uncertainty.margin_scores(logits), [0.97, 0.3, 0.05])  # keep the lowest


def test_least_confidence_deepcore_switch_ranks_by_the_max_logit():
    # sample 0 has the larger max logit but is the less confident once softmax sees its runner-up
    logits = np.array([[5.0, 4.9, 0.0], [3.0, 0.0, 0.0]])
    paper = uncertainty.least_confidence_scores(logits)
    deepcore = uncertainty.max_logit_uncertainty(logits)
    assert paper.argmax() == 0 and deepcore.argmax() == 1


@pytest.mark.parametrize("window", [2, 7])
def test_window_scores_of_a_constant_trajectory_are_zero(window):
    p = np.full((3, 7), 0.4)
    assert np.allclose(dynamics.dyn_unc_scores(p, window), 0) and np.allclose(dynamics.dual_scores(p, window), 0)


@pytest.mark.parametrize("keep", ["highest", "lowest"])
def test_dual_top_sampling_keeps_the_end_the_keep_parameter_names(keep):
    from prunebench.methods import get_method

    dual = get_method("dual")
    scores = np.arange(20, dtype=np.float64)
    scored = {"index": np.arange(20), "label": np.zeros(20, int), "score": scores, "mean_p_true": scores / 20}
    params = dual.params({"sampling": "top", "keep": keep})
    rows, weights = dual.subset(scored, 0.25, params, np.random.default_rng(0), None)
    assert weights is None
    assert sorted(scores[rows]) == ([15, 16, 17, 18, 19] if keep == "highest" else [0, 1, 2, 3, 4])
