"""`prunebench compare`: several runs' results tables side by side (the studies whose claim spans runs)."""

import numpy as np
import pandas as pd

from prunebench.__main__ import main
from prunebench.paths import TABLE, TABLE_CSV
from prunebench.results import RESULT_COLUMNS, write_results


def write_run(folder, accuracies):
    """A run's results table: (method, fraction) -> one test accuracy per seed, on small_cnn."""
    rows = [{"dataset": "fashion_mnist", "arch": "small_cnn", "proxy_arch": "small_cnn", "method": method,
             "fraction": fraction, "seed": seed, "test_accuracy": acc, "per_class_accuracy": [acc]}
            for (method, fraction), values in accuracies.items() for seed, acc in enumerate(values)]
    folder.mkdir(parents=True)
    write_results(pd.DataFrame(rows, columns=RESULT_COLUMNS), folder / TABLE, folder / TABLE_CSV)


def test_compare_puts_each_runs_mean_and_std_over_seeds_side_by_side(tmp_path, capsys):
    low, high = tmp_path / "results" / "query-lowest", tmp_path / "results" / "query-highest"
    write_run(low, {("cld", 0.1): [0.70, 0.74], ("random", 0.1): [0.60, 0.61], ("full", 1.0): [0.9, 0.92]})
    write_run(high, {("cld", 0.1): [0.50, 0.56], ("random", 0.1): [0.62, 0.60]})
    out = tmp_path / "side"
    assert main(["compare", str(low), str(high), "--out", str(out)]) == 0
    table = pd.read_csv(out / "comparison.csv").set_index(["run", "method", "fraction"])
    assert list(dict.fromkeys(table.index.get_level_values("run"))) == ["query-lowest", "query-highest"]
    cell = table.loc[("query-highest", "cld", 0.1)]
    assert np.isclose(cell["mean"], 53.0) and np.isclose(cell["std"], 100 * np.std([0.50, 0.56], ddof=1))
    assert cell["seeds"] == 2
    text = (out / "comparison.md").read_text()
    assert "| arch | method | fraction | query-lowest | query-highest |" in text
    assert "| small_cnn | cld | 0.1 | 72.00 ± 2.83 | 53.00 ± 4.24 |" in text
    assert "| small_cnn | full | 1 | 91.00 ± 1.41 | – |" in text  # the highest run has no full-data row
    assert (out / "comparison.png").read_bytes().startswith(b"\x89PNG") and (out / "comparison.svg").exists()


def test_compare_names_a_folder_without_results_in_one_line(tmp_path, capsys):
    write_run(tmp_path / "a", {("cld", 0.1): [0.7]})
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"compare: {tmp_path / 'b'}: no {TABLE} (run its workflow first, or name a run folder such as " \
                  "results/<run_name>)"
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_compare_refuses_two_runs_of_one_name(tmp_path, capsys):
    for folder in (tmp_path / "a", tmp_path / "x" / "a"):
        write_run(folder, {("cld", 0.1): [0.7]})
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "x" / "a"), "--out", str(tmp_path / "out")]) == 1
    assert "have the same name 'a'" in capsys.readouterr().err
