"""The API serves the console: strict CSP, no inline script, nothing from another origin, the layout the
pyvista scene draws as JSON, and a viewer refused what it is not offered."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tests.console.conftest import ConsoleEnv
from twin.console import STATIC_DIR
from twin.layout import plant_layout
from twin.model import StationState
from twin.palette import STALE_RGB, STATE_RGB, hex_color

#: What turns text into markup or code; the console's modules use none of it.
HTML_SINKS = (
    r"\.(inner|outer)HTML\s*[+]?=",
    r"\.insertAdjacentHTML\(",
    r"document\.write",
    r"\beval\(",
    r"new Function\(",
    r"createContextualFragment",
    r"DOMParser",
)


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline: list[str] = []
        self.handlers: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handlers += [k for k, _v in attrs if k.startswith("on")]
        if tag == "script":
            self.scripts.append(dict(attrs))
            self._in_script = True

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data)


def test_console_is_served_at_root_with_a_strict_csp(console_env: ConsoleEnv) -> None:
    with console_env.client(None) as c:
        r = c.get("/")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self';" in csp and "unsafe-inline" not in csp
        assert "unsafe-eval" not in csp and "frame-ancestors 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        page = _Scripts()
        page.feed(r.text)
        assert page.scripts and all(s.get("src") for s in page.scripts) and page.inline == []
        assert page.handlers == []
        for src in [s["src"] for s in page.scripts] + ["ui/app.css", "ui/vendor/three/three.module.min.js"]:
            asset = c.get("/" + str(src))
            assert asset.status_code == 200, src
            assert "content-security-policy" in asset.headers
        js = c.get("/ui/js/main.js")
        assert js.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")
        # an API error is still the API's JSON, not the static handler's
        assert c.get("/api/v1/nope").json()["error"]["code"] == "not_found"


def test_assets_are_local_and_build_text_without_html() -> None:
    own = [p for p in (STATIC_DIR / "js").rglob("*.js")]
    assert own, "no console modules"
    for path in [*own, STATIC_DIR / "index.html", *STATIC_DIR.glob("*.css")]:
        text = path.read_text()
        # no URL of another origin in a string or a CSS url() (the SVG namespace is a name, not a fetch)
        assert not re.search(r"""(["'`]|url\()(https?:)?//(?!www\.w3\.org/2000/svg)""", text), path
        if path.suffix == ".js":
            for sink in HTML_SINKS:
                assert not re.search(sink, text), f"{path.name} uses {sink}"
    three = STATIC_DIR / "vendor" / "three"
    assert (three / "LICENSE").is_file() and (three / "VERSION").read_text().strip()
    assert "from 'three'" not in (three / "OrbitControls.js").read_text()  # no import map (inline script)


def test_assets_ship_as_package_data() -> None:
    import tomllib

    data = tomllib.loads((STATIC_DIR.parents[2] / "pyproject.toml").read_text())
    patterns = data["tool"]["setuptools"]["package-data"]["twin.console"]
    assert "static/**/*" in patterns and "static/*" in patterns


def test_layout_is_the_scene_layout_with_the_viewer_palette(console_env: ConsoleEnv) -> None:
    with console_env.client("viewer") as c:
        doc = c.get("/api/v1/layout").json()
        assert c.get("/api/v1/layout", params={"line": "NOPE"}).status_code == 404
    with console_env.client(None) as anon:
        assert anon.get("/api/v1/layout").status_code == 401
    lay = plant_layout(console_env.plant)
    assert [e["id"] for e in doc["equipment"]] == [e.id for e in lay.equipment]
    for i, e in enumerate(doc["equipment"]):
        assert e["body"]["base"] == [round(float(v), 3) for v in lay.bodies.base[i]]
        assert e["body"]["size"] == [round(float(v), 3) for v in lay.bodies.size[i]]
        assert e["top"] == [round(float(v), 3) for v in lay.placements[e["id"]].centre]
    assert sum(e["part"] is not None for e in doc["equipment"]) == len(lay.processing)
    assert sum(e["fill"] is not None for e in doc["equipment"]) == len(lay.buffers)
    assert len(doc["belts"]) == len(lay.belts) and len(doc["aisles"]) == len(lay.aisles)
    assert [s["name"] for s in doc["palette"]["states"]] == [s.value for s in StationState]
    assert [s["hex"] for s in doc["palette"]["states"]] == [hex_color(STATE_RGB[s]) for s in StationState]
    assert doc["palette"]["stale"]["hex"] == hex_color(STALE_RGB)
    assert {ln["id"] for ln in doc["lines"]} == {"L1", "L2", "C"}


def test_a_viewer_cannot_replan_or_dispatch_by_hand(console_env: ConsoleEnv) -> None:
    with console_env.client("admin") as adm:
        before = adm.get("/api/v1/plans").json()["total"]
    with console_env.client("viewer") as c:
        for method, path, body in [
            ("POST", "/api/v1/replan", {}),
            ("POST", "/api/v1/demand", {"model": "A", "quantity": 1}),
            ("POST", "/api/v1/plans/1/accept", {}),
            ("POST", "/api/v1/plans/1/dispatch", {}),
        ]:
            r = c.request(method, path, json=body)
            assert r.status_code == 403, (path, r.status_code)
            assert r.json()["error"]["code"] == "forbidden"
    with console_env.client("admin") as adm:
        assert adm.get("/api/v1/plans").json()["total"] == before
    assert console_env.dispatched == []
