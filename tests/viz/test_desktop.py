"""``twin view`` on a real X server (Xvfb): clicking a station shows its live tags and history.

The window runs in a child process (this test process may already have vtk loaded for offscreen
rendering, and one process cannot switch vtk's window class); the child opens the desktop view, clicks
a station's projected screen position through vtk's interactor (the same events a mouse click sends) and
prints what the pick panel shows.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from twin.embedded import stop_process
from twin.model import Plant
from twin.store import TwinStore

pytestmark = [
    pytest.mark.timeout(150),
    pytest.mark.skipif(
        shutil.which("Xvfb") is None, reason="Xvfb not installed (scripts/install-system-deps.sh)"
    ),
]

ROOT = Path(__file__).resolve().parents[2]

_CHILD = """
import json, sys
from twin.store import TwinStore
from viz.desktop import DesktopView

store = TwinStore.from_url(sys.argv[1], "mini")
view = DesktopView(store, window_size=(1000, 600))
view.plotter.show(interactive_update=True, auto_close=False)
view.tick()
out = {"before": view.details, "clicks": {}}
for eq in sys.argv[2:]:
    col, row = view.scene.project(eq)
    view.click(col, row)
    out["clicks"][eq] = {"picked": view.picked, "details": view.details, "at": [col, row]}
print("RESULT " + json.dumps(out), flush=True)
view.plotter.close()
"""


@pytest.fixture
def x_display() -> Iterator[str]:
    """A private Xvfb server; ``-displayfd`` makes it pick a free display number and report it."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as f:
            number = f.readline().strip()
        assert number.isdigit(), "Xvfb did not report a display"
        yield f":{number}"
    finally:
        stop_process(proc, 10.0)


def test_clicking_a_station_shows_its_tags_and_history(
    store: TwinStore, redis_url: str, mini_plant: Plant, x_display: str
) -> None:
    t = time.time()
    store.write_changes(
        [(e.id, "state", "Running", "good", t - 5) for e in mini_plant.equipment()], source="test"
    )
    store.write_changes(
        [
            ("L2-PAINT", "state", "Fault", "good", t),
            ("L2-PAINT", "alarm", "paint robot 3 collision", "good", t),
            ("L2-PAINT", "part_count", 41, "good", t),
            ("L1-ASSY", "part_count", 7, "good", t),
        ],
        source="test",
    )
    env = {k: v for k, v in os.environ.items() if k != "VTK_DEFAULT_OPENGL_WINDOW"}
    env.update(DISPLAY=x_display, PYTHONPATH=str(ROOT))
    env.pop("WAYLAND_DISPLAY", None)
    res = subprocess.run(
        [sys.executable, "-c", _CHILD, redis_url, "L2-PAINT", "L1-ASSY"],
        capture_output=True, text=True, env=env, timeout=120, cwd=ROOT,
    )  # fmt: skip
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("RESULT ")]
    assert res.returncode == 0 and lines, res.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT ") :])
    assert out["before"] == "click a station"

    paint = out["clicks"]["L2-PAINT"]
    assert paint["picked"] == "L2-PAINT", paint
    text = paint["details"]
    assert text.startswith("L2-PAINT  (L2)  state Fault")
    assert "alarm" in text and "paint robot 3 collision" in text  # its tags ...
    assert "part_count" in text and "41" in text
    assert "recent:" in text and "state=Fault" in text and "state=Running" in text  # ... and its history

    assy = out["clicks"]["L1-ASSY"]
    assert assy["picked"] == "L1-ASSY" and "part_count" in assy["details"] and " 7 " in assy["details"]
