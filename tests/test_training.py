"""The trainer: logged signals, budgets, weights, augmentation, and resuming a killed proxy run."""


import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import kill_after_checkpoint

from prunebench.datasets import make_synthetic
from prunebench.models import build_model
from prunebench.proxy import train_proxy
from prunebench.settings import TrainSettings
from prunebench.training import DeviceData, Trainer, augment_batch, per_sample_signals, resolve_device


def test_per_sample_signals_match_their_definitions():
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 1.0, 1.0]])
    labels = torch.tensor([0, 2, 1])
    signals = per_sample_signals(logits, labels)
    torch.testing.assert_close(signals["loss"], F.cross_entropy(logits, labels, reduction="none"))
    torch.testing.assert_close(signals["p_true"], torch.softmax(logits, 1)[torch.arange(3), labels])
    torch.testing.assert_close(signals["margin"], torch.tensor([1.0, -2.0, 0.0]))
    assert signals["correct"].tolist() == [1, 0, 0]  # in a three-way tie argmax picks class 0, not label 1


def test_step_budget_and_schedules():
    s = TrainSettings(epochs=3, batch_size=10)
    assert s.total_steps(95) == 30 and s.num_epochs(95) == 3
    steps = TrainSettings(budget="steps", steps=25, batch_size=10)
    assert steps.num_epochs(95) == 3  # 10 + 10 + 5 steps
    model = torch.nn.Linear(4, 2)
    trainer = Trainer(model, TrainSettings(epochs=2, batch_size=5, schedule="multistep", milestones=(1,), lr=1.0),
                      n_train=10, seed=0)
    assert trainer._lr_factor(1) == 1.0 and trainer._lr_factor(2) == pytest.approx(0.1)
    cosine = Trainer(model, TrainSettings(epochs=2, batch_size=5), n_train=10, seed=0)
    assert cosine._lr_factor(0) == 1.0 and cosine._lr_factor(4) == pytest.approx(0.0)


def _tiny(n_per_class=40, seed=0):
    data = make_synthetic(num_classes=4, train_per_class=n_per_class, test_per_class=10, seed=seed)
    return data, DeviceData(data.train_images, data.train_labels, (0.5,), (0.4,), torch.device("cpu"))


def test_fixed_steps_budget_stops_exactly():
    _, device_data = _tiny()
    model = build_model("small_cnn", 1, 4, 28, seed=0)
    trainer = Trainer(model, TrainSettings(budget="steps", steps=7, batch_size=32), len(device_data), seed=0)
    for epoch in range(TrainSettings(budget="steps", steps=7, batch_size=32).num_epochs(len(device_data))):
        trainer.train_epoch(device_data, epoch)
    assert trainer.step == 7


def _linear_step(images, labels, weights):
    """One full-batch SGD step of a linear model (no BatchNorm, so absent samples cannot leak in)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 28, 4))
    data = DeviceData(images, labels, (0.5,), (0.4,), torch.device("cpu"))
    settings = TrainSettings(epochs=1, batch_size=len(labels), lr=0.5, momentum=0.0, nesterov=False)
    trainer = Trainer(model, settings, len(labels), 0)
    trainer.train_epoch(data, 0, weights=weights)
    return model[1].weight.detach()


def test_weighted_loss_is_sum_of_w_loss_over_sum_of_w():
    data = make_synthetic(num_classes=4, train_per_class=8, test_per_class=1)
    images, labels = data.train_images, data.train_labels
    keep = labels < 2
    zero_one = torch.as_tensor(keep, dtype=torch.float32)
    # weight 0 removes a sample; any constant weight is the plain mean
    torch.testing.assert_close(_linear_step(images, labels, zero_one), _linear_step(images[keep], labels[keep], None))
    torch.testing.assert_close(_linear_step(images, labels, 3 * torch.ones(len(labels))),
                               _linear_step(images, labels, None))
    doubled = torch.ones(len(labels))
    doubled[0] = 2.0  # weight 2 counts a sample twice
    twice = np.concatenate([[0], np.arange(len(labels))])
    torch.testing.assert_close(_linear_step(images, labels, doubled), _linear_step(images[twice], labels[twice], None))


def test_in_training_logging_sees_every_sample_once_per_epoch():
    _, device_data = _tiny()
    model = build_model("small_cnn", 1, 4, 28, seed=0)
    trainer = Trainer(model, TrainSettings(epochs=1, batch_size=24), len(device_data), seed=0)
    seen = []
    trainer.train_epoch(device_data, 0, on_batch=lambda rows, logits, y, loss: seen.append(rows.clone()))
    assert sorted(torch.cat(seen).tolist()) == list(range(len(device_data)))


def test_augmentation_is_a_random_flip_and_reflect_padded_translation_per_image():
    image = torch.arange(8 * 8, dtype=torch.float32).view(1, 1, 8, 8)
    out = augment_batch(image.repeat(64, 1, 1, 1), torch.Generator().manual_seed(0), pad=2)
    candidates = {}
    for flip in (False, True):
        padded = F.pad(image.flip(-1) if flip else image, (2, 2, 2, 2), mode="reflect")[0]
        for dy in range(5):
            for dx in range(5):
                candidates[(flip, dy, dx)] = padded[:, dy:dy + 8, dx:dx + 8]
    used = set()
    for view in out:
        match = [key for key, crop in candidates.items() if torch.equal(view, crop)]
        assert match, "every view is one flip + shift of the original"
        used.add(match[0])
    assert len(used) > 10 and {key[0] for key in used} == {False, True}


def test_an_unavailable_device_is_refused_in_one_line(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="device 'cuda:1' was requested but is not available here"):
        resolve_device("cuda:1")


def test_auto_device_falls_back_to_cpu_when_cuda_is_promised_but_absent(monkeypatch, caplog):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with caplog.at_level("WARNING"):
        assert resolve_device("auto").type == "cpu"
    assert "CUDA_VISIBLE_DEVICES=0 but CUDA is not usable here; running on the CPU" in caplog.text


PROXY_ARGS = dict(arch="small_cnn", seed=3, device=torch.device("cpu"), snapshot_epochs=(2,), log_kl_shift=True)


def _proxy_inputs():
    data = make_synthetic(num_classes=4, train_per_class=600, test_per_class=10, seed=0)
    index = np.arange(len(data.train_labels))
    pool, query = index[index % 10 != 0], index[index % 10 == 0]
    return data, pool, query


def _run_proxy(checkpoint=None, epochs=6):
    torch.set_num_threads(1)
    data, pool, query = _proxy_inputs()
    return train_proxy(data, (0.5,), (0.4,), pool, data.train_labels[pool], query, data.train_labels[query],
                       settings=TrainSettings(epochs=epochs, batch_size=64), checkpoint=checkpoint, **PROXY_ARGS)


def test_proxy_logs_every_signal_for_every_sample_and_epoch():
    run = _run_proxy(epochs=3)
    assert run.train["loss"].shape == (len(run.pool_index), 3)
    assert run.eval_query["loss"].shape == (len(run.query_index), 3)
    assert set(run.snapshots) == {2, 3}
    assert run.snapshots[3]["logits"].shape == (len(run.pool_index) + len(run.query_index), 4)
    for part in (run.train, run.eval_pool, run.eval_query):  # every sample was written in every epoch
        assert not any(np.isnan(part[name]).any() for name in ("loss", "p_true", "margin"))
        assert set(np.unique(part["correct"])) <= {0, 1}
    assert np.isnan(run.train["kl_shift"][:, 0]).all() and (run.train["kl_shift"][:, 1:] >= 0).all()
    assert run.eval_pool["correct"][:, -1].mean() > 0.9  # the synthetic task is learnable
    np.testing.assert_allclose(run.eval_pool["p_true"], np.exp(-run.eval_pool["loss"]), rtol=1e-5)


def test_a_killed_proxy_resumes_from_its_checkpoint_and_matches_an_uninterrupted_run(tmp_path):
    checkpoint = tmp_path / "checkpoint.pt"
    saved = kill_after_checkpoint("test_training", f"_run_proxy({str(checkpoint)!r})", checkpoint)
    assert 2 <= saved < 6, "the child should be killed mid-run, after the epoch-2 snapshot"

    resumed = _run_proxy(checkpoint)
    assert resumed.resumed_from >= saved
    straight = _run_proxy()
    for part in ("train", "eval_pool", "eval_query"):
        for name, values in getattr(straight, part).items():
            np.testing.assert_array_equal(getattr(resumed, part)[name], values, err_msg=f"{part}.{name}")
    for key, tensor in straight.models[6].items():
        assert torch.equal(resumed.models[6][key], tensor), key
    np.testing.assert_array_equal(resumed.snapshots[2]["embedding"], straight.snapshots[2]["embedding"])


def test_a_checkpoint_of_other_settings_is_not_resumed(tmp_path):
    checkpoint = tmp_path / "checkpoint.pt"
    _run_proxy(checkpoint, epochs=2)
    assert _run_proxy(checkpoint, epochs=3).resumed_from == 0  # other epochs: afresh
    assert _run_proxy(checkpoint, epochs=3).resumed_from == 3  # its own checkpoint: resumed (nothing left to do)


@pytest.mark.parametrize("shape", [(3, 32), (1, 28)])
def test_models_split_into_features_and_head(shape):
    channels, size = shape
    x = torch.randn(2, channels, size, size)
    for arch, dim in (("small_cnn", 128), ("resnet18", 512)):
        model = build_model(arch, channels, 10, size, seed=0).eval()
        assert model.features(x).shape == (2, dim)
        assert model(x).shape == (2, 10)
    a, b = build_model("small_cnn", 1, 10, 28, seed=5), build_model("small_cnn", 1, 10, 28, seed=5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
