"""The architectures' builders, one function per name in prunebench.archs.ARCHS. Every model splits into
`features` (the penultimate embedding) and `head`.

The ResNets, VGG and DenseNet are torchvision's own. Inputs of LARGE_IMAGE pixels and up keep
torchvision's ImageNet stem; smaller ones get the CIFAR stem (3x3 stride-1 first convolution,
no max-pool) of DeepCore's and CLD's CIFAR models.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn

from .archs import builder

LARGE_IMAGE = 64  # inputs this size and up are ImageNet-style: ImageNet stem, random-resized-crop augmentation


class Classifier(nn.Module):
    """features(x) -> embedding h; head(h) -> logits. forward is head(features(x))."""

    def __init__(self, features: nn.Module, head: nn.Linear):
        super().__init__()
        self.features = features
        self.head = head
        self.embedding_dim = head.in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class GlobalAveragePool(nn.Module):
    """Mean over space; unlike AdaptiveAvgPool2d its CUDA backward is deterministic."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


class AveragePoolTo(nn.Module):
    """AdaptiveAvgPool2d(size) written as two matrix products, whose CUDA backward is deterministic."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def _matrix(self, n: int, like: torch.Tensor) -> torch.Tensor:
        rows = torch.zeros(self.size, n, dtype=like.dtype, device=like.device)
        for i in range(self.size):  # the bins AdaptiveAvgPool2d uses: [floor(i n / s), ceil((i + 1) n / s))
            start, end = (i * n) // self.size, -((-(i + 1) * n) // self.size)
            rows[i, start:end] = 1.0 / (end - start)
        return rows

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] == (self.size, self.size):
            return x
        return self._matrix(x.shape[-2], x) @ x @ self._matrix(x.shape[-1], x).T


def conv_bn(c_in: int, c_out: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


def small_cnn(in_channels: int, num_classes: int, image_size: int, width: int = 16,
              embedding_dim: int = 128) -> Classifier:
    """Two stride-2 convolutions and a hidden layer: ~91.5% on Fashion-MNIST after 8 epochs, ~2 s/epoch on 2 CPU cores.

    Stride-2 convolutions keep full-resolution work small (see reference/performance.md).
    """
    side = (image_size + 3) // 4
    features = nn.Sequential(
        conv_bn(in_channels, width, kernel=5, stride=2),
        conv_bn(width, 2 * width, kernel=3, stride=2),
        nn.Flatten(),
        nn.Linear(2 * width * side * side, embedding_dim),
        nn.ReLU(inplace=True),
    )
    return Classifier(features, nn.Linear(embedding_dim, num_classes))


def _stem_conv(conv: nn.Conv2d, in_channels: int, small: bool, mode: str) -> nn.Conv2d:
    """torchvision's first convolution, or the CIFAR stem's 3x3 stride-1 one, for `in_channels` inputs."""
    if not small and in_channels == conv.in_channels:
        return conv
    kernel, stride, padding = (3, 1, 1) if small else (conv.kernel_size, conv.stride, conv.padding)
    new = nn.Conv2d(in_channels, conv.out_channels, kernel, stride, padding, bias=False)
    nn.init.kaiming_normal_(new.weight, mode=mode, nonlinearity="relu")  # as torchvision initialises its own
    return new


def _torchvision(name: str) -> Callable[..., nn.Module]:
    """torchvision's builder of model `name`, imported when a model is built: importing torchvision
    takes about a second, which every job that trains small_cnn would pay."""
    import torchvision.models

    return getattr(torchvision.models, name)


def _resnet(name: str) -> Callable[[int, int, int], Classifier]:
    def build(in_channels: int, num_classes: int, image_size: int) -> Classifier:
        net = _torchvision(name)(num_classes=num_classes)
        small = image_size < LARGE_IMAGE
        features = nn.Sequential(OrderedDict(
            conv1=_stem_conv(net.conv1, in_channels, small, "fan_out"), bn1=net.bn1, relu=net.relu,
            maxpool=nn.Identity() if small else net.maxpool,
            layer1=net.layer1, layer2=net.layer2, layer3=net.layer3, layer4=net.layer4,
            pool=GlobalAveragePool()))
        return Classifier(features, net.fc)
    build.__doc__ = f"torchvision's {name}, with the CIFAR stem below {LARGE_IMAGE} px."
    return build


resnet18 = _resnet("resnet18")
resnet34 = _resnet("resnet34")
resnet50 = _resnet("resnet50")


def vgg19_bn(in_channels: int, num_classes: int, image_size: int) -> Classifier:
    """torchvision's VGG-19 with BatchNorm; below LARGE_IMAGE px the CIFAR form (one linear layer on the
    512 pooled channels, as DeepCore's VGG), else torchvision's 7x7 pooling and 4096-wide classifier."""
    net = _torchvision("vgg19_bn")(num_classes=num_classes)
    net.features[0] = _stem_conv(net.features[0], in_channels, False, "fan_out")  # 3x3 stride 1 already
    if image_size < LARGE_IMAGE:
        head = nn.Linear(512, num_classes)
        nn.init.normal_(head.weight, 0, 0.01)  # torchvision's initialisation of VGG's linear layers
        nn.init.zeros_(head.bias)
        return Classifier(nn.Sequential(OrderedDict(body=net.features, pool=GlobalAveragePool())), head)
    features = nn.Sequential(OrderedDict(body=net.features, pool=AveragePoolTo(7), flatten=nn.Flatten(),
                                         classifier=net.classifier[:-1]))
    return Classifier(features, net.classifier[-1])


def densenet121(in_channels: int, num_classes: int, image_size: int) -> Classifier:
    """torchvision's DenseNet-121, with the CIFAR stem below LARGE_IMAGE px."""
    net = _torchvision("densenet121")(num_classes=num_classes)
    small = image_size < LARGE_IMAGE
    net.features.conv0 = _stem_conv(net.features.conv0, in_channels, small, "fan_in")
    if small:
        net.features.pool0 = nn.Identity()
    features = nn.Sequential(OrderedDict(body=net.features, relu=nn.ReLU(inplace=True), pool=GlobalAveragePool()))
    return Classifier(features, net.classifier)


def build_model(arch: str, in_channels: int, num_classes: int, image_size: int, seed: int) -> Classifier:
    """A freshly initialised model of architecture `arch` (see prunebench.archs); `seed` fixes the initialisation."""
    build = builder(arch)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build(in_channels, num_classes, image_size)
