"""Mirror a PLC served by node-opcua (npm), an OPC UA stack we did not write, into the twin.

node-opcua is installed into ``tests/interop/node/node_modules`` (gitignored) on first use with npm (the
``node_opcua`` / ``node_plc`` fixtures in ``conftest.py``); the test is skipped only when Node.js is absent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.opcua.session import AdapterOptions
from tests.adapters.helpers import start_adapter, stop_adapter
from tests.support.wait import wait_until_async
from twin.config import plant_from_data
from twin.model import Plant
from twin.store import TwinStore

NS = "urn:sdf-twin:interop"
pytestmark = pytest.mark.timeout(600)


def node_plant(url: str) -> Plant:
    return plant_from_data(
        {
            "id": "interop",
            "lines": [
                {
                    "id": "N",
                    "opcua": {"endpoint": url, "namespace_uri": NS},
                    "equipment": [
                        {
                            "id": "PRESS",
                            "type": "conveyor",  # its standard 'state' tag uses the default NodeId
                            "extra_tags": [
                                {"name": "speed", "type": "float", "unit": "kW", "node": f"nsu={NS};i=5001"},
                                {
                                    "name": "count",
                                    "type": "int",
                                    "min": 0,
                                    "browse_path": [f"{NS}:Plant", "Line1", "PartCount"],
                                },
                                {"name": "temps", "type": "float", "node": f"nsu={NS};s=Press.Temps"},
                                {"name": "model", "type": "string", "node": f"nsu={NS};s=Press.Model"},
                            ],
                        }
                    ],
                }
            ],
        }
    )


@pytest.mark.timeout(120)
async def test_node_opcua_values_arrive_in_redis(redis_url: str, node_plc: str) -> None:
    plant = node_plant(node_plc)
    store = TwinStore.from_url(redis_url)
    store.load_plant(plant)
    adapter, task, astore = await start_adapter(
        plant, node_plc, redis_url, AdapterOptions(publish_interval_ms=100)
    )
    try:
        await adapter.wait_connected(30)
        assert adapter.status.problems == [], [str(p) for p in adapter.status.problems]

        def tags() -> dict[str, Any]:
            return {k: v for k, (v, _q, _ts) in store.read_tags("PRESS").items()}

        await wait_until_async("the first publish cycle in Redis", lambda: "count" in tags())
        first = tags()["count"]
        await wait_until_async("a newer count (live changes)", lambda: tags()["count"] > first)
        t = tags()
        assert t["state"] == "Running"  # node-opcua enumeration: the code mirrored as its name
        assert 100 <= t["speed"] < 150
        assert t["temps"][:2] == [20.5, 21.5] and len(t["temps"]) == 3
        assert t["model"] in ("A", "B")
        assert {q for _v, q, _ts in store.read_tags("PRESS").values()} == {"good"}
    finally:
        await stop_adapter(adapter, task, astore)
        store.client.close()


async def _command(url: str, text: str) -> None:
    """Change a value on the node-opcua PLC through its writable command variable (``name=json``)."""
    from asyncua import Client

    async with Client(url) as client:
        ns = await client.get_namespace_index("urn:acme:s7")
        node = client.get_node(f'ns={ns};s="DB_Line2"."ST010"."Cmd"')
        await node.write_value(text)


@pytest.mark.timeout(180)
async def test_node_opcua_s7_cell_browse_draft_load_adapt(
    redis_url: str, node_plc: str, tmp_path: Path
) -> None:
    """browse -> draft -> (a person adds the PackML preset) -> load -> adapt, on node-opcua's S7 cell."""
    from tests.helpers import cli_env, run_twin
    from twin.config import load_plant

    res = run_twin("opcua", "browse", node_plc, "--json", env=cli_env())
    assert res.returncode == 0, res.stderr
    nodes = {n["node_id"]: n for n in json.loads(res.stdout)["nodes"]}
    power = nodes['nsu=urn:acme:s7;s="DB_Line2"."ST010"."Power"']
    assert (power["data_type"], power["unit"], power["value"]) == ("Double", "W", 12500.0)
    out = tmp_path / "s7.yaml"
    root = "nsu=urn:acme:s7;i=1000"  # the DB_Line2 folder
    assert nodes[root]["browse_path"] == ["urn:acme:s7:DB_Line2"]
    res = run_twin(
        "opcua", "draft", node_plc, "--root", root, "--out", str(out), "--line", "S7", env=cli_env()
    )
    assert res.returncode == 0, res.stderr
    text = out.read_text()
    state_line = next(line for line in text.splitlines() if line.strip().startswith("state:"))
    assert '"nsu=urn:acme:s7;s=\\"DB_Line2\\".\\"ST010\\".\\"PackMLState\\""' in state_line
    mode = 'nsu=urn:acme:s7;s=\\"DB_Line2\\".\\"ST010\\".\\"UnitMode\\"'
    edited = (
        state_line.split("}", 1)[0]
        + f', preset: packml, when: [{{node: "{mode}", equals: 5, value: Changeover}}]}}'
    )
    counts = 'nsu=urn:acme:s7;s=\\"DB_Line2\\".\\"ST010\\".\\"Counts\\"'
    text = text.replace(state_line, edited).replace(
        "        extra_tags:\n",
        f'        extra_tags:\n          - {{name: counts_max, type: int, node: "{counts}", array: max}}\n',
        1,
    )
    out.write_text(text)
    plant = load_plant(out)
    store = TwinStore.from_url(redis_url)
    store.load_plant(plant)
    adapter, task, astore = await start_adapter(
        plant, node_plc, redis_url, AdapterOptions(publish_interval_ms=100)
    )

    def tags() -> dict[str, Any]:
        return {k: (v, q) for k, (v, q, _ts) in store.read_tags("ST010").items()}

    try:
        await adapter.wait_connected(30)
        assert adapter.status.problems == [], [str(p) for p in adapter.status.problems]
        await wait_until_async(
            "tags().get('state') == ('Running', 'good')", lambda: tags().get("state") == ("Running", "good")
        )  # PackML Execute
        t = tags()
        assert t["power_kw"] == (12.5, "good")  # W -> kW from the AnalogItem's EUInformation
        assert t["counts"] == ([1, 5, 2], "good") and t["counts_max"] == (5, "good")
        await _command(node_plc, "PackMLState=11")  # Held
        await wait_until_async(
            "tags()['state'] == ('Blocked', 'good')", lambda: tags()["state"] == ("Blocked", "good")
        )
        await _command(node_plc, "UnitMode=5")
        await wait_until_async(
            "tags()['state'] == ('Changeover', 'good')", lambda: tags()["state"] == ("Changeover", "good")
        )
        await _command(node_plc, "UnitMode=1")
        await _command(node_plc, "PackMLState=42")  # no PackML state: uncertain, raw kept
        await wait_until_async(
            "tags()['state'] == (42, 'uncertain')", lambda: tags()["state"] == (42, "uncertain")
        )
    finally:
        await stop_adapter(adapter, task, astore)
        store.client.close()
