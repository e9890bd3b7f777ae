"""What the table checksums cost, against the select step they guard.

Usage: python benchmarks/checksum_cost.py [ROWS ...]   (default: 54000, Fashion-MNIST's default pool,
and 1,281,167, ImageNet-1k's training set)

For a score table of ROWS samples (index, label, score; as the score step writes it), prints the median
time of: writing it with and without page checksums, reading it with verification (`io.read_table`:
page CRCs, footer digest) and without (a plain `pyarrow.parquet.read_table`), and one whole in-process
select step (read, check, rank, write a 20% subset). The checksum's share is the extra write and read
time over the select step's time.
"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from prunebench import pipeline
from prunebench.io import read_table, write_table

REPEATS = 7


def median_seconds(work) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(rows: int, folder: Path) -> None:
    rng = np.random.default_rng(0)
    table = pa.table({"index": pa.array(np.sort(rng.choice(rows * 11 // 10, rows, replace=False)), pa.int64()),
                      "label": pa.array(rng.integers(0, 10, rows), pa.int64()),
                      "score": pa.array(rng.standard_normal(rows))})
    meta = {"method": "el2n", "keep": "highest", "balanced": True, "seed": 0, "params": {}, "signals": []}
    path = folder / f"scores_{rows}.parquet"
    write_table(table, path, meta)
    plain = folder / "plain.parquet"
    dictionary = ["index", "label"]
    write_on = median_seconds(lambda: write_table(table, folder / "w.parquet", meta))
    write_off = median_seconds(lambda: pq.write_table(table, plain, compression="zstd", use_dictionary=dictionary))
    read_on = median_seconds(lambda: read_table(path, required=("index", "label", "score")))
    read_off = median_seconds(lambda: pq.read_table(plain))
    select = median_seconds(lambda: pipeline.select(path, 0.2, folder / "subset.parquet"))
    extra = max(write_on - write_off, 0) + max(read_on - read_off, 0)
    print(f"{rows:>9,} rows: write {write_off * 1e3:7.2f} -> {write_on * 1e3:7.2f} ms, read {read_off * 1e3:7.2f} "
          f"-> {read_on * 1e3:7.2f} ms, select step {select * 1e3:8.2f} ms; checksums {extra * 1e3:6.2f} ms = "
          f"{100 * extra / select:4.1f}% of the step (in-process, without the ~1 s process start of a job)")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(a) for a in sys.argv[1:]] or [54_000, 1_281_167]:
            main(n, Path(tmp))
