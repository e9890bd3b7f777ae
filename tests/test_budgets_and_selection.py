import numpy as np
import pytest

from prunebench.budgets import class_budgets, total_budget
from prunebench.selection import preference_order, select_rows, subset_table


@pytest.mark.parametrize("fraction", [0.001, 0.01, 0.05, 0.1, 0.2, 0.3, 1 / 3, 0.5, 0.9, 1.0])
def test_class_budgets_sum_to_the_rounded_total_and_follow_each_class(fraction):
    rng = np.random.default_rng(0)
    for _ in range(50):
        counts = rng.integers(1, 700, size=rng.integers(2, 30))
        budgets = class_budgets(counts, fraction)
        assert budgets.sum() == total_budget(counts.sum(), fraction)
        assert np.all(budgets <= counts) and np.all(budgets >= 0)
        # largest remainder: every class is within one of its exact quota
        assert np.all(np.abs(budgets - fraction * counts) < 1 + 1e-9)


def test_float_quotas_do_not_lose_a_sample():
    # 0.1 * 6000 is 600.0000000000001 or 599.999...; either way the budget is 600
    assert class_budgets(np.array([6000] * 10), 0.1).tolist() == [600] * 10
    assert class_budgets(np.array([5400] * 10), 0.01).tolist() == [54] * 10


def test_remainders_go_to_the_largest_fractional_parts():
    # quotas 2.5, 1.5, 0.5 -> floors 2, 1, 0 and total round(4.5) = 5: two extra slots, ties to lower class ids
    assert class_budgets(np.array([5, 3, 1]), 0.5).tolist() == [3, 2, 0]
    # quotas 0.9 and 0.2: the single slot goes to the larger remainder
    assert class_budgets(np.array([9, 2]), 0.1).tolist() == [1, 0]


def _pool(n_per_class=(50, 30, 20), seed=0):
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.full(n, c) for c, n in enumerate(n_per_class)])
    perm = rng.permutation(len(labels))
    index = np.sort(rng.choice(100_000, size=len(labels), replace=False))
    return index, labels[perm], rng.random(len(labels))


@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.25, 0.5, 0.99, 1.0])
def test_balanced_selection_meets_every_class_budget_exactly(fraction):
    index, labels, scores = _pool()
    rows = select_rows(scores, labels, index, fraction, balanced=True)
    assert len(np.unique(rows)) == len(rows)
    counts = np.bincount(labels[rows], minlength=3)
    assert counts.tolist() == class_budgets(np.bincount(labels), fraction).tolist()


def test_balanced_selection_keeps_the_top_scores_within_each_class():
    index, labels, scores = _pool()
    rows = select_rows(scores, labels, index, 0.2, keep="highest")
    for c in range(3):
        chosen = scores[rows][labels[rows] == c]
        rest = np.setdiff1d(np.flatnonzero(labels == c), rows)
        assert chosen.min() > scores[rest].max()


def test_global_selection_ignores_classes_and_keeps_the_lowest_when_asked():
    index, labels, scores = _pool()
    rows = select_rows(scores, labels, index, 0.3, keep="lowest", balanced=False)
    assert len(rows) == total_budget(len(labels), 0.3)
    assert scores[rows].max() < np.delete(scores, rows).min()
    assert np.all(np.diff(scores[rows]) >= 0)  # preference order: lowest first


def test_ties_go_to_the_lower_dataset_index():
    index = np.array([40, 10, 30, 20])
    order = preference_order(np.zeros(4), index)
    assert index[order].tolist() == [10, 20, 30, 40]


def test_bad_fractions_and_nan_scores_are_refused():
    index, labels, scores = _pool()
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="fraction must be in"):
            select_rows(scores, labels, index, bad)
    scores[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        select_rows(scores, labels, index, 0.5)


def test_subset_table_follows_the_contract():
    index, labels, scores = _pool()
    rows = select_rows(scores, labels, index, 0.5)
    table = subset_table(rows, index, labels)
    assert table.column_names == ["index", "label", "weight", "rank"]
    assert table.column("index").to_pylist() == index[rows].tolist()
    assert table.column("rank").to_pylist() == list(range(len(rows)))
    assert set(table.column("weight").to_pylist()) == {1.0}
