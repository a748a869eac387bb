"""Serves the web console (twin/console/static) at ``/`` with a strict Content-Security-Policy.

The console is static: ``/`` answers index.html, ``/ui/...`` its CSS, ES modules and vendored three.js.
It reads its token from the URL fragment (never sent to the server) or a form and talks to the API with
``Authorization`` headers and WebSocket subprotocols, so no token appears in a URL the server sees or logs.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from twin.console import STATIC_DIR

__all__ = ["CONSOLE_CSP", "SecurityHeaders", "mount_console"]

#: No inline script or style, no eval, nothing from another origin; the feed is same-origin ws(s).
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_HEADERS = {
    "content-security-policy": CONSOLE_CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
#: The interactive API docs load their own scripts; they keep FastAPI's defaults.
_DOCS_PREFIXES = ("/docs", "/redoc")


class SecurityHeaders:
    """Adds the console's CSP and hardening headers to every HTTP response but the API docs (pure ASGI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(_DOCS_PREFIXES):
            await self.app(scope, receive, send)
            return

        async def with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                headers = MutableHeaders(scope=msg)
                for k, v in _HEADERS.items():
                    headers.setdefault(k, v)
            await send(msg)

        await self.app(scope, receive, with_headers)


def mount_console(app: FastAPI) -> None:
    """Serve the console: ``/`` -> index.html, ``/ui`` -> the static assets; CSP on every response."""
    index = STATIC_DIR / "index.html"

    @app.get("/", include_in_schema=False)
    def console_index() -> FileResponse:
        return FileResponse(index, media_type="text/html", headers={"cache-control": "no-cache"})

    app.mount("/ui", StaticFiles(directory=STATIC_DIR), name="console")
    app.add_middleware(SecurityHeaders)
