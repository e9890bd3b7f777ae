"""Every step checks what it reads: a damaged table that pyarrow still reads, and every kind of bad subset,
end in one line naming the file and the problem, exit 1, and leave nothing downstream."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import TARGET, run_step, synthetic_subset_run

from prunebench.io import read_table, table_metadata, write_table


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Synthetic data, a split, random scores and the subset at 0.25: everything a target job reads."""
    return synthetic_subset_run(tmp_path_factory.mktemp("contracts"), 50, 0.2, 0.25)


def assert_refused(done, log, path, problem):
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(path) in lines[0] and problem in lines[0], lines[0]
    assert log.read_text() == done.stderr  # the rule's log says the same


def test_400_random_bytes_in_a_score_file_that_pyarrow_still_reads_are_refused(run, tmp_path):
    good = (run / "scores.parquet").read_bytes()
    expected = pq.read_table(run / "scores.parquet")
    damaged = tmp_path / "scores.parquet"
    rng = np.random.default_rng(0)
    for _ in range(200):  # the probe: find damage that a plain pyarrow read does not notice
        middle = len(good) // 2 + int(rng.integers(-len(good) // 8, len(good) // 8))
        raw = bytearray(good)
        raw[middle:middle + 400] = rng.integers(0, 256, 400, dtype=np.uint8).tobytes()
        damaged.write_bytes(bytes(raw))
        try:
            if not pq.read_table(damaged).equals(expected):
                break
        except (OSError, pa.ArrowException):
            continue
    else:
        pytest.fail("no damage found that pyarrow reads silently")
    out, log = tmp_path / "subset.parquet", tmp_path / "select.log"
    done = run_step("select", log, scores_path=str(damaged), fraction=0.5, out=str(out))
    assert_refused(done, log, damaged, "damaged")
    assert not out.exists()


def bad_subsets(run):
    """(name, table, metadata changes, expected problem) for each way a subset can break its contract."""
    subset = read_table(run / "subset.parquet")
    split = read_table(run / "split.parquet").to_pandas()
    query = split.loc[split["role"] == "query"].iloc[0]
    n = subset.num_rows

    def changed(column, values):
        return subset.set_column(subset.schema.get_field_index(column), column, pa.array(values))

    index, labels = subset.column("index").to_numpy(), subset.column("label").to_numpy()
    weights = subset.column("weight").to_numpy()
    return [
        ("duplicate", pa.concat_tables([subset, subset.slice(0, 1)]), {"k": n + 1}, "repeated"),
        ("query sample", changed("index", np.r_[int(query["index"]), index[1:]]).set_column(
            1, "label", pa.array(np.r_[int(query["label"]), labels[1:]])), {}, "not in seed 0's pool"),
        ("outside the dataset", changed("index", np.r_[10 ** 6, index[1:]]), {}, "not in seed 0's pool"),
        ("wrong label", changed("label", np.r_[(labels[0] + 1) % 3, labels[1:]]), {}, "differ from the split's"),
        ("label out of range", changed("label", np.r_[99, labels[1:]]), {}, "differ from the split's"),
        ("negative weight", changed("weight", np.r_[-1.0, weights[1:]]), {}, "finite and positive"),
        ("NaN weight", changed("weight", np.r_[np.nan, weights[1:]]), {}, "finite and positive"),
        ("zero weight", changed("weight", np.r_[0.0, weights[1:]]), {}, "finite and positive"),
        ("k mismatch", subset, {"k": n + 3}, f"k = {n + 3} but the file has {n} rows"),
        ("other seed", subset, {"seed": 1}, "not seed 0"),
    ]


@pytest.mark.parametrize("case", range(10))
def test_a_bad_subset_is_refused_before_anything_trains(run, tmp_path, case):
    name, table, changes, problem = bad_subsets(run)[case]
    meta = {**table_metadata(read_table(run / "subset.parquet")), **changes}
    path = tmp_path / "subset.parquet"
    write_table(table.replace_schema_metadata(None), path, meta)  # a well-formed file with a bad content
    out, log = tmp_path / "result.json", tmp_path / "train_target.log"
    done = run_step("train_target", log, data_dir=str(run / "data"), subset_path=str(path), target=TARGET,
                    arch="small_cnn", seed=0, device="cpu", proxy_arch="small_cnn", out=str(out),
                    split_path=str(run / "split.parquet"))
    assert_refused(done, log, path, problem)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["subset.parquet", "train_target.log"], name


def test_a_good_subset_passes_the_same_checks(run, tmp_path):
    out, log = tmp_path / "result.json", tmp_path / "train_target.log"
    done = run_step("train_target", log, data_dir=str(run / "data"), subset_path=str(run / "subset.parquet"),
                    target=TARGET, arch="small_cnn", seed=0, device="cpu", proxy_arch="small_cnn", out=str(out),
                    split_path=str(run / "split.parquet"))
    assert done.returncode == 0, done.stderr
    assert out.exists()


def test_a_table_without_a_checksum_is_refused(run, tmp_path):
    path = tmp_path / "scores.parquet"
    pq.write_table(pq.read_table(run / "scores.parquet").replace_schema_metadata(
        {k: v for k, v in pq.read_schema(run / "scores.parquet").metadata.items() if k != b"prunebench.checksum"}),
        path)
    out, log = tmp_path / "subset.parquet", tmp_path / "select.log"
    assert_refused(run_step("select", log, scores_path=str(path), fraction=0.5, out=str(out)), log, path,
                   "no prunebench checksum")
    assert not out.exists()


def test_metadata_changed_after_writing_is_refused(run, tmp_path):
    table = pq.read_table(run / "scores.parquet")
    meta = dict(table.schema.metadata)
    meta[b"keep"] = b'"lowest"'  # the checksum stays the one written for "highest"
    path = tmp_path / "scores.parquet"
    pq.write_table(table.replace_schema_metadata(meta), path, write_page_checksum=True)
    out, log = tmp_path / "subset.parquet", tmp_path / "select.log"
    assert_refused(run_step("select", log, scores_path=str(path), fraction=0.5, out=str(out)), log, path,
                   "do not match its checksum")
    assert not out.exists()


def test_scores_that_are_not_finite_are_refused_at_selection(run, tmp_path):
    table = read_table(run / "scores.parquet")
    scores = table.column("score").to_numpy().copy()
    scores[3] = np.inf
    path = tmp_path / "scores.parquet"
    write_table(table.set_column(2, "score", pa.array(scores)).replace_schema_metadata(None), path,
                table_metadata(table))
    out, log = tmp_path / "subset.parquet", tmp_path / "select.log"
    assert_refused(run_step("select", log, scores_path=str(path), fraction=0.5, out=str(out)), log, path,
                   "1 score values are not finite")
    assert not out.exists()
