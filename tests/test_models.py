"""Architectures: torchvision's models with the stem chosen from the image size, split into features and head."""

import subprocess
import sys

import pytest
import torch
from conftest import SMOKE, snakemake
from torch import nn

from prunebench.archs import ARCHS, register_arch
from prunebench.models import AveragePoolTo, build_model


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_every_arch_trains_a_step_at_32_and_64_px(arch, size):
    torch.manual_seed(0)
    model = build_model(arch, 3, 7, size, seed=0)
    x, y = torch.randn(2, 3, size, size), torch.tensor([1, 6])
    h = model.features(x)
    assert h.shape == (2, model.embedding_dim)
    logits = model.head(h)
    assert logits.shape == (2, 7)
    torch.nn.functional.cross_entropy(logits, y).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), model.head(model.features(x)))


def _first_conv(model):
    return next(m for m in model.modules() if isinstance(m, nn.Conv2d))


@pytest.mark.parametrize("arch", ["resnet18", "resnet50", "densenet121"])
def test_small_images_get_the_cifar_stem_and_large_ones_the_imagenet_stem(arch):
    small, large = build_model(arch, 1, 10, 32, 0), build_model(arch, 1, 10, 64, 0)
    assert (_first_conv(small).kernel_size, _first_conv(small).stride, _first_conv(small).in_channels) == \
        ((3, 3), (1, 1), 1)
    assert (_first_conv(large).kernel_size, _first_conv(large).stride) == ((7, 7), (2, 2))
    assert not any(isinstance(m, nn.MaxPool2d) for m in small.features[:5].modules())
    assert any(isinstance(m, nn.MaxPool2d) for m in large.modules())


def test_cifar_resnet18_keeps_the_hand_written_models_shape():
    # the counts of the ResNet-18 prunebench wrote by hand before using torchvision's (DeepCore's ResNet_32x32)
    for channels, classes, params in ((3, 10, 11_173_962), (3, 100, 11_220_132), (1, 10, 11_172_810)):
        model = build_model("resnet18", channels, classes, 32, seed=0)
        assert sum(p.numel() for p in model.parameters()) == params
        assert sum(b.numel() for b in model.buffers()) == 9_620
        assert model.features(torch.zeros(2, channels, 32, 32)).shape == (2, 512)


def test_the_seed_fixes_the_initialisation():
    a, b, c = (build_model("resnet18", 3, 10, 32, seed=s) for s in (1, 1, 2))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.head.weight, c.head.weight)


def test_average_pool_to_matches_adaptive_average_pooling():
    for side in (2, 5, 7, 9):
        x = torch.randn(2, 3, side, side)
        torch.testing.assert_close(AveragePoolTo(7)(x), nn.AdaptiveAvgPool2d(7)(x))


@pytest.mark.parametrize("name", ["../x", "a.b", "ResNet", "", "9net"])
def test_every_registry_refuses_a_name_that_cannot_be_a_path_segment(name):
    from prunebench.datasets import DATASETS, register_dataset
    from prunebench.methods.registry import REGISTRY, method
    for register in (register_arch(name), register_dataset(name, (0.5,), (0.5,)), method(name, family="x", paper="")):
        with pytest.raises(ValueError, match="must be lower-case letters, digits and _"):
            register(lambda *args: None)
    assert name not in ARCHS and name not in DATASETS and name not in REGISTRY


def test_registry_refuses_a_second_entry_and_names_the_known_ones():
    with pytest.raises(ValueError, match="already registered"):
        register_arch("resnet18")(lambda *args: None)
    with pytest.raises(KeyError, match="unknown architecture 'resnet7'; known: small_cnn, resnet18"):
        build_model("resnet7", 3, 10, 32, 0)


def test_a_small_cnn_training_process_imports_neither_torchvision_nor_the_compiler():
    """torchvision is imported when one of its models is built, and torch's compiler never, not even by the
    optimiser (about a second each in every training job); kernels are deterministic all the same."""
    code = ("import sys, numpy as np, torch; from prunebench import pipeline, target; "
            "from prunebench.models import build_model; from prunebench.settings import TrainSettings; "
            "from prunebench.training import DeviceData, Trainer, resolve_device; device = resolve_device('cpu'); "
            "model = build_model('small_cnn', 1, 10, 28, 0); "
            "data = DeviceData(np.zeros((8, 28, 28, 1), np.uint8), np.arange(8), (0.5,), (0.4,), device); "
            "trainer = Trainer(model, TrainSettings(epochs=1, batch_size=4), 8, 0); trainer.train_epoch(data, 0); "
            "print(trainer.step, torch.are_deterministic_algorithms_enabled(), "
            "torch.is_deterministic_algorithms_warn_only_enabled(), 'torch._dynamo' in sys.modules, "
            "'torchvision' in sys.modules); "
            "build_model('resnet18', 1, 10, 28, 0); print('torchvision' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["2", "True", "True", "False", "False", "True"]


def test_parsing_the_workflow_imports_no_torch(tmp_path):
    """Snakemake parses the workflow in every process it starts, on a cluster in every job again: checking the
    config's architectures and digesting their builders' code must not import torch (1-2 s each time)."""
    done = snakemake(tmp_path, "--configfile", str(SMOKE), "-n", env={"PYTHONPROFILEIMPORTTIME": "1"})
    imported = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert {"snakemake", "prunebench.archs", "prunebench.codehash"} <= imported  # the parse ran, and was profiled
    assert not {name for name in imported if name.split(".")[0] in ("torch", "torchvision")}
