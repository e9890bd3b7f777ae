"""prunebench: coreset-selection methods, run the same way on the same logged training signals."""

__version__ = "0.1.0"
