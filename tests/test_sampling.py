"""CCS's coverage-centric strata and DUAL's Beta sampling: budgets, coverage, density, determinism."""

import math

import numpy as np
import pytest

from prunebench.methods import sampling
from prunebench.selection import preference_order


def test_strata_allocation_fills_small_strata_and_spreads_the_rest_evenly():
    assert sampling.allocate_strata(np.array([2, 50, 0, 7, 50]), 40).tolist() == [2, 15, 0, 7, 16]
    assert sampling.allocate_strata(np.array([3, 3]), 10).tolist() == [3, 3]  # not enough: everything
    for budget in range(0, 113):
        assert sampling.allocate_strata(np.array([2, 50, 0, 7, 50]), budget).sum() == min(budget, 109)


def test_ccs_drops_the_hardest_then_covers_every_stratum():
    rng = np.random.default_rng(0)
    scores = rng.uniform(-5, 5, 10_000)  # AUM-like: low is hard
    hardest_first = preference_order(scores, np.arange(len(scores)), "lowest")
    rows = sampling.ccs_rows(scores, 1000, hardest_first, cutoff=0.2, strata=10, rng=np.random.default_rng(1))
    assert len(rows) == len(set(rows)) == 1000
    assert scores[rows].min() >= np.sort(scores)[2000]  # the hardest 20% are gone
    # the kept range splits into 10 equal-width strata of roughly 800 samples: 100 from each
    kept = scores[hardest_first[2000:]]
    edges = np.linspace(kept.min(), kept.max(), 11)
    counts = np.histogram(scores[rows], edges)[0]
    assert counts.tolist() == [100] * 10


def test_ccs_samples_rare_strata_whole_unlike_a_uniform_draw():
    rng = np.random.default_rng(2)
    scores = np.concatenate([rng.normal(0, 1, 9_900), rng.uniform(6, 10, 100)])  # a sparse easy tail
    order = preference_order(scores, np.arange(len(scores)), "lowest")
    rows = sampling.ccs_rows(scores, 500, order, cutoff=0.0, strata=50, rng=rng)
    tail = (scores[rows] > 6).sum()
    assert tail >= 50  # a uniform 5% draw keeps about 5 of the 100


def test_ccs_never_drops_so_many_that_the_budget_cannot_be_met():
    scores = np.arange(100.0)
    order = preference_order(scores, np.arange(100), "lowest")
    rows = sampling.ccs_rows(scores, 90, order, cutoff=0.5, strata=5, rng=np.random.default_rng(0))
    assert sorted(rows) == list(range(10, 100))


def test_ccs_is_the_same_for_the_same_seed_and_differs_for_another():
    scores = np.random.default_rng(0).random(2000)
    order = preference_order(scores, np.arange(2000), "lowest")
    draw = [sampling.ccs_rows(scores, 300, order, 0.1, 50, np.random.default_rng(s)) for s in (5, 5, 6)]
    assert np.array_equal(draw[0], draw[1]) and not np.array_equal(draw[0], draw[2])


def beta_cdf(x, a, b, grid=200_001):
    t = np.linspace(1e-9, 1 - 1e-9, grid)
    density = np.exp(sampling.beta_log_density(t, a, b))
    cdf = np.cumsum(density)
    return np.interp(x, t, cdf / cdf[-1])


@pytest.mark.parametrize("fraction", [0.02, 0.3])
def test_beta_sampling_draws_mean_probabilities_from_its_beta_density(fraction):
    """With equal DUAL scores, the first draws' mean p_y follow Beta(alpha, beta).

    Rows come back in draw order; the first 500 of many barely deplete the pool, so they are
    close to independent draws from the density (later ones are not: sampling is without replacement).
    """
    rng = np.random.default_rng(3)
    n = 200_000
    mean_p = rng.random(n)  # uniform candidates, so the draw's density is the Beta density itself
    scores = np.ones(n)
    anchor = mean_p[:10].mean()  # all scores tie: the anchor is the first ten rows
    a, b = sampling.beta_parameters(anchor, fraction, 4)
    rows = sampling.beta_sample_rows(scores, mean_p, fraction, 4, rng)
    assert len(rows) == len(set(rows)) == round(fraction * n)
    first = np.sort(mean_p[rows[:500]])
    empirical = np.arange(1, 501) / 500
    # Kolmogorov-Smirnov distance to the Beta CDF, below its 1% critical value
    assert np.abs(empirical - beta_cdf(first, a, b)).max() < 1.63 / math.sqrt(500)


def test_beta_sampling_moves_to_easier_samples_as_pruning_grows():
    mean_p = np.linspace(0.01, 0.99, 5000)
    scores = np.ones(5000)
    means = [mean_p[sampling.beta_sample_rows(scores, mean_p, f, 4, np.random.default_rng(0))].mean()
             for f in (0.5, 0.2, 0.05)]
    assert means[0] < means[1] < means[2]
    a, b = sampling.beta_parameters(0.3, 0.1, 4)
    assert a + b == 16 and b == pytest.approx(15 * 0.7 * (1 - 0.9 ** 4))


def test_weighted_draw_prefers_heavy_rows_and_uses_zero_weights_only_when_needed():
    weights = np.array([0.0, 0.0, 5.0, 1.0, 0.0])
    rows = sampling.weighted_rows_without_replacement(weights, 4, np.random.default_rng(0))
    assert set(rows[:2]) == {2, 3} and set(rows[2:]) <= {0, 1, 4}
    hits = np.zeros(3)
    for seed in range(3000):
        hits[sampling.weighted_rows_without_replacement(np.array([1.0, 2.0, 7.0]), 1,
                                                        np.random.default_rng(seed))[0]] += 1
    np.testing.assert_allclose(hits / 3000, [0.1, 0.2, 0.7], atol=0.03)


def test_per_class_sampling_meets_every_class_budget():
    labels = np.repeat([0, 1, 2], [101, 37, 12])
    rng = np.random.default_rng(0)
    for fraction in (0.01, 0.1, 0.33, 0.5, 0.9, 1.0):
        rows = sampling.per_class(lambda r, k: rng.choice(r, k, replace=False), labels, fraction)
        counts = np.bincount(labels[rows], minlength=3)
        assert counts.sum() == round(fraction * 150)
        assert np.all(np.abs(counts - fraction * np.array([101, 37, 12])) < 1)
