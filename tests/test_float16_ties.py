"""Scores never depend on float16 rounding: confident samples whose probabilities differ only below
float16 resolution are ranked by their true order, through the real score and select steps."""

import numpy as np
import pyarrow as pa
import pytest

from prunebench import pipeline
from prunebench.io import matrix_column, read_table, write_table
from prunebench.methods import REGISTRY, ProxyPlan, kernels, probabilities
from prunebench.signals import snapshot_file
from prunebench.splits import make_split

CLASSES, PER_CLASS = 3, 40
PLAN = ProxyPlan(epochs=2, snapshot_epochs=(2,), repeats=1)
# the highest-score rows (keep: highest) or lowest (keep: lowest) are the least confident
METHODS = ["least_confidence", "entropy", "margin", "el2n", "grand"]


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A split and an epoch-2 snapshot whose pool logits are a_i on the true class and 0 elsewhere,
    with a_i in [10, 13] shuffled over the pool: 1 - p_y is 9e-6..4e-4, below float16's 4.9e-4 at 1."""
    folder = tmp_path_factory.mktemp("float16")
    labels = np.repeat(np.arange(CLASSES), PER_CLASS)
    split = make_split(labels, CLASSES, 0.1, 0)
    write_table(split, folder / "split.parquet")
    rng = np.random.default_rng(0)
    index, y = split.column("index").to_numpy(), split.column("label").to_numpy()
    gap = (10 + rng.permutation(len(index)) / 64).astype(np.float16)  # exact in float16: distinct true order
    p_top = 1 / (1 + (CLASSES - 1) * np.exp(-gap.astype(np.float64)))
    assert len(np.unique(p_top.astype(np.float16))) <= 2  # what float16-probability scores saw: ties everywhere
    logits = np.zeros((len(index), CLASSES), np.float16)
    logits[np.arange(len(index)), y] = gap
    table = pa.table({"index": pa.array(index, pa.int64()), "role": split.column("role"),
                      "label": pa.array(y, pa.int64()), "logits": matrix_column(logits),
                      "embedding": matrix_column(np.zeros((len(index), 4), np.float16))})
    write_table(table, folder / "proxy" / snapshot_file(2), {"epoch": 2, "repeat": 0})
    pool = np.asarray(split.column("role")) == "pool"
    return folder, dict(zip(index[pool], gap[pool].astype(np.float64)))


@pytest.mark.parametrize("name", METHODS)
def test_confident_samples_rank_by_their_true_confidence_not_by_index(planted, tmp_path, name):
    folder, gap = planted
    method = REGISTRY[name]
    params = method.params({"epoch": 2, **({"repeats": 1} if "repeats" in method.defaults else {})})
    assert method.problems(params, PLAN) == []
    scores = tmp_path / "scores.parquet"
    pipeline.score(name, params, PLAN, folder / "split.parquet", folder / "proxy", 0, scores)
    table = read_table(scores).to_pandas()
    true_gap = table["index"].map(gap).to_numpy()
    assert table["score"].is_unique
    # smaller gap = less confident = more uncertain and larger error
    if method.keep == "highest":
        assert np.array_equal(np.argsort(-table["score"].to_numpy()), np.argsort(true_gap))
    else:
        assert np.array_equal(np.argsort(table["score"].to_numpy()), np.argsort(true_gap))
    out = tmp_path / "subset.parquet"
    pipeline.select(scores, 0.25, out)
    kept = read_table(out).column("index").to_numpy()
    per_class = table.assign(gap=true_gap).groupby("label")["gap"]
    if params["balanced"]:
        cut = per_class.transform(lambda g: np.sort(g.to_numpy())[round(0.25 * len(g)) - 1])
        assert set(kept) == set(table["index"][true_gap <= cut])
    else:
        assert set(kept) == set(table["index"][true_gap <= np.sort(true_gap)[len(kept) - 1]])


def test_last_layer_errors_keep_the_true_class_error_of_confident_samples():
    gap = 10 + np.arange(64) / 8
    logits = np.zeros((len(gap), CLASSES), np.float16)
    logits[:, 0] = gap
    rest = (CLASSES - 1) * np.exp(-gap.astype(np.float16).astype(np.float64))
    e = probabilities.errors(logits, np.zeros(len(gap), int), np.float32)
    np.testing.assert_allclose(e[:, 0], -rest / (1 + rest), rtol=1e-5)  # e_y = -sum_{c != y} p_c, not 0
    np.testing.assert_allclose(e[:, 1], np.exp(-gap.astype(np.float16).astype(np.float64)) / (1 + rest), rtol=1e-5)
    # so the gradient direction is exact: e = rest/(1+rest) * (-1, 1/2, 1/2), cosine 1 between confident rows
    cos = kernels.cosine_similarity(e, np.zeros((len(gap), 2), np.float32))
    np.testing.assert_allclose(cos, 1.0, atol=1e-5)


def test_the_tie_benchmark_reads_score_tables_written_before_checksums(planted, tmp_path):
    """benchmarks/tied_scores.py measures the 'before' tie shares on old files, which read_table refuses."""
    import subprocess
    import sys

    import pyarrow.parquet as pq
    from conftest import REPO

    from prunebench.io import CHECKSUM

    folder, _ = planted
    params = REGISTRY["entropy"].params({"epoch": 2})
    new, old = tmp_path / "new" / "entropy" / "seed0.parquet", tmp_path / "old" / "entropy" / "seed0.parquet"
    pipeline.score("entropy", params, PLAN, folder / "split.parquet", folder / "proxy", 0, new)
    table = pq.read_table(new)
    old.parent.mkdir(parents=True)
    pq.write_table(table.replace_schema_metadata({k: v for k, v in table.schema.metadata.items() if k != CHECKSUM}),
                   old)
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "tied_scores.py"), str(old), "--against",
                           str(tmp_path / "new"), "--fraction", "0.5"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1].split()[1:] == ["0.0000", "0.0000", "1.000"]  # no ties; the same subset
