"""The viewer's CLI commands, run as the user runs them (the ``twin`` console script in a subprocess)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from twin.model import Plant
from twin.store import TwinStore

pytestmark = pytest.mark.timeout(180)


def _twin(
    *args: str, redis_url: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("REDIS_URL", None)
    if redis_url:
        full_env["REDIS_URL"] = redis_url
    return subprocess.run(
        [sys.executable, "-c", "from twin.cli import main; main()", *args],
        capture_output=True, text=True, env=full_env, timeout=170,
    )  # fmt: skip


def test_snapshot_writes_png_of_the_requested_size(
    store: TwinStore, redis_url: str, mini_plant: Plant, tmp_path: Path
) -> None:
    from PIL import Image

    store.write_changes([(e.id, "state", "Running", "good", time.time()) for e in mini_plant.equipment()])
    out, report = tmp_path / "plant.png", tmp_path / "plant.html"
    res = _twin(
        "snapshot",
        "--out",
        str(out),
        "--width",
        "640",
        "--height",
        "360",
        "--html",
        str(report),
        redis_url=redis_url,
    )
    assert res.returncode == 0, res.stderr
    assert Image.open(out).size == (640, 360)
    assert "data:image/png;base64," in report.read_text()
    res = _twin(
        "snapshot",
        "--out",
        str(tmp_path / "l1.png"),
        "--line",
        "L1",
        "--width",
        "320",
        "--height",
        "200",
        redis_url=redis_url,
    )
    assert res.returncode == 0, res.stderr
    assert Image.open(tmp_path / "l1.png").size == (320, 200)


def test_snapshot_errors_are_one_line(store: TwinStore, redis_url: str, tmp_path: Path) -> None:
    res = _twin("snapshot", "--out", str(tmp_path / "x.png"), "--line", "NOPE", redis_url=redis_url)
    assert res.returncode == 1
    assert "no line 'NOPE'" in res.stderr and "Traceback" not in res.stderr
    res = _twin("snapshot", "--out", str(tmp_path / "x.png"))
    assert res.returncode == 1 and "REDIS_URL" in res.stderr


def test_view_without_display_fails_clearly(store: TwinStore, redis_url: str) -> None:
    res = _twin("view", redis_url=redis_url, env={"DISPLAY": "", "WAYLAND_DISPLAY": ""})
    assert res.returncode == 1
    assert "no display" in res.stderr and "Traceback" not in res.stderr


def test_bench_viewer_quick_json(redis_url: str) -> None:
    res = _twin("bench", "viewer", "--quick", "--json", redis_url=redis_url)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert {"frames", "first_frame_s", "peak_rss_mb"} <= data.keys()
    assert [f["stations"] for f in data["frames"]] == [20, 200, 2000]
    for f in data["frames"]:
        assert f["update_ms"] > 0 and f["rebuild_ms"] > 0 and f["update_cpu_ms"] > 0
        assert f["cars_travelling_max"] > 0  # the bench frames include cars moving between stations
    assert data["first_frame_s"] > 0 and data["peak_rss_mb"] > 0


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="xvfb (virtual X display) not installed")
def test_view_opens_a_window_on_a_virtual_display(store: TwinStore, redis_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("VTK_DEFAULT_OPENGL_WINDOW", "DISPLAY")}
    env["REDIS_URL"] = redis_url
    cmd = [
        "xvfb-run",
        "-a",
        "-s",
        "-screen 0 1600x900x24",
        sys.executable,
        "-c",
        "from twin.cli import main; main()",
    ]
    proc = subprocess.Popen(
        [*cmd, "view"], env=env, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:  # blocks until the window's first tick (or the process ends)
            seen.append(line)
            if "window open" in line:
                break
        assert any("window open" in s for s in seen), "".join(seen)[-2000:]
        assert proc.poll() is None
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


@pytest.mark.parametrize(
    ("out", "says"),
    [("", "is a directory"), ("x.txt", "must end in .png"), ("nodir/x.png", "does not exist")],
)
def test_snapshot_refuses_an_unwritable_out_path(
    store: TwinStore, redis_url: str, tmp_path: Path, out: str, says: str
) -> None:
    target = tmp_path / out if out else tmp_path
    res = _twin("snapshot", "--out", str(target), redis_url=redis_url)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and says in lines[0], res.stderr
    assert "--out" in lines[0] and "Traceback" not in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written


def test_the_cli_starts_the_viewer_or_says_why_not(store: TwinStore) -> None:
    # `twin demo` and `twin serve` share this: a viewer that cannot start is one note, never a crash.
    import socket
    import urllib.request

    from twin.cli.common import start_viewer
    from twin.embedded import free_port

    notes: list[str] = []
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert start_viewer(store, "127.0.0.1", port, notes.append) is None
    assert notes == [f"port {port} is in use; web viewer not started"]
    port = free_port()
    stop = start_viewer(store, "127.0.0.1", port, notes.append)
    assert stop is not None and len(notes) == 1
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as page:
            assert page.status == 200
    finally:
        stop()
