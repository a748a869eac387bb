"""3D view of the twin with pyvista: desktop window, trame web app, PNG snapshots.

Offscreen rendering (snapshots, the web viewer, the benchmark) uses OSMesa; :func:`use_offscreen` must run
before vtk is first imported. The desktop window (``twin view``) uses the platform's OpenGL instead.
"""

from __future__ import annotations

import os
import sys

__all__ = ["OFFSCREEN_WINDOW", "use_offscreen"]

#: The software OpenGL window class that needs no display (Debian package ``libosmesa6``).
OFFSCREEN_WINDOW = "vtkOSOpenGLRenderWindow"


def use_offscreen() -> bool:
    """Select OSMesa for rendering; returns False if vtk was already imported with another window class."""
    if "vtkmodules" in sys.modules:
        return os.environ.get("VTK_DEFAULT_OPENGL_WINDOW") == OFFSCREEN_WINDOW
    os.environ["VTK_DEFAULT_OPENGL_WINDOW"] = OFFSCREEN_WINDOW
    return True
