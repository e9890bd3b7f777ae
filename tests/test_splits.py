import numpy as np
import pytest

from prunebench.budgets import total_budget
from prunebench.splits import make_split, rows_of


def _labels(per_class=100, classes=5, seed=0):
    return np.random.default_rng(seed).permutation(np.repeat(np.arange(classes), per_class))


def test_query_set_is_class_balanced_and_disjoint_from_the_pool():
    labels = _labels()
    split = make_split(labels, 5, query_fraction=0.1, seed=3)
    pool, pool_labels = rows_of(split, "pool")
    query, query_labels = rows_of(split, "query")
    assert np.bincount(query_labels).tolist() == [10] * 5
    assert np.bincount(pool_labels).tolist() == [90] * 5
    assert not set(pool) & set(query)
    assert sorted(np.concatenate([pool, query])) == list(range(len(labels)))
    # index is the position in the official training set, and labels match it
    assert np.array_equal(labels[pool], pool_labels)


def test_same_seed_same_split_other_seed_other_split():
    labels = _labels()
    a, b, c = (make_split(labels, 5, 0.1, seed) for seed in (1, 1, 2))
    assert a.equals(b)
    assert not a.equals(c)


def test_label_noise_flips_exactly_the_rate_of_pool_labels_and_keeps_the_clean_label():
    labels = _labels(per_class=200)
    split = make_split(labels, 5, 0.1, seed=0, label_noise=0.2)
    role = np.asarray(split.column("role"))
    noisy = np.asarray(split.column("noisy"))
    label = np.asarray(split.column("label"))
    clean = np.asarray(split.column("clean_label"))
    assert noisy[role == "pool"].sum() == round(0.2 * (role == "pool").sum())
    assert not noisy[role == "query"].any()
    assert np.all(label[noisy] != clean[noisy]) and np.all(label[~noisy] == clean[~noisy])
    assert np.array_equal(clean, labels[np.asarray(split.column("index"))])
    assert set(label[noisy]) == set(range(5))  # flipped to every class, not to one


def test_max_samples_takes_a_stratified_slice():
    labels = _labels(per_class=300)
    split = make_split(labels, 5, 0.1, seed=0, max_samples=500)
    assert len(split) == 500
    assert np.bincount(np.asarray(split.column("clean_label"))).tolist() == [100] * 5


@pytest.mark.parametrize("fraction", [0.05, 0.1, 0.3])
def test_query_size_is_exact_per_class(fraction):
    labels = np.concatenate([np.full(n, c) for c, n in enumerate([97, 50, 13])])
    split = make_split(labels, 3, fraction, seed=0)
    _, query_labels = rows_of(split, "query")
    assert len(query_labels) == total_budget(len(labels), fraction)
    assert np.all(np.abs(np.bincount(query_labels, minlength=3) - fraction * np.array([97, 50, 13])) < 1)
