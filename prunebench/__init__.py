"""prunebench: coreset-selection methods, run the same way on the same logged training signals.

The Python API (`prunebench.score`, `prunebench.select`, `prunebench.proxy_plan`)
lives in prunebench.api and is imported on first use, so `import prunebench` stays cheap.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("prunebench")  # pyproject.toml is the one home of the version
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "unknown"

API = ("score", "select", "proxy_plan")


def __getattr__(name: str):
    if name in API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'prunebench' has no attribute {name!r}")
