"""Streaming from the memory-mapped store: the same training as in memory, resumable; ImageNet-style views."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import kill_after_checkpoint

from prunebench import training
from prunebench.datasets import make_synthetic, open_cache, save_cache
from prunebench.models import build_model
from prunebench.proxy import train_proxy
from prunebench.settings import TrainSettings
from prunebench.target import train_target
from prunebench.training import DeviceData, StreamData, load_data, predict, resized_crop_batch

CPU = torch.device("cpu")


def _data(folder, image_size=28, crop=None):
    folder = Path(folder)
    if not (folder / "meta.json").exists():
        save_cache(make_synthetic(num_classes=4, train_per_class=150, test_per_class=20, image_size=image_size,
                                  seed=0), folder, "synthetic")
    data, _ = open_cache(folder)  # memory-mapped, as the pipeline reads it
    return dataclasses.replace(data, crop_size=crop)


def _proxy(folder, mode, checkpoint=None, image_size=28, crop=None, epochs=3):
    torch.set_num_threads(1)
    data = _data(folder, image_size, crop)
    index = np.arange(len(data.train_labels))
    pool, query = index[index % 10 != 0], index[index % 10 == 0]
    return train_proxy(data, (0.5,), (0.4,), pool, data.train_labels[pool], query, data.train_labels[query],
                       "small_cnn", TrainSettings(epochs=epochs, batch_size=64, augment=True), seed=1, device=CPU,
                       snapshot_epochs=(2,), checkpoint=checkpoint, data_mode=mode)


def _same_runs(a, b):
    for part in ("train", "eval_pool", "eval_query"):
        for name, values in getattr(a, part).items():
            np.testing.assert_array_equal(getattr(b, part)[name], values, err_msg=f"{part}.{name}")
    for epoch, snapshot in a.snapshots.items():
        np.testing.assert_array_equal(b.snapshots[epoch]["embedding"], snapshot["embedding"])


@pytest.mark.parametrize("image_size, crop", [(28, None), (72, 64)])  # CIFAR-style and ImageNet-style views
def test_streamed_and_in_memory_proxy_runs_log_identical_per_sample_signals(tmp_path, image_size, crop):
    streamed = _proxy(tmp_path, "stream", image_size=image_size, crop=crop)
    _same_runs(_proxy(tmp_path, "memory", image_size=image_size, crop=crop), streamed)
    assert streamed.eval_pool["correct"][:, -1].mean() > 0.5  # it learned


def test_streamed_and_in_memory_target_trainings_give_the_same_result(tmp_path):
    data = _data(tmp_path)
    index = np.arange(0, len(data.train_labels), 2)
    results = [train_target(data, (0.5,), (0.4,), index, data.train_labels[index], np.ones(len(index)), "small_cnn",
                            TrainSettings(epochs=2, batch_size=32, augment=True), 0, CPU, data_mode=mode)
               for mode in ("memory", "stream")]
    for result in results:
        result.pop("wall_seconds")
    assert results[0] == results[1]


def test_a_killed_streamed_proxy_resumes_and_matches_an_in_memory_run(tmp_path):
    checkpoint = tmp_path / "checkpoint.pt"
    _data(tmp_path / "data")
    call = f"_proxy({str(tmp_path / 'data')!r}, 'stream', {str(checkpoint)!r}, epochs=6)"
    saved = kill_after_checkpoint("test_streaming", call, checkpoint)
    assert 2 <= saved < 6
    resumed = _proxy(tmp_path / "data", "stream", checkpoint, epochs=6)
    assert resumed.resumed_from >= saved
    _same_runs(_proxy(tmp_path / "data", "memory", epochs=6), resumed)


def test_auto_streams_what_does_not_fit(tmp_path, monkeypatch):
    data = _data(tmp_path)
    rows = np.arange(100)
    assert isinstance(load_data(data.train_images, rows, data.train_labels[rows], (0.5,), (0.4,), CPU), DeviceData)
    monkeypatch.setattr(training, "_host_memory_available", lambda: 3 * 100 * 28 * 28 - 1)  # a byte short
    assert isinstance(load_data(data.train_images, rows, data.train_labels[rows], (0.5,), (0.4,), CPU), StreamData)


def test_a_stream_stopped_early_leaves_no_thread_behind(tmp_path):
    data = _data(tmp_path)
    stream = StreamData(data.train_images, np.arange(600), data.train_labels[:600], (0.5,), (0.4,), CPU)
    batches = stream.batches(torch.arange(600), 10)
    next(batches)
    batches.close()
    import threading
    assert not [t for t in threading.enumerate() if t.name.startswith("stream")]


def test_a_stream_that_fails_to_start_closes_its_file(tmp_path, monkeypatch):
    data = _data(tmp_path)
    stream = StreamData(data.train_images, np.arange(600), data.train_labels[:600], (0.5,), (0.4,), CPU)
    store = str(Path(data.train_images.filename).resolve())

    def open_files():
        return [p for p in Path("/proc/self/fd").iterdir() if p.exists() and str(p.resolve()) == store]

    before = len(open_files())

    def no_memory(*args, **kwargs):
        raise RuntimeError("out of memory")  # as a pinned buffer that cannot be allocated

    monkeypatch.setattr(torch, "empty", no_memory)
    with pytest.raises(RuntimeError, match="out of memory"):
        next(stream.raw_batches(torch.arange(600), 10))
    assert len(open_files()) == before


def test_resized_crops_keep_the_image_at_full_scale_and_flip_half_of_them():
    x = torch.arange(2 * 8 * 8, dtype=torch.float32).view(1, 2, 8, 8).repeat(40, 1, 1, 1)
    out = resized_crop_batch(x, 8, torch.Generator().manual_seed(0), scale=(1, 1), ratio=(1, 1))
    flipped = [torch.allclose(view, x[0].flip(-1), atol=1e-4) for view in out]
    assert all(f or torch.allclose(view, x[0], atol=1e-4) for f, view in zip(flipped, out))
    assert 5 < sum(flipped) < 35
    small = resized_crop_batch(x, 4, torch.Generator().manual_seed(1), scale=(0.25, 0.25), ratio=(1, 1))
    assert small.shape == (40, 2, 4, 4) and len({tuple(v.flatten().tolist()) for v in small}) > 20


def test_evaluation_sees_the_center_crop(tmp_path):
    data = _data(tmp_path, image_size=28)
    model = build_model("small_cnn", 1, 4, 20, seed=0).eval()
    rows = np.arange(8)
    full = DeviceData(data.train_images[rows], data.train_labels[rows], (0.5,), (0.4,), CPU)
    cropped = DeviceData(data.train_images[rows], data.train_labels[rows], (0.5,), (0.4,), CPU, crop_size=20)
    logits, _ = predict(model, cropped)
    x, _ = full.batch(torch.arange(8))
    with torch.no_grad():
        torch.testing.assert_close(logits, model(x[..., 4:24, 4:24]))


def test_bf16_is_ignored_on_the_cpu(tmp_path):
    a = _proxy(tmp_path, "memory", epochs=1)
    settings = TrainSettings(epochs=1, batch_size=64, augment=True, precision="bf16")
    data = _data(tmp_path)
    index = np.arange(len(data.train_labels))
    pool, query = index[index % 10 != 0], index[index % 10 == 0]
    bf16 = train_proxy(data, (0.5,), (0.4,), pool, data.train_labels[pool], query, data.train_labels[query],
                       "small_cnn", settings, seed=1, device=CPU, snapshot_epochs=(), data_mode="memory")
    np.testing.assert_array_equal(bf16.train["loss"], a.train["loss"])
