"""A full disk during a write: one line saying the disk is full and which file, nothing partial left.

Each step runs in its own mount namespace (unshare; no root needed) with its output folder on a small
tmpfs that is filled up first, so the writes fail with the kernel's real ENOSPC.
"""

import shlex
import subprocess
import sys

import pytest
from conftest import TARGET, synthetic_subset_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return synthetic_subset_run(tmp_path_factory.mktemp("diskfull"), 100, 0.1, 0.5)


def on_full_disk(tmp_path, step: str, **kwargs) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run `step` as its workflow script would, with `{full}` in its arguments on a full tmpfs; returns the
    process and what the full folder held afterwards."""
    full = tmp_path / "full"
    kwargs = {k: v.format(full=full) if isinstance(v, str) else v for k, v in kwargs.items()}
    return in_full_folder(tmp_path, f"from prunebench import pipeline; from prunebench.runtime import run_step; "
                                    f"run_step(pipeline.{step}, {str(full / 'step.log')!r}, 1, **{kwargs!r})")


def in_full_folder(tmp_path, code: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run Python `code` with `tmp_path/full` a full tmpfs; returns the process and what the folder held after."""
    full = tmp_path / "full"
    full.mkdir()
    script = (f"mount -t tmpfs -o size=256k tmpfs {shlex.quote(str(full))} && "
              f"(dd if=/dev/zero of={shlex.quote(str(full / 'filler'))} bs=4k 2>/dev/null || true) && "
              f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}; status=$?; "
              f"echo LEFT: $(ls -A {shlex.quote(str(full))}) >&3; exit $status")
    done = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "bash", "-c",
                           f"exec 3>{shlex.quote(str(tmp_path / 'left.txt'))}; {script}"],
                          capture_output=True, text=True, timeout=300)
    left = (tmp_path / "left.txt").read_text().split()[1:]
    return done, left


def assert_one_disk_full_line(done, path):
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"{path}: the disk is full (no space left on device)" in lines[0], lines[0]


def test_a_table_write_on_a_full_disk(run, tmp_path):
    done, left = on_full_disk(tmp_path, "select", scores_path=str(run / "scores.parquet"), fraction=0.5,
                              out="{full}/subset.parquet")
    assert_one_disk_full_line(done, tmp_path / "full" / "subset.parquet")
    assert left == ["filler", "step.log"]  # no subset, no temporary file


def test_a_torch_checkpoint_on_a_full_disk(run, tmp_path):
    """torch.save loses the errno ('basic_ios::clear: iostream error'): the space left tells."""
    done, left = on_full_disk(tmp_path, "train_target", data_dir=str(run / "data"),
                              subset_path=str(run / "subset.parquet"), split_path=str(run / "split.parquet"),
                              target=TARGET, arch="small_cnn", seed=0, device="cpu", proxy_arch="small_cnn",
                              out="{full}/result.json")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if " ERROR " in line]  # after the epoch's INFO line
    assert len(errors) == 1 and f"{tmp_path / 'full' / 'result.json.checkpoint.pt'}: the disk is full (" in errors[0]
    assert left == ["filler", "step.log"]


def test_a_bug_inside_a_write_on_a_nearly_full_disk_keeps_its_own_error(tmp_path):
    done, left = in_full_folder(tmp_path, f"from prunebench.io import atomic_path\n"
                                          f"with atomic_path({str(tmp_path / 'full' / 'out.txt')!r}):\n"
                                          f"    raise ValueError('a bug, not the disk')")
    assert done.returncode == 1
    assert "ValueError: a bug, not the disk" in done.stderr and "disk is full" not in done.stderr
    assert left == ["filler"]
