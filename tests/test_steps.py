"""Pipeline steps called as the workflow scripts call them: bad input fails in one line, leaves nothing."""

import subprocess
import sys

import numpy as np
import pytest

from prunebench import pipeline
from prunebench.io import DataError, read_table, table_metadata


def test_a_damaged_parquet_fails_with_one_line_naming_the_file(tmp_path):
    scores = tmp_path / "scores.parquet"
    scores.write_bytes(b"PAR1 not really parquet")
    out = tmp_path / "subset.parquet"
    log = tmp_path / "select.log"
    code = ("from prunebench import pipeline; from prunebench.runtime import run_step; "
            f"run_step(pipeline.select, {str(log)!r}, 1, scores_path={str(scores)!r}, fraction=0.5, out={str(out)!r})")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"ERROR select: {scores}: not a readable Parquet file" in lines[0]
    assert log.read_text() == done.stderr  # the rule's log holds the same line
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["scores.parquet", "select.log"]


def test_synthetic_steps_from_data_to_subset(tmp_path):
    """prepare -> split -> score -> select on the synthetic dataset, no training needed for random."""
    dataset = {"name": "synthetic", "root": None, "download_root": "data",
               "options": {"num_classes": 3, "train_per_class": 50, "test_per_class": 5}}
    pipeline.prepare_data(dataset, tmp_path / "data")
    pipeline.make_split(tmp_path / "data", {"query_fraction": 0.2, "label_noise": 0.0, "max_samples": None}, 0,
                        tmp_path / "split.parquet")
    params = {"keep": "highest", "balanced": True}
    pipeline.score("random", params, None, tmp_path / "split.parquet", None, 0, tmp_path / "scores.parquet")
    pipeline.select(tmp_path / "scores.parquet", 0.25, tmp_path / "subset.parquet")
    subset = read_table(tmp_path / "subset.parquet")
    assert np.bincount(subset.column("label").to_numpy()).tolist() == [10, 10, 10]
    assert table_metadata(subset)["k"] == 30
    with pytest.raises(DataError, match="file not found"):
        pipeline.select(tmp_path / "nope.parquet", 0.25, tmp_path / "other.parquet")
