"""The method registry, assembled from the family modules: each declares its methods beside their maths
(see prunebench.methods.registry for what an entry holds). A plugin registers its own the same way.

The import order is the registry's order (the order `prunebench methods` lists).
"""

from . import baselines, cld, dynamics, uncertainty, probing, geometry, submodular, gradients  # noqa: F401  (register)
from .registry import REGISTRY, Method, Param, ProxyPlan, Scored, get_method, method, register

__all__ = ["REGISTRY", "Method", "Param", "ProxyPlan", "Scored", "get_method", "method", "register"]
