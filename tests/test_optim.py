"""Our SGD: the same trainings as torch.optim.SGD with LambdaLR, bit for bit (test_models: without torch._dynamo)."""

import math

import pytest
import torch

from prunebench.models import build_model
from prunebench.optim import SGD


def _factor(step: int) -> float:
    return 0.5 * (1 + math.cos(math.pi * min(step, 8) / 8))


def _train(model, update, steps=8, skip=0):
    """`steps` updates on seeded random batches, after skipping the first `skip` of them."""
    generator = torch.Generator().manual_seed(1)
    for i in range(skip + steps):
        x, y = torch.randn(16, 1, 28, 28, generator=generator), torch.randint(0, 10, (16,), generator=generator)
        if i >= skip:
            update(lambda x=x, y=y: torch.nn.functional.cross_entropy(model(x), y).backward())


@pytest.mark.parametrize("momentum, weight_decay, nesterov", [(0.9, 5e-4, True), (0.9, 5e-4, False),
                                                              (0.0, 1e-3, False), (0.9, 0.0, True)])
def test_trains_bit_identically_to_torch_sgd_with_lambdalr(momentum, weight_decay, nesterov):
    ours, theirs = (build_model("small_cnn", 1, 10, 28, seed=0) for _ in range(2))
    for model in (ours, theirs):  # a parameter without a gradient is left alone by both
        model.unused = torch.nn.Parameter(torch.ones(3))

    reference = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=momentum, weight_decay=weight_decay,
                                nesterov=nesterov)
    schedule = torch.optim.lr_scheduler.LambdaLR(reference, _factor)

    def torch_update(backward):
        reference.zero_grad(set_to_none=True)
        backward()
        reference.step()
        schedule.step()

    sgd, steps = SGD(ours.parameters(), momentum=momentum, weight_decay=weight_decay, nesterov=nesterov), [0]

    def our_update(backward):
        sgd.zero_grad()
        backward()
        sgd.step(lr=0.1 * _factor(steps[0]))
        steps[0] += 1

    _train(theirs, torch_update)
    _train(ours, our_update)
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert torch.equal(a, b), name
    assert torch.equal(ours.unused, torch.ones(3))


def test_a_restored_state_continues_exactly_as_an_uninterrupted_run():
    whole, split = (build_model("small_cnn", 1, 10, 28, seed=0) for _ in range(2))
    sgd = SGD(whole.parameters(), momentum=0.9, weight_decay=5e-4, nesterov=True)
    _train(whole, lambda backward: (sgd.zero_grad(), backward(), sgd.step(lr=0.05)), steps=6)

    first = SGD(split.parameters(), momentum=0.9, weight_decay=5e-4, nesterov=True)
    _train(split, lambda backward: (first.zero_grad(), backward(), first.step(lr=0.05)), steps=3)
    second = SGD(split.parameters(), momentum=0.9, weight_decay=5e-4, nesterov=True)
    second.load_state_dict(first.state_dict())
    _train(split, lambda backward: (second.zero_grad(), backward(), second.step(lr=0.05)), steps=3, skip=3)
    for a, b in zip(whole.parameters(), split.parameters()):
        assert torch.equal(a, b)


def test_a_state_for_another_model_is_refused():
    sgd = SGD(torch.nn.Linear(2, 2).parameters(), momentum=0.9)
    with pytest.raises(ValueError, match="2 buffers for 4 parameters"):
        SGD(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)).parameters()).load_state_dict(
            sgd.state_dict())

