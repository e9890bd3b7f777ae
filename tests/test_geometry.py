"""Geometry methods on small synthetic geometries with known answers: k-center's 2-approximation,
herding's mean matching, Moderate's middle band, Cal's contrast, Contextual Diversity's spread,
D2-Pruning's suppression, and the factored last-layer gradient kernels against explicit vectors."""

import itertools

import numpy as np
import pytest

from prunebench.methods import geometry, kernels, probabilities

RNG = np.random.default_rng(7)


def optimal_radius(x, k):
    """The minimax k-center radius by brute force over every k-subset."""
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    return min(d[:, list(c)].min(axis=1).max() for c in itertools.combinations(range(len(x)), k))


@pytest.mark.parametrize("seed", range(5))
def test_kcenter_covers_within_twice_the_optimal_radius_at_every_prefix(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(11, 2)).astype(np.float32)
    order = geometry.kcenter_order(x, first=int(rng.integers(11)))
    assert sorted(order) == list(range(11))
    for k in (1, 2, 3, 4):
        assert geometry.covering_radius(x, order[:k]) <= 2 * optimal_radius(x, k) + 1e-5


def test_kcenter_picks_the_farthest_point_each_step():
    x = np.array([[0.0], [1.0], [10.0], [3.0], [6.0]], np.float32)
    # 0, then 10, then 6 (4 from the nearest pick; 3 is 3 from 0)
    assert geometry.kcenter_order(x, first=0).tolist()[:3] == [0, 2, 4]


def test_herding_mean_converges_to_the_class_mean_and_beats_random_subsets():
    x = RNG.normal(size=(400, 8)).astype(np.float32) * np.linspace(0.5, 3, 8).astype(np.float32)
    mu = x.mean(axis=0)
    order = geometry.herding_order(x)
    error = [np.linalg.norm(x[order[:k]].mean(0) - mu) for k in (5, 20, 80, 320)]
    assert error == sorted(error, reverse=True) and error[-1] < 0.02
    random_error = np.mean([np.linalg.norm(x[RNG.choice(400, 20, replace=False)].mean(0) - mu) for _ in range(50)])
    assert error[1] < random_error / 4  # herding converges like 1/k, random like 1/sqrt(k)


def test_herding_deepcore_switch_moves_away_from_the_mean():
    x = RNG.normal(size=(300, 4)).astype(np.float32)
    mu = x.mean(axis=0)
    paper, deepcore = geometry.herding_order(x, 30), geometry.herding_order(x, 30, farthest=True)
    assert np.linalg.norm(x[paper].mean(0) - mu) < 0.1 < np.linalg.norm(x[deepcore].mean(0) - mu)


def test_herding_follows_its_definition_step_by_step():
    x = RNG.normal(size=(40, 3)).astype(np.float32)
    mu = x.astype(np.float64).mean(0)
    order = geometry.herding_order(x, 10)
    chosen = []
    for t in range(10):
        target = (t + 1) * mu - x[chosen].astype(np.float64).sum(0)
        dist = np.linalg.norm(target - x, axis=1)
        dist[chosen] = np.inf
        chosen.append(int(np.argmin(dist)))
    assert order.tolist() == chosen


def test_moderate_keeps_the_middle_band_of_distances_to_the_class_median():
    h = np.arange(10, dtype=np.float32)[:, None]  # median 4.5: distances 4.5 3.5 ... 0.5 0.5 ... 4.5
    labels = np.zeros(10, int)
    scores = geometry.moderate_scores(h, labels, [np.arange(10)])
    top4 = np.argsort(-scores, kind="stable")[:4]
    dist = np.abs(h[:, 0] - 4.5)
    ranks = np.argsort(np.argsort(dist, kind="stable"), kind="stable")
    assert sorted(ranks[top4]) == [3, 4, 5, 6]  # drop the 3 closest and the 3 farthest


def test_cal_scores_the_sample_whose_neighbours_disagree_with_it_highest():
    h = np.array([[0.0], [0.1], [0.2], [0.3], [5.0], [5.1]], np.float32)
    logits = np.array([[5, 0], [5, 0], [0, 5], [5, 0], [0, 5], [0, 5]], np.float32)
    scores = geometry.cal_scores(h, logits, neighbours=2)
    assert np.argmax(scores) == 2  # predicted class 1 among neighbours predicting class 0
    assert scores[4] == pytest.approx(scores[2] / 2)  # one of its two neighbours agrees with it
    assert np.isfinite(geometry.cal_scores(h, np.array([[1e4, -1e4]] * 6, np.float32), 2)).all()  # no log(0)


def test_contextual_diversity_spreads_over_prediction_modes_first():
    modes = np.repeat(np.eye(3, dtype=np.float32) * 8, [20, 5, 2], axis=0)
    logits = modes + RNG.normal(scale=0.1, size=modes.shape).astype(np.float32)
    order = geometry.contextual_diversity_order(logits, first=0)
    assert set(np.argmax(logits[order[:3]], axis=1)) == {0, 1, 2}


def test_d2_suppresses_the_neighbours_of_each_pick():
    # a dense cluster of hard samples and a sparse one of slightly easier samples
    dense = RNG.normal(scale=0.05, size=(10, 2)).astype(np.float32)
    sparse = (RNG.normal(scale=0.05, size=(10, 2)) + 10).astype(np.float32)
    h = np.concatenate([dense, sparse])
    difficulty = np.concatenate([np.full(10, 2.0), np.full(10, 1.5)])
    order = geometry.d2_order(h, difficulty, neighbours=9, gamma_forward=1.0, gamma_reverse=1.0)
    assert sorted(order) == list(range(20))
    assert {0, 1} <= {int(i >= 10) for i in order[:4]}  # both clusters early, not the 10 hardest first
    no_suppression = geometry.d2_order(h, difficulty, neighbours=9, gamma_reverse=1e6)
    assert all(i < 10 for i in no_suppression[:10])


def test_d2_cutoff_drops_the_hardest_to_the_end_least_hard_first():
    h = RNG.normal(size=(10, 2)).astype(np.float32)
    difficulty = np.arange(10.0)
    order = geometry.d2_order(h, difficulty, neighbours=3, cutoff=0.3)
    assert order[-3:].tolist() == [7, 8, 9] and sorted(order[:7]) == list(range(7))


def explicit_gradients(logits, labels, h):
    e = probabilities.errors(logits, labels, np.float32).astype(np.float64)
    return np.concatenate([e, np.einsum("nc,nd->ncd", e, h.astype(np.float64)).reshape(len(e), -1)], axis=1)


def test_the_factored_gradient_kernels_equal_the_explicit_last_layer_gradients():
    logits = RNG.normal(size=(30, 4)).astype(np.float32)
    labels = RNG.integers(0, 4, 30)
    h = RNG.normal(size=(30, 6)).astype(np.float32)
    g = explicit_gradients(logits, labels, h)
    e = probabilities.errors(logits, labels, np.float32)
    np.testing.assert_allclose(kernels.grad_gram(e, h, block=7), g @ g.T, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(kernels.grad_sq_norms(e, h), (g * g).sum(1), rtol=1e-5)
    dist = np.sqrt(((g[:, None] - g[None]) ** 2).sum(-1))
    np.testing.assert_allclose(kernels.grad_distances(e, h), dist, rtol=1e-3, atol=1e-3)
    cos = g @ g.T / np.outer(np.linalg.norm(g, axis=1), np.linalg.norm(g, axis=1))
    np.testing.assert_allclose(kernels.cosine_similarity(e, h), 0.5 + 0.5 * cos, atol=1e-5)
    bias, weight = kernels.mean_gradient(e, h)
    mean = g.mean(0)
    np.testing.assert_allclose(np.concatenate([bias, weight.ravel()]), mean, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(kernels.dot_gradient(e, h, bias, weight), g @ mean, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("k", [4, 20])  # k passes of argmin, or a partition
def test_knn_finds_the_nearest_other_rows_nearest_first(k):
    x = RNG.normal(size=(50, 3)).astype(np.float32)
    nbrs, dist = kernels.knn(x, k, block=7)
    full = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    np.fill_diagonal(full, np.inf)
    assert (nbrs == np.argsort(full, axis=1)[:, :k]).all()
    np.testing.assert_allclose(dist, np.sort(full, axis=1)[:, :k], rtol=1e-4, atol=1e-4)


def test_groups_too_big_for_the_similarity_are_refused_up_front_with_the_size_allowed():
    labels = np.repeat([0, 1], [30, 50])
    kernels.check_group_size("facility_location", labels, True, 50)
    with pytest.raises(ValueError) as error:
        kernels.check_group_size("facility_location", labels, False, 50)
    message = str(error.value)
    assert "facility_location: the whole pool" in message and "80 samples" in message
    assert "max_class=50" in message and "use balanced: true" in message and "\n" not in message
