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


# ---- split.query_selection: a query set biased by a user's per-sample score


def _scored(per_class=200, classes=4, seed=0):
    """Labels and a distinct score per training sample, independent of the label."""
    labels = _labels(per_class, classes, seed)
    return labels, np.random.default_rng([seed, 1]).permutation(len(labels)).astype(float)


def _per_class(split, scores, role):
    index, labels = rows_of(split, role)
    return {c: np.sort(scores[index[labels == c]]) for c in np.unique(labels)}


@pytest.mark.parametrize("how", ["lowest", "highest"])
def test_lowest_and_highest_hold_out_each_classs_extreme_scores(how):
    labels, scores = _scored()
    split = make_split(labels, 4, 0.1, seed=0, query_selection=how, scores=scores)
    query, pool = _per_class(split, scores, "query"), _per_class(split, scores, "pool")
    for c in range(4):
        assert len(query[c]) == 20 and len(pool[c]) == 180
        if how == "lowest":
            assert query[c].max() < pool[c].min()
        else:
            assert query[c].min() > pool[c].max()


def test_proportional_query_scores_follow_each_classs_distribution():
    labels, scores = _scored(per_class=500)
    split = make_split(labels, 4, 0.1, seed=0, query_selection="proportional", scores=scores)
    query, pool = _per_class(split, scores, "query"), _per_class(split, scores, "pool")
    for c in range(4):
        everything = np.sort(np.concatenate([query[c], pool[c]]))
        k = len(query[c])
        assert k == 50
        # the j-th lowest query score lies in the j-th of k equal strata of the class's sorted scores
        position = np.searchsorted(everything, query[c]) / len(everything)
        assert np.all((position >= np.arange(k) / k) & (position < (np.arange(k) + 1) / k))
        # so its quantiles are the pool's (a uniform draw's are off by ~1/sqrt(k); lowest/highest by half the range)
        quantiles = np.linspace(0.1, 0.9, 9)
        assert np.abs(np.quantile(query[c], quantiles) - np.quantile(pool[c], quantiles)).max() \
            < 0.05 * np.ptp(everything)


@pytest.mark.parametrize("how", ["random", "lowest", "highest", "proportional"])
def test_every_selection_holds_out_exactly_each_classs_share(how):
    labels = np.concatenate([np.full(n, c) for c, n in enumerate([97, 50, 13])])
    scores = np.round(np.random.default_rng(0).random(len(labels)), 1)  # ties: scores on 11 levels
    split = make_split(labels, 3, 0.1, seed=0, query_selection=how, scores=scores)
    _, query_labels = rows_of(split, "query")
    assert np.bincount(query_labels).tolist() == [10, 5, 1]
    assert len(split) == len(labels)


@pytest.mark.parametrize("how", ["lowest", "highest", "proportional"])
def test_a_biased_query_set_is_the_same_for_the_same_seed_and_chosen_within_the_slice(how):
    labels, scores = _scored(per_class=300)
    a, b = (make_split(labels, 4, 0.1, 5, 0.2, 400, how, scores) for _ in range(2))
    assert a.equals(b)
    assert len(a) == 400 and np.bincount(rows_of(a, "query")[1]).tolist() == [10] * 4
    # the slice is the random split's: the score only chooses which of its samples are held out
    assert np.array_equal(a.column("index"), make_split(labels, 4, 0.1, 5, 0.2, 400).column("index"))


def test_random_selection_ignores_scores():
    labels, scores = _scored()
    assert make_split(labels, 4, 0.1, 3, 0.1, query_selection="random", scores=scores).equals(
        make_split(labels, 4, 0.1, 3, 0.1))


def _score_file(path, index, score):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"index": pa.array(index, pa.int64()), "score": pa.array(score, pa.float64())}), path)
    return path


@pytest.mark.parametrize(("index", "score", "message"), [
    (np.arange(9), np.zeros(9), r"no score for 1 of the 10 training samples \(index 9\)$"),
    ([0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 9], np.zeros(11), r"index 8 appears 2 times$"),
    (np.arange(10), [0, 1, 2, np.nan, 4, 5, 6, 7, 8, 9], r"the score of index 3 is nan$"),
    (np.arange(10), [0, 1, 2, 3, np.inf, 5, 6, 7, 8, 9], r"the score of index 4 is inf$"),
    (np.arange(11), np.zeros(11), r"index 10 is not a training sample \(there are 10\)$"),
])
def test_a_bad_score_file_is_one_line_naming_what_is_wrong(tmp_path, index, score, message):
    from prunebench.errors import InputError
    from prunebench.splits import read_query_scores

    path = _score_file(tmp_path / "scores.parquet", index, score)
    with pytest.raises(InputError, match=rf"^split\.query_scores: {path}: {message}"):
        read_query_scores(path, 10)


def test_a_missing_or_foreign_score_file_is_one_line(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from prunebench.errors import InputError
    from prunebench.splits import read_query_scores

    with pytest.raises(InputError, match=r"^split\.query_scores: .*nope\.parquet: file not found$"):
        read_query_scores(tmp_path / "nope.parquet", 10)
    pq.write_table(pa.table({"index": pa.array(range(10)), "memorization": pa.array([0.0] * 10)}),
                   tmp_path / "other.parquet")
    with pytest.raises(InputError, match=r"missing column\(s\) score \(it needs index, score\)$"):
        read_query_scores(tmp_path / "other.parquet", 10)
    pq.write_table(pa.table({"index": pa.array(["a"] * 10), "score": pa.array([0.0] * 10)}), tmp_path / "str.parquet")
    with pytest.raises(InputError, match=r"index must be integers and score numbers \(they are string and double\)$"):
        read_query_scores(tmp_path / "str.parquet", 10)
    (tmp_path / "text.parquet").write_text("index,score\n")
    with pytest.raises(InputError, match=r"text\.parquet: not a Parquet file \(.*\)$"):
        read_query_scores(tmp_path / "text.parquet", 10)


def test_the_split_file_records_the_score_files_content_and_a_random_split_is_todays(tmp_path):
    """Same seed, same bytes; the score file's content (not its name) makes a biased split; a random split's file
    is byte for byte what a split section without the selection keys writes."""
    from prunebench import pipeline
    from prunebench.io import read_table, table_metadata

    dataset = {"name": "synthetic", "root": None, "download_root": "data",
               "options": {"num_classes": 3, "train_per_class": 40, "test_per_class": 2, "image_size": 8}}
    pipeline.prepare_data(dataset, tmp_path / "data")
    base = {"query_fraction": 0.1, "label_noise": 0.0, "max_samples": None}
    scores = _score_file(tmp_path / "a.parquet", np.arange(120), np.arange(120.0) % 17)
    renamed = tmp_path / "b.parquet"
    renamed.write_bytes(scores.read_bytes())

    def split(name, **section):
        pipeline.make_split(tmp_path / "data", {**base, **section}, 0, tmp_path / name)
        return (tmp_path / name).read_bytes()

    assert split("plain.parquet") == split("random.parquet", query_selection="random", query_scores=str(scores))
    low = split("low.parquet", query_selection="lowest", query_scores=str(scores))
    assert low == split("low2.parquet", query_selection="lowest", query_scores=str(renamed))
    assert low != split("plain.parquet")
    meta = table_metadata(read_table(tmp_path / "low.parquet"))
    assert meta["query_selection"] == "lowest" and len(meta["query_scores_sha256"]) == 64
    assert "query_scores" not in meta
    _score_file(renamed, np.arange(120), -np.arange(120.0) % 17)  # other content, same name: another split
    assert split("low3.parquet", query_selection="lowest", query_scores=str(renamed)) != low
