"""The web console: static assets (HTML, CSS, ES modules, vendored three.js) served by the API at ``/``.

The console uses only the public REST and WebSocket API; this package holds no Python logic beyond
locating its assets, so it ships as package data and works offline (no CDN, no external fonts).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["STATIC_DIR"]

#: Directory holding index.html, app.css, js/ and vendor/ (served as-is).
STATIC_DIR: Path = Path(__file__).resolve().parent / "static"
