"""Viewer commands: ``twin view``, ``twin snapshot``, ``twin bench viewer``.

The ``viz`` package (pyvista/vtk/trame) is imported inside the commands only, so the rest of the CLI
starts without a renderer; viz errors become one clear line and exit code 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from twin.cli import app, bench_app
from twin.cli.common import err_console, fail, open_store, print_json, redis_url_or_embedded, settings
from twin.store import TwinStore

if TYPE_CHECKING:
    from twin.model import Plant

__all__ = ["bench_viewer", "snapshot", "view"]


@contextmanager
def _viz_errors() -> Iterator[None]:
    """Turn the viewer's own errors into one line and a non-zero exit."""
    from viz.errors import VizError

    try:
        yield
    except VizError as exc:
        fail(str(exc))


@app.command()
def view(
    ctx: typer.Context,
    line: str = typer.Option(None, "--line", help="Show one line only."),
) -> None:
    """Open an interactive 3D window of the live twin (click a station for its tags and history)."""
    store = open_store(ctx)
    with _viz_errors():
        from viz.desktop import run_desktop

        run_desktop(store, line=line)


@app.command()
def snapshot(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help="PNG file to write."),
    line: str = typer.Option(None, "--line", help="Render one line only."),
    width: int = typer.Option(1600, "--width", help="Image width in pixels."),
    height: int = typer.Option(900, "--height", help="Image height in pixels."),
    html: Path = typer.Option(None, "--html", help="Also write a self-contained HTML report here."),
) -> None:
    """Render the live twin offscreen into a PNG (and optionally an HTML report)."""
    _check_out(out, (".png",), "--out")
    if html is not None:
        _check_out(html, (".html", ".htm"), "--html")
    store = open_store(ctx)
    with _viz_errors():
        from viz.snapshot import take_snapshot

        snap = take_snapshot(store, out, line=line, width=width, height=height, html_out=html)
    err_console.print(
        f"wrote {snap.png} ({snap.width}x{snap.height}, {snap.stations} pieces of equipment)"
        + (f" and {snap.html}" if snap.html else ""),
        highlight=False,
    )


def _check_out(path: Path, suffixes: tuple[str, ...], option: str) -> None:
    """Refuse an output path we cannot write as asked, before any rendering work."""
    if path.is_dir():
        raise typer.BadParameter(
            f"{path} is a directory; give a file name such as {path / 'plant'}{suffixes[0]}",
            param_hint=option,
        )
    if path.suffix.lower() not in suffixes:
        raise typer.BadParameter(f"{path} must end in {' or '.join(suffixes)}", param_hint=option)
    if not path.parent.is_dir():
        raise typer.BadParameter(f"folder {path.parent} does not exist", param_hint=option)


@bench_app.command("viewer")
def bench_viewer(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the JSON result only."),
    quick: bool = typer.Option(False, "--quick", help="Fewer frames (finishes well under a minute)."),
) -> None:
    """ms per frame of live colour updates at 20/200/2000 stations against rebuilding the scene."""
    with redis_url_or_embedded(ctx) as url, _viz_errors():
        from benchmarks.viewer import run_viewer_bench

        stores: list[TwinStore] = []

        def store_for(plant: Plant) -> TwinStore:
            store = TwinStore.from_url(url, plant.id)
            store.delete_plant(plant.id)
            store.load_plant(plant)
            stores.append(store)
            return store

        progress: Callable[[str], None] | None = None if as_json else err_console.print
        try:
            result: dict[str, Any] = run_viewer_bench(store_for, quick=quick, progress=progress)
        finally:
            if settings(ctx).redis_url:  # a shared Redis: leave nothing behind
                for s in stores:
                    s.delete_plant()
    if as_json:
        print_json(result)
        return
    err_console.print(
        f"first frame {result['first_frame_s']:.2f} s at 200 stations; "
        f"peak RSS {result['peak_rss_mb']:.0f} MB"
    )
    for row in result["frames"]:
        err_console.print(
            f"{row['stations']:>5} stations: update {row['update_ms']:7.1f} ms/frame, "
            f"rebuild {row['rebuild_ms']:8.1f} ms/frame ({row['speedup']}x)"
        )
