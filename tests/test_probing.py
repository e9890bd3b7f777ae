"""Model-probing scores on models whose answers are known in closed form."""

import numpy as np
import torch
from torch import nn

from prunebench.methods.probing import boundary_steps, deepfool_scores, full_gradient_norms, slocurv_scores
from prunebench.models import Classifier
from prunebench.training import DeviceData

CPU = torch.device("cpu")


def pixels_as_inputs(images: np.ndarray, labels: np.ndarray) -> DeviceData:
    """mean 0 and std 1/255: the model sees the raw pixel values."""
    return DeviceData(images.astype(np.uint8), labels, (0.0,), (1 / 255,), CPU)


def linear_model(weight: np.ndarray, bias: np.ndarray) -> Classifier:
    model = Classifier(nn.Flatten(), nn.Linear(weight.shape[1], weight.shape[0]))
    with torch.no_grad():
        model.head.weight.copy_(torch.tensor(weight, dtype=torch.float32))
        model.head.bias.copy_(torch.tensor(bias, dtype=torch.float32))
    return model


def two_class_problem(n=64, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 2, 2, 1))
    w = np.array([[0.02, -0.01, 0.03, 0.0], [-0.01, 0.02, -0.02, 0.01]])
    b = np.array([0.5, -0.3])
    model = linear_model(w, b)
    x = images.reshape(n, -1).astype(np.float64)
    gap = x @ (w[0] - w[1]) + (b[0] - b[1])  # logit difference; the boundary is gap == 0
    distance = np.abs(gap) / np.linalg.norm(w[0] - w[1])
    labels = (gap < 0).astype(np.int64)  # the model's own prediction
    return model, pixels_as_inputs(images, labels), distance


def test_deepfool_finds_the_exact_distance_to_a_linear_boundary():
    model, data, distance = two_class_problem()
    scores = deepfool_scores(model, data, batch_size=16)
    np.testing.assert_allclose(np.sqrt(scores), distance, rtol=1e-3, atol=1e-3)


def test_boundary_steps_count_fixed_steps_to_a_linear_boundary():
    model, data, distance = two_class_problem()
    steps = boundary_steps(model, data, step=5.0, max_steps=1000, batch_size=16)
    np.testing.assert_array_equal(steps, np.floor(distance / 5.0) + 1)
    capped = boundary_steps(model, data, step=5.0, max_steps=3)
    assert capped.max() == 3 and np.array_equal(capped, np.minimum(steps, 3))


def test_slocurv_estimates_the_trace_of_the_squared_input_hessian():
    torch.manual_seed(0)
    model = Classifier(nn.Sequential(nn.Flatten(), nn.Linear(4, 6), nn.Tanh()), nn.Linear(6, 3)).double()
    images = np.random.default_rng(1).integers(0, 256, size=(5, 2, 2, 1))
    labels = np.array([0, 1, 2, 0, 1])
    data = DeviceData(images.astype(np.uint8), labels, (0.5,), (0.25,), CPU)
    exact = []
    for row in range(5):
        x, y = data.batch(torch.tensor([row]))
        hessian = torch.autograd.functional.hessian(
            lambda v, y=y: nn.functional.cross_entropy(model(v.view(1, 1, 2, 2).double()), y), x.double().flatten())
        exact.append(float((hessian @ hessian).trace()))
    estimate = slocurv_scores(model, _double(data), step=1e-5, probes=4000, seed=0)
    np.testing.assert_allclose(estimate, exact, rtol=0.1)


def _double(data: DeviceData) -> DeviceData:
    """The same data, batches in float64, so finite differences are exact to many digits."""
    batch = data.batch
    data.batch = lambda rows: (batch(rows)[0].double(), batch(rows)[1])
    return data


def test_full_gradient_norms_match_per_sample_backward_passes():
    torch.manual_seed(0)
    model = Classifier(nn.Sequential(nn.Flatten(), nn.Linear(4, 5), nn.ReLU()), nn.Linear(5, 3))
    images = np.random.default_rng(2).integers(0, 256, size=(7, 2, 2, 1))
    labels = np.array([0, 1, 2, 0, 1, 2, 0])
    data = DeviceData(images.astype(np.uint8), labels, (0.5,), (0.25,), CPU)
    expected = []
    for row in range(7):
        model.zero_grad()
        x, y = data.batch(torch.tensor([row]))
        nn.functional.cross_entropy(model(x), y).backward()
        expected.append(torch.sqrt(sum(p.grad.pow(2).sum() for p in model.parameters())).item())
    np.testing.assert_allclose(full_gradient_norms(model, data, batch_size=3), expected, rtol=1e-5)
