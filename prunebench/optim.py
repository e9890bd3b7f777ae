"""SGD with momentum, weight decay and Nesterov, the learning rate given at each step.

Our own rather than torch.optim.SGD because constructing any torch.optim optimizer imports
torch._dynamo (about a second of CPU in every training process, measured: 1.0-1.8 s, more
than a 1% target training takes on the CPU). The update is the same arithmetic, in the same
order, as torch.optim.SGD's, so a training is bit-identical to one with torch.optim.SGD and
LambdaLR (tests/test_optim.py holds it to that).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


class SGD:
    """Stochastic gradient descent over `params`; the schedule lives with the caller, who passes `lr` to step().

    momentum: the heavy-ball coefficient (0 for plain SGD).
    weight_decay: L2 penalty, its gradient added before momentum (torch.optim.SGD's weight decay).
    nesterov: Nesterov momentum (needs momentum > 0).
    """

    def __init__(self, params: Iterable[torch.nn.Parameter], momentum: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False):
        if nesterov and momentum <= 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.params = list(params)
        self.momentum, self.weight_decay, self.nesterov = momentum, weight_decay, nesterov
        self.buffers: list[torch.Tensor | None] = [None] * len(self.params)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self, lr: float) -> None:
        """One update with learning rate `lr`; parameters without a gradient are left alone, as torch's are.
        Batched (foreach) ops: on a GPU one launch per op for all parameters; on the CPU the same per-tensor ops."""
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        params = [self.params[i] for i in live]
        grads = [p.grad for p in params]
        if self.weight_decay:
            grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
        if self.momentum:
            kept = [k for k, i in enumerate(live) if self.buffers[i] is not None]
            if kept:
                bufs = [self.buffers[live[k]] for k in kept]
                torch._foreach_mul_(bufs, self.momentum)
                torch._foreach_add_(bufs, [grads[k] for k in kept])
            for k, i in enumerate(live):
                if self.buffers[i] is None:  # the first step's buffer is the gradient itself
                    self.buffers[i] = grads[k].clone().detach()
            bufs = [self.buffers[i] for i in live]
            grads = torch._foreach_add(grads, bufs, alpha=self.momentum) if self.nesterov else bufs
        torch._foreach_add_(params, grads, alpha=-lr)

    def state_dict(self) -> dict:
        return {"momentum_buffers": list(self.buffers)}

    def load_state_dict(self, state: dict) -> None:
        buffers = state["momentum_buffers"]
        if len(buffers) != len(self.params):
            raise ValueError(f"optimizer state has {len(buffers)} buffers for {len(self.params)} parameters")
        self.buffers = [None if b is None else b.to(p.device) for b, p in zip(buffers, self.params)]
