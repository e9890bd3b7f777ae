"""Time and peak memory of the geometry, gradient and submodular methods on a synthetic pool.

Each method runs in its own process through the registry's real score and select code (a stand-in
for the proxy's snapshot serves the arrays), so the peak resident memory printed is the method's,
inputs included. Usage:

    .venv/bin/python benchmarks/selection_scale.py --n 50000 --classes 10 --dim 512 --fraction 0.1
    .venv/bin/python benchmarks/selection_scale.py --n 1280000 --classes 1000 --dim 512 --fraction 0.1

--budget-only runs the greedy methods to the fraction's budget instead of the whole greedy order
(what a library caller selecting one fraction does; the pipeline's score step orders every row).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

METHODS = ["moderate", "cal", "herding", "kcenter", "contextual_diversity", "d2_pruning", "craig", "gradmatch",
           "glister", "facility_location", "graph_cut", "log_determinant"]


EMB = (("pool", "embedding"),)
QUERY = (("pool", "embedding"), ("pool", "logits"), ("query", "embedding"), ("query", "logits"))
INPUTS = {"moderate": EMB, "herding": EMB, "kcenter": EMB, "d2_pruning": EMB,
          "contextual_diversity": (("pool", "logits"),),
          "glister": QUERY, "gradmatch": QUERY}


class FakeSignals:
    """The arrays a proxy snapshot would hold: clustered embeddings and logits, float16 like the real ones.
    Each array is made when first asked for, as the real Signals reads only the columns a method asks for."""

    def __init__(self, n: int, classes: int, dim: int, seed: int = 0, query_share: float = 0.1):
        self.n, self.classes, self.dim, self.seed = n, classes, dim, seed
        self.labels = np.sort(np.arange(n) % classes)
        self.index = np.arange(n)
        nq = max(int(n * query_share), classes)
        self.query_labels = np.sort(np.arange(nq) % classes)
        self._arrays = {}

    def snapshot(self, epoch, name, repeat=0, role="pool"):
        key = (role, name)
        if key not in self._arrays:
            labels = self.labels if role == "pool" else self.query_labels
            rng = np.random.default_rng([self.seed, role == "pool", name == "embedding"])
            centres = np.random.default_rng([self.seed, 99]).standard_normal((self.classes, self.dim), np.float32)
            width = self.dim if name == "embedding" else self.classes
            out = np.empty((len(labels), width), np.float16)
            for start in range(0, len(labels), 16384):
                y = labels[start:start + 16384]
                if name == "embedding":
                    x = centres[y] + 0.8 * rng.standard_normal((len(y), width), dtype=np.float32)
                else:
                    x = 2.0 * rng.standard_normal((len(y), width), dtype=np.float32)
                    x[np.arange(len(y)), y] += 4.0
                out[start:start + 16384] = x
            self._arrays[key] = out
        return self._arrays[key]

    def train(self, name):
        return np.random.default_rng(self.seed).standard_normal((self.n, 1)).astype(np.float32)  # AUM's margin


def run_one(args) -> dict:
    from prunebench.methods import REGISTRY, ProxyPlan
    from prunebench.selection import selection_rng

    signals = FakeSignals(args.n, args.classes, args.dim)
    method = REGISTRY[args.method]
    params = method.params(json.loads(args.params) if args.params else None)
    plan = ProxyPlan(epochs=1)
    for role, name in INPUTS.get(args.method, (("pool", "embedding"), ("pool", "logits"))):
        signals.snapshot(0, name, role=role)  # made before the clock starts
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tick = time.perf_counter()
    if args.budget_only and args.method in BUDGET_ONLY:
        rows, _ = BUDGET_ONLY[args.method](signals, params, args.fraction)
        score_s = 0.0
    else:
        scored = method.score(signals, params, 0, plan)
        scored = dict(scored) if isinstance(scored, dict) else {"score": scored}
        scored.update(index=signals.index, label=signals.labels)
        score_s = time.perf_counter() - tick
        if method.subset is None:
            from prunebench.selection import select_rows
            rows = select_rows(scored["score"], signals.labels, signals.index, args.fraction, params["keep"],
                               params["balanced"])
        else:
            rows, _ = method.subset(scored, args.fraction, params, selection_rng(0, args.method, args.fraction),
                                    signals)
    seconds = time.perf_counter() - tick
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"method": args.method, "n": args.n, "classes": args.classes, "dim": args.dim, "fraction": args.fraction,
            "selected": len(rows), "seconds": round(seconds, 2), "score_seconds": round(score_s, 2),
            "peak_gib": round(peak / 2 ** 20, 2), "inputs_gib": round(before / 2 ** 20, 2),
            "budget_only": bool(args.budget_only and args.method in BUDGET_ONLY)}


def _budget_orders(name):
    """Greedy methods run only to each class's budget (the library's array functions, not the score step)."""
    def run(signals, p, fraction):
        from prunebench.methods import geometry, gradients, submodular
        from prunebench.methods.kernels import cosine_similarity, errors, group_budgets, groups
        h_all = signals.snapshot(0, "embedding")
        z_all = signals.snapshot(0, "logits") if name not in ("herding", "kcenter") else None
        picks = []
        for rows, k in zip(groups(signals.labels, True), group_budgets(signals.labels, True, fraction)):
            h = np.asarray(h_all[rows], np.float32)
            if name == "glister":
                query = np.flatnonzero(signals.query_labels == signals.labels[rows[0]])
                qz, qh = signals.snapshot(0, "logits", role="query"), signals.snapshot(0, "embedding", role="query")
                order = gradients.glister_order(errors(z_all[rows], signals.labels[rows]), h, qz[query],
                                                signals.query_labels[query], np.asarray(qh[query], np.float32), k)
            elif name == "herding":
                order = geometry.herding_order(h, k)
            elif name == "kcenter":
                order = geometry.kcenter_order(h, 0, k)
            elif name == "contextual_diversity":
                order = geometry.contextual_diversity_order(z_all[rows], 0, k)
            else:
                e = errors(z_all[rows], signals.labels[rows])
                if name == "craig":
                    order = gradients.craig_order(e, h, k)
                else:
                    sim = cosine_similarity(e, h)
                    order = submodular.greedy(submodular.objective(name, sim, capacity=k), len(rows), k, "lazy")
            picks.append(rows[order])
        return np.concatenate(picks), None
    return run


BUDGET_ONLY = {name: _budget_orders(name) for name in
               ("herding", "kcenter", "contextual_diversity", "craig", "facility_location", "graph_cut",
                "log_determinant", "glister")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--params", default="", help="JSON overrides for --method")
    parser.add_argument("--budget-only", action="store_true")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    if args.method:
        print(json.dumps(run_one(args)))
        return
    print(f"{'method':22s} {'seconds':>8s} {'score s':>8s} {'peak GiB':>9s} {'inputs GiB':>10s}  selected", flush=True)
    for name in args.methods.split(","):
        command = [sys.executable, __file__, "--method", name, "--n", str(args.n), "--classes", str(args.classes),
                   "--dim", str(args.dim), "--fraction", str(args.fraction)] + (["--budget-only"] if args.budget_only
                                                                                 else [])
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout, check=False)
        except subprocess.TimeoutExpired:
            print(f"{name:22s} timed out after {args.timeout:.0f} s", flush=True)
            continue
        if done.returncode != 0:
            print(f"{name:22s} failed: {done.stderr.strip().splitlines()[-1]}", flush=True)
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{name:22s} {r['seconds']:8.2f} {r['score_seconds']:8.2f} {r['peak_gib']:9.2f} {r['inputs_gib']:10.2f}"
              f"  {r['selected']}{' (budget only)' if r['budget_only'] else ''}", flush=True)


if __name__ == "__main__":
    main()
