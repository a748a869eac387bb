"""The viewer's exception tree: everything :mod:`viz` raises on purpose derives from :class:`VizError`.

``str()`` of each is one clear line that says what to do; the CLI prints it and exits non-zero.
"""

from __future__ import annotations

__all__ = ["NoDisplayError", "RenderError", "VizError", "WebViewerError"]


class VizError(Exception):
    """Base of every error raised by the ``viz`` package."""


class NoDisplayError(VizError):
    """An interactive window was asked for but there is no display to open it on."""


class RenderError(VizError):
    """Offscreen rendering failed (usually: no OSMesa / OpenGL library installed)."""


class WebViewerError(VizError):
    """The trame web viewer could not be started or stopped."""
