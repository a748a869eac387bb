"""Plant definitions: the demo plant is valid; every malformed file gets one precise message."""

from __future__ import annotations

import copy
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import DEMO_PLANT, MINI_PLANT
from twin.config import load_plant, parse_plant, plant_from_data
from twin.errors import ConfigError
from twin.model import PROCESSING_TYPES, EquipmentType, LineKind

ROOT = Path(__file__).resolve().parents[2]
TWIN = ROOT / ".venv" / "bin" / "twin"
DELETE = object()


def base() -> dict[str, Any]:
    """The mini plant as plain data: every case below breaks one thing in it."""
    data = yaml.safe_load(MINI_PLANT.read_text())
    assert isinstance(data, dict)
    return data


def mutate(path: str, value: Any) -> dict[str, Any]:
    """A copy of the base plant with ``path`` (dotted, list indexes as numbers) set or deleted."""
    data = base()
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    key: Any = int(last) if isinstance(node, list) else last
    if value is DELETE:
        del node[key]
    elif isinstance(node, list) and key == len(node):
        node.append(value)
    else:
        node[key] = value
    return data


def with_tag(**tag: Any) -> dict[str, Any]:
    return mutate("lines.0.equipment.0.extra_tags", [{"name": "temp", **tag}])


STATION = {"id": "L1-NEW", "type": "station", "operations": ["weld"]}

# (case id, plant data or YAML text, expected field path, expected problem substring)
CASES: list[tuple[str, Any, str, str]] = [
    ("yaml-syntax", "id: mini\nlines: [\n  - {id: L1\n", "line 3, column 3", "invalid YAML"),
    ("yaml-tab", "id: mini\nlines:\n\t- id: L1\n", "line 3, column 1", "invalid YAML"),
    ("yaml-duplicate-key", "id: a\nid: b\nlines: []\n", "line 2, column 1", "duplicate key 'id'"),
    ("empty-file", "", "", "got empty"),
    (
        "yaml-date-id",
        "id: 2026-11-22\nlines: []\n",
        "id",
        "YAML read datetime.date(2026, 11, 22) (date): put it in quotes",
    ),
    (
        "yaml-bool-line-id",
        "id: p\nlines: [{id: on, equipment: []}]\n",
        "lines[0].id",
        "YAML read True (bool)",
    ),
    ("top-level-list", "- id: mini\n", "", "got list"),
    ("top-level-scalar", "just text\n", "", "got str"),
    ("missing-id", mutate("id", DELETE), "id", "required field is missing"),
    ("missing-lines", mutate("lines", DELETE), "lines", "required field is missing"),
    ("no-lines", mutate("lines", []), "lines", "at least 1 item"),
    ("plant-id-spaces", mutate("id", "my plant"), "id", "invalid id 'my plant'"),
    ("unknown-top-field", mutate("demnad", {"A": 1}), "demnad", "unknown field"),
    (
        "unknown-equipment-field",
        mutate("lines.0.equipment.0.powr_kw", 4),
        "lines[0].equipment[0].powr_kw",
        "unknown field",
    ),
    ("line-without-equipment", mutate("lines.1.equipment", []), "lines[1].equipment", "at least 1 item"),
    (
        "equipment-not-mapping",
        mutate("lines.1.equipment.0", "L2-WELD"),
        "lines[1].equipment[0]",
        "valid dictionary",
    ),
    (
        "power-not-number",
        mutate("lines.0.equipment.0.power_kw", "lots"),
        "lines[0].equipment[0].power_kw",
        "valid number",
    ),
    (
        "negative-power",
        mutate("lines.0.equipment.0.power_kw", -5),
        "lines[0].equipment[0].power_kw",
        "greater than or equal to 0 (got -5)",
    ),
    (
        "nan-power",
        mutate("lines.0.equipment.0.power_kw", float("nan")),
        "lines[0].equipment[0].power_kw",
        "not NaN",
    ),
    (
        "infinite-position",
        mutate("lines.0.equipment.0.position", {"x": float("inf")}),
        "lines[0].equipment[0].position.x",
        "finite number",
    ),
    (
        "idle-above-rated",
        mutate("lines.0.equipment.0.idle_power_kw", 50),
        "lines[0].equipment[0].idle_power_kw",
        "exceeds rated 40.0 kW",
    ),
    (
        "unknown-equipment-type",
        mutate("lines.0.equipment.0.type", "robot"),
        "lines[0].equipment[0].type",
        "'station', 'cell'",
    ),
    ("unknown-line-kind", mutate("lines.0.kind", "flow"), "lines[0].kind", "'dedicated', 'mixed'"),
    (
        "equipment-id-chars",
        mutate("lines.0.equipment.0.id", "weld #1"),
        "lines[0].equipment[0].id",
        "invalid id 'weld #1'",
    ),
    ("duplicate-line-id", mutate("lines.1.id", "L1"), "lines[1].id", "duplicate line id 'L1'"),
    (
        "duplicate-equipment-id",
        mutate("lines.1.equipment.0.id", "L1-WELD"),
        "lines[1].equipment[0].id",
        "duplicate equipment id 'L1-WELD' (first used at lines[0].equipment[0])",
    ),
    (
        "equipment-id-is-line-id",
        mutate("lines.1.equipment.0.id", "L1"),
        "lines[1].equipment[0].id",
        "clashes with a line or plant id",
    ),
    (
        "station-without-operations",
        mutate("lines.0.equipment.0.operations", []),
        "lines[0].equipment[0].operations",
        "station 'L1-WELD' has no operations",
    ),
    (
        "buffer-with-operations",
        mutate("lines.0.equipment.1.operations", ["weld"]),
        "lines[0].equipment[1].operations",
        "buffer 'L1-BUF' cannot do operations",
    ),
    (
        "duplicate-operation",
        mutate("lines.2.equipment.0.operations", ["weld", "weld"]),
        "lines[2].equipment[0].operations",
        "operation 'weld' is listed twice",
    ),
    (
        "buffer-without-capacity",
        mutate("lines.0.equipment.1.capacity", DELETE),
        "lines[0].equipment[1].capacity",
        "buffer 'L1-BUF' needs a capacity",
    ),
    (
        "buffer-zero-capacity",
        mutate("lines.0.equipment.1.capacity", 0),
        "lines[0].equipment[1].capacity",
        "greater than or equal to 1",
    ),
    (
        "zero-size",
        mutate("lines.0.equipment.0.size", {"x": 0, "y": 2, "z": 2}),
        "lines[0].equipment[0].size",
        "every dimension must be > 0 m",
    ),
    (
        "mtbf-without-mttr",
        mutate("lines.0.equipment.0.mtbf_s", 3600),
        "lines[0].equipment[0].mttr_s",
        "mtbf_s is set, so mttr_s is needed too",
    ),
    ("zero-mttr", mutate("lines.0.equipment.0.mttr_s", 0), "lines[0].equipment[0].mttr_s", "greater than 0"),
    (
        "cell-block-without-cells",
        mutate("lines.2.equipment", [{"id": "C-AGV", "type": "agv"}]),
        "lines[2].kind",
        "cell block 'C' has no equipment of type cell",
    ),
    (
        "bad-tag-name",
        with_tag(name="1temp"),
        "lines[0].equipment[0].extra_tags[0].name",
        "tag names are identifiers",
    ),
    (
        "override-unknown-tag",
        mutate("lines.0.equipment.0.opcua", {"temperature": {"node": "nsu=urn:a;i=1"}}),
        "lines[0].equipment[0].opcua.temperature",
        "'L1-WELD' has no tag 'temperature'",
    ),
    (
        "override-bad-node",
        mutate("lines.0.equipment.0.opcua", {"state": {"node": "nsu=urn:a;x=1"}}),
        "lines[0].equipment[0].opcua.state.node",
        "bad NodeId 'nsu=urn:a;x=1'",
    ),
    (
        "map-to-unknown-state",
        mutate("lines.0.equipment.0.opcua", {"state": {"node": "nsu=urn:a;i=1", "map": {1: "Runing"}}}),
        "lines[0].equipment[0].opcua.state",
        "'Runing' is not a station state",
    ),
    (
        "rules-without-default",
        mutate(
            "lines.0.equipment.0.opcua", {"state": {"when": [{"node": "nsu=urn:a;i=1", "value": "Fault"}]}}
        ),
        "lines[0].equipment[0].opcua.state.default",
        "needs a default",
    ),
    (
        "rule-without-node",
        with_tag(name="state", node="nsu=urn:a;i=1", when=[{"value": "Fault"}]),
        "lines[0].equipment[0].extra_tags[0].when[0]",
        "a rule needs a node",
    ),
    (
        "rule-node-and-browse-path",
        with_tag(
            name="state",
            node="nsu=urn:a;i=1",
            when=[{"node": "nsu=urn:a;i=2", "browse_path": ["urn:a:Plant", "Fault"], "value": "Fault"}],
        ),
        "lines[0].equipment[0].extra_tags[0].when[0].browse_path",
        "give either node or browse_path, not both",
    ),
    (
        "rule-empty-browse-path",
        with_tag(name="state", node="nsu=urn:a;i=1", when=[{"browse_path": [], "value": "Fault"}]),
        "lines[0].equipment[0].extra_tags[0].when[0].browse_path",
        "empty browse path",
    ),
    (
        "rule-empty-browse-name",
        with_tag(
            name="state", node="nsu=urn:a;i=1", when=[{"browse_path": ["Plant", " "], "value": "Fault"}]
        ),
        "lines[0].equipment[0].extra_tags[0].when[0].browse_path[1]",
        "empty browse name",
    ),
    (
        "template-unknown-placeholder",
        mutate("lines.0.opcua.template", {"state": {"node": "nsu=urn:a;s={station}.State"}}),
        "lines[0].opcua.template.state.node",
        "unknown placeholder {station}",
    ),
    (
        "template-unknown-tag",
        mutate("lines.0.opcua.template", {"nosuch": {"node": "nsu=urn:a;s={equipment}.X"}}),
        "lines[0].opcua.template.nosuch",
        "no equipment of line 'L1' has a tag 'nosuch'",
    ),
    (
        "scale-empty-range",
        with_tag(scale={"raw": [5, 5], "eng": [0, 100]}),
        "lines[0].equipment[0].extra_tags[0].scale.raw",
        "the raw range is empty",
    ),
    (
        "bad-array-reduce",
        with_tag(array="median"),
        "lines[0].equipment[0].extra_tags[0].array",
        "Input should be 'keep'",
    ),
    (
        "bad-preset",
        mutate("lines.0.equipment.0.opcua", {"state": {"node": "nsu=urn:a;i=1", "preset": "isa88"}}),
        "lines[0].equipment[0].opcua.state.preset",
        "Input should be 'packml'",
    ),
    (
        "duplicate-extra-tag",
        mutate("lines.0.equipment.0.extra_tags", [{"name": "t"}, {"name": "t"}]),
        "lines[0].equipment[0].extra_tags",
        "tag 't' is defined twice",
    ),
    (
        "unknown-tag-type",
        with_tag(type="double"),
        "lines[0].equipment[0].extra_tags[0].type",
        "'float', 'int'",
    ),
    (
        "tag-min-above-max",
        with_tag(min=10, max=1),
        "lines[0].equipment[0].extra_tags[0].min",
        "min 10.0 is greater than max 1.0",
    ),
    (
        "bad-node-id-no-ns",
        with_tag(node="2;s=x"),
        "lines[0].equipment[0].extra_tags[0].node",
        "bad NodeId '2;s=x'",
    ),
    ("bad-node-id-kind", with_tag(node="ns=2;x=5"), "lines[0].equipment[0].extra_tags[0].node", "bad NodeId"),
    (
        "bad-node-id-numeric",
        with_tag(node="ns=2;i=abc"),
        "lines[0].equipment[0].extra_tags[0].node",
        "bad NodeId",
    ),
    (
        "bad-node-id-guid",
        with_tag(node="ns=1;g=1234"),
        "lines[0].equipment[0].extra_tags[0].node",
        "bad NodeId",
    ),
    (
        "node-and-browse-path",
        with_tag(node="ns=2;i=5", browse_path=["2:PLC"]),
        "lines[0].equipment[0].extra_tags[0].browse_path",
        "not both",
    ),
    (
        "empty-browse-name",
        with_tag(browse_path=["2:PLC", " "]),
        "lines[0].equipment[0].extra_tags[0].browse_path[1]",
        "empty browse name",
    ),
    (
        "tag-endpoint-http",
        with_tag(endpoint="http://plc:4840"),
        "lines[0].equipment[0].extra_tags[0].endpoint",
        "expected opc.tcp://host:port",
    ),
    (
        "line-endpoint-scheme",
        mutate("lines.0.opcua.endpoint", "tcp://127.0.0.1:4841"),
        "lines[0].opcua.endpoint",
        "bad OPC UA endpoint 'tcp://127.0.0.1:4841'",
    ),
    (
        "line-endpoint-port",
        mutate("lines.0.opcua.endpoint", "opc.tcp://127.0.0.1:99999"),
        "lines[0].opcua.endpoint",
        "port 99999 is out of range",
    ),
    (
        "line-opcua-typo",
        mutate("lines.0.opcua", {"endpiont": "opc.tcp://h:1"}),
        "lines[0].opcua.endpiont",
        "unknown field (did you mean 'endpoint'?)",
    ),
    (
        "line-opcua-odd-key",  # found by the fuzz test: the path is quoted and the error stays one line
        mutate("lines.0.opcua", {"end point\n": "opc.tcp://h:1"}),
        "lines[0].opcua['end point\\n']",
        "unknown field (did you mean 'endpoint'?)",
    ),
    (
        "edge-unknown-source",
        mutate("edges.0.source", "C-AGV9"),
        "edges[0].source",
        "unknown equipment or line 'C-AGV9'",
    ),
    (
        "edge-unknown-target",
        mutate("edges.1.target", "C-3"),
        "edges[1].target",
        "unknown equipment or line 'C-3'",
    ),
    (
        "self-edge",
        mutate("edges.2", {"source": "C-1", "target": "C-1"}),
        "edges[2]",
        "edge from 'C-1' to itself",
    ),
    ("unknown-edge-kind", mutate("edges.0.kind", "carries"), "edges[0].kind", "'feeds', 'part_of'"),
    (
        "transports-from-cell",
        mutate("edges.2", {"source": "C-1", "target": "C-2", "kind": "transports"}),
        "edges[2].source",
        "start at an AGV or conveyor",
    ),
    (
        "duplicate-edge",
        mutate("edges.2", {"source": "C-AGV", "target": "C-1", "kind": "transports"}),
        "edges[2]",
        "duplicate transports edge 'C-AGV' -> 'C-1' (edges[0])",
    ),
    ("model-without-routing", mutate("models.0.routing", []), "models[0].routing", "at least 1 item"),
    ("duplicate-model-id", mutate("models.1.id", "A"), "models[1].id", "duplicate model id 'A'"),
    (
        "routing-unknown-line",
        mutate("models.0.routing.0.lines", ["L9"]),
        "models[0].routing[0].lines",
        "unknown line 'L9'",
    ),
    (
        "routing-unknown-station",
        mutate("models.0.routing.0.stations", ["L1-WELDER"]),
        "models[0].routing[0].stations",
        "unknown station 'L1-WELDER'",
    ),
    (
        "routing-station-is-buffer",
        mutate("models.0.routing.0.stations", ["L1-BUF"]),
        "models[0].routing[0].stations",
        "'L1-BUF' is a buffer, not a station or cell",
    ),
    (
        "operation-nobody-does",
        mutate("models.1.routing.1.operation", "polish"),
        "models[1].routing[1].operation",
        "no station can do operation 'polish' for model 'B'",
    ),
    (
        "operation-not-on-allowed-line",
        mutate("models.0.routing.0.stations", ["L2-PAINT"]),
        "models[0].routing[0].operation",
        "no station can do operation 'weld'",
    ),
    (
        "zero-cycle-time",
        mutate("models.0.routing.2.cycle_s", 0),
        "models[0].routing[2].cycle_s",
        "greater than 0",
    ),
    (
        "cycle-time-text",
        mutate("models.0.routing.2.cycle_s", "1 min"),
        "models[0].routing[2].cycle_s",
        "valid number",
    ),
    ("changeover-unknown-model", mutate("changeovers.0.to", "C"), "changeovers[0].to", "unknown model 'C'"),
    (
        "changeover-negative",
        mutate("changeovers.0.seconds", -1),
        "changeovers[0].seconds",
        "greater than or equal to 0",
    ),
    ("changeover-to-itself", mutate("changeovers.0.to", "A"), "changeovers[0]", "from 'A' to itself"),
    (
        "changeover-twice",
        mutate("changeovers.1", {"from": "A", "to": "B", "seconds": 5}),
        "changeovers[1]",
        "already given at changeovers[0]",
    ),
    ("changeover-missing-to", mutate("changeovers.0.to", DELETE), "changeovers[0].to", "required field"),
    (
        "negative-default-changeover",
        mutate("default_changeover_s", -3),
        "default_changeover_s",
        "greater than or equal to 0",
    ),
    ("demand-unknown-model", mutate("demand.Z", 5), "demand.Z", "unknown model 'Z' (known: A, B)"),
    ("demand-negative", mutate("demand.A", -1), "demand.A", "quantity must be >= 0 (got -1)"),
    ("demand-fraction", mutate("demand.A", 2.5), "demand.A", "valid integer"),
    ("demand-not-mapping", mutate("demand", [100, 200]), "demand", "valid dictionary"),
    ("demand-key-not-text", mutate("demand", {1: 5}), "demand[1]", "keys here must be ids"),
    (
        "shift-bad-time",
        mutate("calendar.shifts", [{"name": "d", "start": "6am", "end": "14:00"}]),
        "calendar.shifts[0].start",
        'expected a clock time "HH:MM"',
    ),
    (
        "shift-hour-25",
        mutate("calendar.shifts", [{"name": "d", "start": "06:00", "end": "25:00"}]),
        "calendar.shifts[0].end",
        "(got '25:00')",
    ),
    (
        "shift-unquoted-time",
        mutate("calendar.shifts", [{"name": "d", "start": "06:00", "end": 840}]),
        "calendar.shifts[0].end",
        "quote it",
    ),
    (
        "shift-zero-length",
        mutate("calendar.shifts", [{"name": "d", "start": "06:00", "end": "06:00"}]),
        "calendar.shifts[0].end",
        "starts and ends at 06:00",
    ),
    (
        "shift-duplicate-name",
        mutate(
            "calendar.shifts",
            [
                {"name": "d", "start": "06:00", "end": "14:00"},
                {"name": "d", "start": "14:00", "end": "22:00"},
            ],
        ),
        "calendar.shifts[1].name",
        "duplicate shift name 'd'",
    ),
    ("zero-horizon", mutate("calendar.horizon_hours", 0), "calendar.horizon_hours", "greater than 0"),
    (
        "new-station-bad-op-type",
        mutate("lines.0.equipment.4", {**STATION, "operations": "weld"}),
        "lines[0].equipment[4].operations",
        "valid list",
    ),
]


@pytest.mark.parametrize(("data", "field", "problem"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_config_names_field_and_problem(data: Any, field: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        if isinstance(data, str):
            parse_plant(data, source="bad.yaml")
        else:
            plant_from_data(data, source="bad.yaml")
    err = info.value
    assert err.file == "bad.yaml"
    assert err.field == field, str(err)
    assert problem in err.problem, str(err)
    assert "\n" not in str(err)
    assert str(err).startswith(f"bad.yaml: {field}: " if field else "bad.yaml: ")


def test_case_table_is_large_and_distinct() -> None:
    assert len(CASES) >= 40
    assert len({c[0] for c in CASES}) == len(CASES)


def test_the_base_of_the_table_is_valid() -> None:
    plant = plant_from_data(base(), "mini")
    assert plant.id == "mini"
    # a valid tag mapping of every supported form passes
    for node in (
        "ns=2;i=1001",
        "ns=2;s=L1.W1.state",
        "nsu=urn:x:y;s=a b",
        "i=2253",
        "ns=1;g=09087e75-8e5e-499b-954f-f2a9603db28a",
        "ns=3;b=M/RbKBsRVkePCePcx24oRA==",
    ):
        plant_from_data(with_tag(node=node, endpoint="opc.tcp://[::1]:4840/path"), "ok")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_plant(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_plant(tmp_path)
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("id: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_plant(bad)


def test_demo_plant_matches_the_scenario() -> None:
    plant = load_plant(DEMO_PLANT)
    kinds = {line.kind for line in plant.lines}
    assert kinds == {LineKind.DEDICATED, LineKind.MIXED, LineKind.CELLS}
    processing = [e for e in plant.equipment() if e.type in PROCESSING_TYPES]
    assert len(processing) >= 40
    assert len(plant.models) >= 4
    assert {e.type for e in plant.equipment()} >= {
        EquipmentType.CELL,
        EquipmentType.AGV,
        EquipmentType.BUFFER,
    }
    ports = [line.opcua.endpoint for line in plant.lines if line.opcua]
    assert ports == [f"opc.tcp://127.0.0.1:{48400 + i}" for i in (1, 2, 3)]
    dedicated = next(line for line in plant.lines if line.kind == LineKind.DEDICATED)
    # the dedicated line's model can run elsewhere, and other models can run on the dedicated line
    lines_of = {m.id: {e.line for s in m.routing for e in plant.eligible(s)} for m in plant.models}
    on_dedicated = [m for m, lines in lines_of.items() if dedicated.id in lines]
    assert len(on_dedicated) >= 2
    assert any(len(lines) >= 2 for m, lines in lines_of.items() if m in on_dedicated)
    assert sum(plant.demand.values()) > 0


@pytest.mark.timeout(60)
def test_cli_load_bad_config_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    data = base()
    data["lines"][0]["equipment"][0]["power_kw"] = -5
    bad.write_text(yaml.safe_dump(data))
    env = {**os.environ, "REDIS_URL": "redis://127.0.0.1:1/0"}  # never reached: the config fails first
    res = subprocess.run(
        [str(TWIN), "load", "--config", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert res.returncode == 2, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert str(bad) in lines[0] and "lines[0].equipment[0].power_kw" in lines[0]
    assert "greater than or equal to 0" in lines[0]
    assert "Traceback" not in res.stderr + res.stdout


# ------------------------------------------------------------------ property: never another exception
def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


_BASE = base()
_PATHS = _paths(_BASE)
_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["L1", "L1-WELD", "A", "weld", "06:00", "opc.tcp://x", "ns=2;i=1"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
_mutation = st.tuples(st.sampled_from(_PATHS), st.sampled_from(["set", "delete", "dup"]), _values)


def _apply(data: Any, path: tuple[Any, ...], op: str, value: Any) -> None:
    node = data
    for part in path[:-1]:
        node = node[part]
    key = path[-1]
    if op == "delete":
        del node[key]
    elif op == "dup" and isinstance(node, list):
        node.append(copy.deepcopy(node[key]))
    else:
        node[key] = value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_mutation, min_size=1, max_size=4))
def test_random_mutations_validate_or_raise_config_error(mutations: list[tuple[Any, str, Any]]) -> None:
    data = copy.deepcopy(_BASE)
    for path, op, value in mutations:
        try:
            _apply(data, path, op, value)
        except (KeyError, IndexError, TypeError):  # an earlier mutation removed/replaced the parent
            continue
    try:
        plant_from_data(data, "fuzz.yaml")
    except ConfigError as exc:
        assert exc.file == "fuzz.yaml"
        assert "\n" not in str(exc)
