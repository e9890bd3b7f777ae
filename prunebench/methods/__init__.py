"""The method registry, assembled from the family modules: each declares its methods beside their maths
(see prunebench.methods.registry for what an entry holds). A plugin registers its own the same way.

The import order below is the registry's order (the order `prunebench methods` lists); importing a
family registers its methods.
"""

# isort: off
from . import baselines, cld, dynamics, uncertainty, probing, geometry, submodular, gradients  # noqa: F401
# isort: on
from .registry import REGISTRY, Method, Param, ProxyPlan, Scored, get_method, method, register

__all__ = ["REGISTRY", "Method", "Param", "ProxyPlan", "Scored", "get_method", "method", "register"]
