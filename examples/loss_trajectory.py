"""A plugin method: the slope of each sample's loss over training (not built into prunebench).

A sample the proxy learns steadily has a falling loss; a mislabeled or ambiguous one has a
flat or rising loss. The score is the least-squares slope of the post-epoch eval loss against
the epoch, negated, so keeping the highest keeps the samples the model learns fastest.

Load it with `plugins: [loss_trajectory]` in a config (this file in the folder the workflow
runs in, or anywhere on the Python path); see examples/README.md.
"""

import numpy as np

from prunebench.methods import Param, method


def loss_slopes(loss: np.ndarray) -> np.ndarray:
    """Least-squares slope of each row of `loss` (N, T) against 0..T-1, in float64."""
    t = np.arange(loss.shape[1], dtype=np.float64)
    t -= t.mean()
    centred = loss - loss.mean(axis=1, keepdims=True, dtype=np.float64)
    return centred @ t / (t @ t)


@method(
    "loss_slope",
    family="training dynamics",
    paper="example plugin (examples/loss_trajectory.py)",
    signals=("eval.loss",),  # the post-epoch eval pass: the workflow gives this method dynamics_eval.parquet
    keep="highest",
    balanced=True,
    difficulty=True,  # CCS and D2-Pruning may stratify by it: `method_params: {ccs: {score: loss_slope}}`
    requires=lambda plan: None if plan.epochs >= 2 else f"needs 2 logged proxy epochs, proxy.epochs is {plan.epochs}",
    parameters={
        "epochs": Param.integer(0, "first epochs fitted (0: every logged epoch)", 0, lambda p, plan: plan.epochs),
        "scale": Param.choice("raw", "'raw' slope, or 'relative' to the first epoch's loss", ("raw", "relative")),
    },
    check=lambda p, plan: ["epochs=1 fits no slope: use 0 (all epochs) or at least 2"] * (p["epochs"] == 1),
)
def loss_slope(signals, params, seed, plan):
    loss = signals.eval("loss")  # (pool samples, epochs)
    if params["epochs"]:
        loss = loss[:, : params["epochs"]]
    slope = loss_slopes(loss)
    if params["scale"] == "relative":
        slope /= np.maximum(loss[:, 0], 1e-6)
    return -slope
