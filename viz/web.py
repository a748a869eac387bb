"""The web viewer: the live 3D scene in the browser, served by trame with server-side rendering.

The scene is rendered offscreen (OSMesa) on the server and streamed to the browser as images by trame-vtk's
``VtkRemoteView``, so labels, the HUD and the legend look exactly as in ``twin snapshot``. A side panel
(trame-vuetify) lists lines and stations with their live states; clicking one shows its tags. All assets
are served by trame itself: it works offline. Several browsers can watch at once (they share one camera).

Use :func:`start_web_viewer` from other code (``twin serve``, ``twin demo``)::

    viewer = start_web_viewer(store, host="127.0.0.1", port=8080)
    print(viewer.url)      # http://127.0.0.1:8080/
    ...
    viewer.stop()          # or: with start_web_viewer(...) as viewer: ...

The viewer runs in a child process (``python -m viz.web``): trame allows one server per process, and the
software renderer then uses its own core instead of holding the caller's GIL (an ingest or API event loop
in the same process would otherwise stall for every frame). The child connects to the same Redis as the
store it was given and exits by itself if its parent dies.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.embedded import free_port, stop_process
from twin.store import TwinStore
from viz.errors import WebViewerError

__all__ = ["URL_ENV", "WebViewer", "build_app", "main", "start_web_viewer", "store_url"]

#: Environment variable the child reads its Redis URL from (not on the command line: it may hold a password).
URL_ENV = "SDF_TWIN_VIEWER_REDIS_URL"
#: Vue style of a state chip in the side panel.
CHIP_STYLE = (
    "{background: st.color, width: '12px', height: '12px', display: 'inline-block',"
    " border: '1px solid #888', marginRight: '6px'}"
)
#: How often the side panel (station list) is refreshed in the browsers.
PANEL_EVERY_S = 1.0
#: Most frames rendered and pushed per second (one frame carries every change since the last).
MAX_FPS = 4.0
#: Longest wait for new changes before the loop checks on its parent and the HUD.
POLL_BLOCK_MS = 250


def store_url(store: TwinStore) -> str:
    """The ``redis://`` URL a store's client connects to (for the child process)."""
    pool = getattr(store.client, "connection_pool", None)
    kw: dict[str, Any] = dict(getattr(pool, "connection_kwargs", {}) or {})
    if not kw:
        raise WebViewerError("cannot tell which Redis the store uses: pass redis_url= to start_web_viewer")
    db = kw.get("db", 0)
    if kw.get("path"):
        return f"unix://{kw['path']}?db={db}"
    scheme = (
        "rediss"
        if "SSL" in type(pool).__name__ or "SSL" in str(getattr(pool, "connection_class", ""))
        else "redis"
    )
    auth = ""
    if kw.get("password"):
        from urllib.parse import quote

        auth = f"{quote(str(kw.get('username') or ''))}:{quote(str(kw['password']))}@"
    return f"{scheme}://{auth}{kw.get('host', 'localhost')}:{kw.get('port', 6379)}/{db}"


@dataclass
class WebViewer:
    """A running web viewer: its :attr:`url`, and :meth:`stop` to end it."""

    url: str
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    _stopped: bool = field(default=False, repr=False)

    def positions(self) -> dict[str, Any]:
        """Where each piece of equipment is in the served image (``GET /positions``): for tests and tools."""
        with urllib.request.urlopen(self.url + "positions", timeout=10) as resp:
            return dict(json.loads(resp.read()))

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Block until the viewer answers HTTP; on failure stop it and raise :class:`WebViewerError`."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                tail = _tail(self.log_path)
                self.stop()
                raise WebViewerError(f"the web viewer exited with code {self.process.returncode}: {tail}")
            try:
                with urllib.request.urlopen(self.url + "positions", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                tail = _tail(self.log_path)
                self.stop()
                raise WebViewerError(f"the web viewer did not start within {timeout:.0f} s: {tail}")
            time.sleep(0.2)

    def alive(self) -> bool:
        """True while the server process runs."""
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server process (terminate, then kill) and remove its log."""
        if self._stopped:
            return
        self._stopped = True
        stop_process(self.process, timeout)
        with contextlib.suppress(OSError):
            self.log_path.unlink()

    def __enter__(self) -> WebViewer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_web_viewer(
    store: TwinStore,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    line: str | None = None,
    redis_url: str | None = None,
    ready_timeout: float = 90.0,
    wait: bool = True,
) -> WebViewer:
    """Start the web viewer of ``store``'s plant on ``host:port`` (0: a free port); returns once it serves.

    Returns a :class:`WebViewer` with ``.url`` (``http://host:port/``) and ``.stop()``. ``redis_url``
    overrides the Redis the child connects to (default: the one ``store`` uses). The plant must be loaded.
    Starting takes a few seconds (the child imports vtk and trame): from async code, pass ``wait=False``
    (returns at once; the page answers when ready) or call it through ``asyncio.to_thread``. Raises
    :class:`WebViewerError` (with the server's last log lines) if it does not come up in ``ready_timeout``.
    """
    url = redis_url or store_url(store)
    plant_id = store.plant_id
    port = port or free_port(host)
    log = Path(tempfile.mkstemp(prefix="sdf-twin-viewer-", suffix=".log")[1])
    cmd = [
        sys.executable, "-m", "viz.web", "--host", host, "--port", str(port), "--plant", plant_id,
        "--parent-pid", str(os.getpid()),
    ]  # fmt: skip
    if line:
        cmd += ["--line", line]
    env = {**os.environ, URL_ENV: url, "PYTHONUNBUFFERED": "1"}
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    viewer = WebViewer(f"http://{host}:{port}/", host, port, proc, log)
    if wait:
        viewer.wait_ready(ready_timeout)
    return viewer


def _tail(log: Path, lines: int = 5) -> str:
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(text[-lines:]) or "(no output)"


# ---------------------------------------------------------------------- the server (child process)
def build_app(
    server: Any, store: TwinStore, *, line: str | None = None, parent_pid: int | None = None
) -> Any:
    """Lay out the trame app on ``server`` and start following the twin; returns the scene."""
    app = _ViewerApp(server, store, line=line, parent_pid=parent_pid)
    app.lay_out()
    server.controller.on_server_bind.add(app.bind_routes)
    server.controller.on_server_ready.add(app.start_following)
    return app.scene


class _ViewerApp:
    """The viewer process's app: the offscreen scene, the side panel's state, the loop following the twin."""

    def __init__(self, server: Any, store: TwinStore, *, line: str | None, parent_pid: int | None) -> None:
        from viz.live import ChangeFollower
        from viz.scene import PlantScene
        from viz.snapshot import open_offscreen

        self.server = server
        self.parent_pid = parent_pid
        self.follower = ChangeFollower(store)
        self.live = self.follower.bootstrap()
        self.plant = store.plant()
        self.plotter = open_offscreen(1280, 720)
        self.scene = PlantScene(self.plant, self.plotter, line=line)
        self.scene.apply(self.live, self.live.take_dirty())
        self.plotter.render()
        self.title = f"sdf-twin: {self.plant.name or self.plant.id}"
        self._tasks: list[asyncio.Task[None]] = []  # keep a reference: the loop holds tasks only weakly
        state = server.state
        state.lines = self.panel()
        state.selected = None
        state.details = self.details(None)
        state.plan_label = self.plan_label()
        state.trame__title = self.title

    # ------------------------------------------------------------------ side panel
    def panel(self) -> list[dict[str, Any]]:
        """Lines and their stations with each one's state and state colour."""
        from twin.palette import hex_color, state_rgb

        live = self.live
        out = []
        for ln in self.scene.lines:
            rows = []
            for e in ln.equipment:
                rows.append(
                    {
                        "id": e.id,
                        "state": live.state_name(e.id),
                        "color": hex_color(state_rgb(live.tag(e.id, "state"), live.quality(e.id))),
                    }
                )
            out.append({"id": ln.id, "kind": ln.kind.value, "stations": rows})
        return out

    def details(self, eq_id: str | None) -> str:
        """The text under the list: the selected station's live tags."""
        from viz.live import describe

        if not eq_id or eq_id not in self.live.values:
            return "Click a station in the list for its live tags."
        return describe(self.live, eq_id)

    def plan_label(self) -> str:
        """The toolbar's plan version."""
        return f"plan v{self.live.plan_version}" if self.live.plan_version is not None else "no plan yet"

    def select(self, eq_id: str) -> None:
        """A click on a station in the list."""
        self.server.state.selected = eq_id
        self.server.state.details = self.details(eq_id)

    def lay_out(self) -> None:
        """The page: a toolbar with the plan version, the station list in a drawer, the remote view."""
        from trame.ui.vuetify3 import SinglePageWithDrawerLayout
        from trame.widgets import html
        from trame.widgets import vtk as vtk_widgets
        from trame.widgets import vuetify3 as v3

        with SinglePageWithDrawerLayout(self.server, full_height=True) as layout:
            layout.title.set_text(self.title)
            with layout.toolbar:
                v3.VSpacer()
                html.Span("{{ plan_label }}", classes="mr-4 text-body-1")
            with layout.drawer as drawer:
                drawer.width = 300
                with html.Div(classes="pa-2", style="font-size: 13px"):
                    with html.Div(v_for="ln in lines", key="ln.id", classes="mb-2"):
                        html.Div("{{ ln.id }} ({{ ln.kind }})", classes="font-weight-bold")
                        with html.Div(
                            v_for="st in ln.stations", key="st.id", classes="d-flex align-center",
                            style="cursor: pointer", click=(self.select, "[st.id]"),
                        ):  # fmt: skip
                            html.Span(style=(CHIP_STYLE,))
                            html.Span("{{ st.id }}", classes="mr-2", style="min-width: 90px")
                            html.Span("{{ st.state }}", style="color: #555")
                    html.Pre("{{ details }}", style="font-size: 11px; white-space: pre-wrap", classes="mt-2")
            with layout.content, v3.VContainer(fluid=True, classes="pa-0 fill-height"):
                view = vtk_widgets.VtkRemoteView(
                    self.plotter.render_window, ref="view", interactive_ratio=1, still_quality=92
                )
                self.server.controller.view_update = view.update

    # ------------------------------------------------------------------ serving
    def bind_routes(self, wslink_server: Any) -> None:
        """``GET /positions``: where each piece of equipment is in the served image."""
        from aiohttp import web

        async def positions(_request: Any) -> Any:
            w, h = self.plotter.window_size
            body = {"width": w, "height": h, "stations": {k: self.scene.project(k) for k in self.scene.slots}}
            return web.json_response(body)

        wslink_server.app.router.add_get("/positions", positions)

    def start_following(self, **_: Any) -> None:
        """Once the server runs: start :meth:`follow` on its event loop."""
        self._tasks.append(asyncio.get_event_loop().create_task(self.follow()))

    async def follow(self) -> None:
        """Follow the change stream: apply changes, push frames (at most MAX_FPS), refresh the panel."""
        ctrl = self.server.controller
        panel_at = frame_at = 0.0
        while True:
            # At most MAX_FPS frames: under a flood of changes, batch them instead of rendering each.
            await asyncio.sleep(max(0.0, 1.0 / MAX_FPS - (time.monotonic() - frame_at)))
            await self._poll()
            dirty = self.live.take_dirty()
            moving = self.scene.animating  # travelling cars: keep pushing frames until they arrive
            self.scene.apply(self.live, dirty)
            if dirty or moving:
                ctrl.view_update()
                frame_at = time.monotonic()
            now = time.monotonic()
            if now - panel_at >= PANEL_EVERY_S:
                panel_at = now
                with self.server.state as state:
                    state.lines = self.panel()
                    state.plan_label = self.plan_label()
                    if state.selected:
                        state.details = self.details(state.selected)
                if not dirty:
                    ctrl.view_update()  # the HUD clock and throughput move even without state changes

    async def _poll(self) -> None:
        """Read new changes (a failure is logged and retried); exit the process once its parent is gone."""
        try:
            await asyncio.to_thread(self.follower.poll, POLL_BLOCK_MS)
        except Exception as exc:
            print(f"viewer: reading the twin failed: {exc}", file=sys.stderr, flush=True)
            await asyncio.sleep(1.0)
        if self.parent_pid and not _pid_alive(self.parent_pid):
            print("viewer: parent process gone, exiting", file=sys.stderr, flush=True)
            os._exit(0)


def _pid_alive(pid: int) -> bool:
    # The viewer is started as a child: once its parent dies it is re-parented and getppid() changes.
    return os.getppid() == pid


def main(argv: list[str] | None = None) -> int:
    """Entry point of the viewer process (``python -m viz.web``); the Redis URL comes from the environment."""
    parser = argparse.ArgumentParser(prog="python -m viz.web", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--plant", default=None)
    parser.add_argument("--line", default=None)
    parser.add_argument("--parent-pid", type=int, default=None)
    parser.add_argument("--redis-url", default=None, help=f"default: ${URL_ENV} or $REDIS_URL")
    args = parser.parse_args(argv)
    url = args.redis_url or os.environ.get(URL_ENV) or os.environ.get("REDIS_URL")
    if not url:
        print("error: no Redis URL (pass --redis-url or set REDIS_URL)", file=sys.stderr)
        return 2
    sys.argv = sys.argv[:1]  # trame parses sys.argv for its own options
    from viz import use_offscreen

    use_offscreen()
    from trame.app import get_server

    from twin.errors import TwinError
    from viz.errors import VizError

    try:
        store = TwinStore.from_url(url, args.plant)
        server = get_server("sdf-twin-viewer", client_type="vue3")
        build_app(server, store, line=args.line, parent_pid=args.parent_pid)
    except (TwinError, VizError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    server.start(
        host=args.host, port=args.port, open_browser=False, timeout=0, show_connection_info=False,
        exec_mode="main",
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
