"""Share of exactly tied scores in score tables: a tie is broken by dataset index, not by the method.

Usage: python benchmarks/tied_scores.py SCORES.parquet... [--against OTHER_DIR --fraction 0.2
       --split SPLIT.parquet --proxy PROXY_DIR (for methods that sample with signals: CRAIG's weights)]
Prints, per file, the share of pool samples whose score equals another sample's of the same class
(selection is per class for balanced methods) and over the whole pool; with --against, the overlap
of the top-`fraction` subsets with the same method's table in OTHER_DIR/<method>/seed<N>.parquet.
The tables are trusted, so they are read with plain pyarrow: those written before score files carried
prunebench's checksum (82ac49f) count too.
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from prunebench import pipeline
from prunebench.io import read_table, write_table


def tied_share(values: np.ndarray) -> float:
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    return float((counts[inverse] > 1).mean())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scores", nargs="+", type=Path)
    parser.add_argument("--against", type=Path)
    parser.add_argument("--fraction", type=float, default=0.2)
    parser.add_argument("--split", type=Path)
    parser.add_argument("--proxy", type=Path)
    args = parser.parse_args()
    print(f"{'file':55s} {'tied in class':>14s} {'tied in pool':>13s}" + ("  overlap" if args.against else ""))
    for path in args.scores:
        frame = pq.read_table(path).to_pandas()
        in_class = float(np.mean(frame.groupby("label")["score"].transform(
            lambda s: s.map(s.value_counts()) > 1)))
        line = f"{str(path)[-55:]:55s} {in_class:14.4f} {tied_share(frame['score'].to_numpy()):13.4f}"
        if args.against:
            other = args.against / path.parent.name / path.name
            with tempfile.TemporaryDirectory() as tmp:
                subsets = []
                for scores in (path, other):
                    out, stamped = Path(tmp) / f"{len(subsets)}.parquet", Path(tmp) / "scores.parquet"
                    write_table(pq.read_table(scores), stamped)  # with the checksum the select step asks for
                    pipeline.select(stamped, args.fraction, out, args.split, args.proxy)
                    subsets.append(set(read_table(out).column("index").to_pylist()))
            line += f"  {len(subsets[0] & subsets[1]) / len(subsets[0]):7.3f}"
        print(line)


if __name__ == "__main__":
    main()
