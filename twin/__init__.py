"""sdf-twin: the twin and everything that reasons over it (no asyncua, no pyvista imports here)."""

__version__ = "0.1.0"
