"""Target training resumes from its epoch checkpoint after a kill, bit-exactly."""


import json
import subprocess
import sys

import numpy as np
import torch
from conftest import kill_after_checkpoint

from prunebench.datasets import make_synthetic
from prunebench.settings import TrainSettings
from prunebench.target import train_target

EPOCHS = 8


def _run_target(checkpoint=None, epochs=EPOCHS, augment=True, eval_every=None):
    torch.set_num_threads(1)
    data = make_synthetic(num_classes=4, train_per_class=400, test_per_class=50, seed=1)
    index = np.arange(0, len(data.train_labels), 2)
    weights = np.where(index % 3 == 0, 2.0, 1.0)  # weighted, so the weights are part of what resumes
    return train_target(data, (0.5,), (0.4,), index, data.train_labels[index], weights, "small_cnn",
                        TrainSettings(epochs=epochs, batch_size=32, augment=augment), seed=5,
                        device=torch.device("cpu"), checkpoint=checkpoint, eval_every=eval_every)


def _same(a: dict, b: dict):
    drop = ("wall_seconds", "resumed_from")
    assert {k: v for k, v in a.items() if k not in drop} == {k: v for k, v in b.items() if k not in drop}


def test_a_killed_target_training_resumes_from_its_checkpoint_and_matches_an_uninterrupted_run(tmp_path):
    checkpoint = tmp_path / "seed0.json.checkpoint.pt"
    saved = kill_after_checkpoint("test_target_resume", f"_run_target({str(checkpoint)!r})", checkpoint)
    assert 2 <= saved < EPOCHS, "the child should be killed mid-run"

    resumed = _run_target(checkpoint)
    assert resumed["resumed_from"] >= saved  # resumed, not restarted
    straight = _run_target()
    assert straight["resumed_from"] == 0
    _same(resumed, straight)
    assert resumed["steps"] == straight["steps"] and resumed["epochs"] == EPOCHS


def test_a_checkpoint_after_the_last_epoch_gives_the_same_result(tmp_path):
    checkpoint = tmp_path / "checkpoint.pt"
    first = _run_target(checkpoint, epochs=2, augment=False)
    again = _run_target(checkpoint, epochs=2, augment=False)  # killed after the last checkpoint, before the write
    assert again["resumed_from"] == 2
    _same(first, again)


def test_a_target_checkpoint_of_other_settings_is_not_resumed(tmp_path):
    checkpoint = tmp_path / "checkpoint.pt"
    _run_target(checkpoint, epochs=2, augment=False)
    assert _run_target(checkpoint, epochs=3, augment=False)["resumed_from"] == 0


def test_the_test_set_is_evaluated_once_unless_asked_and_extra_evaluations_change_nothing_else():
    once = _run_target(epochs=4, augment=False)
    assert once["test_history"] == [[4, once["test_accuracy"]]]
    assert once["test_accuracy_best"] is None and once["best_epoch"] is None  # no epoch chosen on the test set
    curve = _run_target(epochs=4, augment=False, eval_every=3)
    assert [epoch for epoch, _ in curve["test_history"]] == [3, 4]  # every 3 epochs, and the last
    assert curve["test_accuracy_best"] == max(acc for _, acc in curve["test_history"])
    assert curve["best_epoch"] in (3, 4)
    drop = ("test_history", "test_accuracy_best", "best_epoch", "wall_seconds")
    assert {k: v for k, v in curve.items() if k not in drop} == {k: v for k, v in once.items() if k not in drop}


def _train_two_subsets(folder):
    """The target job of one method and seed: both fractions' trainings in one process."""
    from prunebench import pipeline

    torch.set_num_threads(1)
    target = {"epochs": EPOCHS, "batch_size": 32, "augment": True, "eval_every": None}
    pipeline.train_targets(f"{folder}/data", [f"{folder}/0.25.parquet", f"{folder}/0.5.parquet"], target,
                           "small_cnn", [0], "cpu", "small_cnn", [f"{folder}/0.25.json", f"{folder}/0.5.json"],
                           [f"{folder}/split.parquet"])


def _two_subsets(folder):
    """Synthetic data and random subsets at 25% and 50%, selected in one call as the select job does."""
    from prunebench import pipeline

    dataset = {"name": "synthetic", "root": None, "download_root": "data",
               "options": {"num_classes": 4, "train_per_class": 200, "test_per_class": 20}}
    pipeline.prepare_data(dataset, folder / "data")
    pipeline.make_split(folder / "data", {"query_fraction": 0.1, "label_noise": 0.0, "max_samples": None}, 0,
                        folder / "split.parquet")
    pipeline.score("random", {"keep": "highest", "balanced": True}, None, folder / "split.parquet", None, 0,
                   folder / "scores.parquet")
    pipeline.select_each([folder / "scores.parquet"], [0.25, 0.5], [folder / "0.25.parquet", folder / "0.5.parquet"])


def test_a_killed_job_of_several_trainings_resumes_each_from_its_own_checkpoint(tmp_path):
    _two_subsets(tmp_path)
    second = tmp_path / "0.5.json.checkpoint.pt"
    saved = kill_after_checkpoint("test_target_resume", f"_train_two_subsets({str(tmp_path)!r})", second)
    assert 2 <= saved < EPOCHS, "the child should be killed during the second training"
    # the first training finished, and its checkpoint stays until the whole job is done
    assert torch.load(tmp_path / "0.25.json.checkpoint.pt", weights_only=True)["epoch"] == EPOCHS
    (tmp_path / "0.25.json").unlink()  # Snakemake deletes every output of a killed job

    _train_two_subsets(tmp_path)
    first, last = (json.loads((tmp_path / f"{f}.json").read_text()) for f in ("0.25", "0.5"))
    assert first["resumed_from"] == EPOCHS and last["resumed_from"] >= saved  # neither trained again from scratch
    assert not list(tmp_path.glob("*.checkpoint.pt"))
    uninterrupted = tmp_path / "again"
    uninterrupted.mkdir()
    for name in ("data", "split.parquet", "0.25.parquet", "0.5.parquet"):
        (uninterrupted / name).symlink_to(tmp_path / name)
    _train_two_subsets(uninterrupted)
    for f, resumed in (("0.25", first), ("0.5", last)):
        straight = json.loads((uninterrupted / f"{f}.json").read_text())
        assert straight["resumed_from"] == 0 and straight["fraction"] == float(f)
        _same(resumed, straight)


def test_packed_trainings_run_at_once_and_write_the_same_records_as_one_after_another(tmp_path):
    packed, serial = tmp_path / "packed", tmp_path / "serial"
    packed.mkdir(), serial.mkdir()
    _two_subsets(packed)
    for name in ("data", "split.parquet", "0.25.parquet", "0.5.parquet"):
        (serial / name).symlink_to(packed / name)
    target = {"epochs": EPOCHS, "batch_size": 32, "augment": True, "eval_every": None}
    code = (f"from prunebench import pipeline; from prunebench.runtime import run_step; "
            f"run_step(pipeline.train_targets, {str(packed / 'job.log')!r}, 2, data_dir={str(packed / 'data')!r}, "
            f"subset_paths=[{str(packed / '0.25.parquet')!r}, {str(packed / '0.5.parquet')!r}], target={target!r}, "
            f"arch='small_cnn', seeds=[0], device='cpu', proxy_arch='small_cnn', "
            f"outs=[{str(packed / '0.25.json')!r}, {str(packed / '0.5.json')!r}], "
            f"split_paths=[{str(packed / 'split.parquet')!r}], packing=2)")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)  # 2 threads: 1 per training
    log = (packed / "job.log").read_text()
    _train_two_subsets(serial)  # 1 thread, one after another
    for f in ("0.25", "0.5"):
        assert f"random f={f} seed 0: test accuracy" in log  # every worker logs into the job's log
        _same(json.loads((packed / f"{f}.json").read_text()), json.loads((serial / f"{f}.json").read_text()))
    assert not list(packed.glob("*.checkpoint.pt"))
