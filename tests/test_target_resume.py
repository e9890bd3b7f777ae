"""Target training resumes from its epoch checkpoint after a kill, bit-exactly."""


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
