"""``twin opcua browse -> draft -> twin load -> twin adapt --check -> twin adapt`` on a PLC we did not write
(the vendor-shaped python-opcua 0.98 server), run as a user runs the CLI."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import TWIN, cli_env, free_port, run_twin
from tests.support.vendor_plc import GUID, VendorPlc, vendor_plc
from tests.support.wait import wait_until_async
from twin.config import load_plant
from twin.store import TwinStore

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def plc() -> Iterator[VendorPlc]:
    with vendor_plc(free_port()) as p:
        yield p


def test_browse_json_lists_nodes_in_nsu_form(plc: VendorPlc) -> None:
    res = run_twin("opcua", "browse", plc.url, "--json", env=cli_env())
    assert res.returncode == 0, res.stderr
    nodes = {n["node_id"]: n for n in json.loads(res.stdout)["nodes"]}
    state = nodes['nsu=urn:acme:plc;s="DB_Line1"."R01"."State"']
    assert state["browse_path"] == ["urn:acme:plc:Plant", "Line1", "R01", "State"]
    assert (state["node_class"], state["data_type"], state["value"]) == ("Variable", "Int32", 1)
    power = nodes['nsu=urn:acme:plc;s="DB_Line1"."R01"."Power"']
    assert power["unit"] == "W"
    temps = nodes['nsu=urn:acme:plc;s="DB_Line1"."R01"."Temps"']
    assert temps["value_rank"] == 1 and temps["value"] == [20.0, 21.0, 22.0, 23.0]
    assert nodes[f"nsu=urn:acme:plc;g={GUID}"]["value"] == 0.5
    assert nodes["nsu=urn:acme:plc;s=L1.AGV.Status"]["value"] == "Idle"
    assert all(not n["node_id"].startswith("i=") for n in nodes.values())  # the Server object is left out
    shallow = run_twin("opcua", "browse", plc.url, "--json", "--depth", "2", env=cli_env())
    assert {n["node_id"] for n in json.loads(shallow.stdout)["nodes"]} == {
        "nsu=urn:acme:plc;s=Plant",
        "nsu=urn:acme:plc;s=Plant.Line1",
    }
    # variables on the last level: their properties were not browsed, so the unit is looked up by path
    last = run_twin("opcua", "browse", plc.url, "--json", "--depth", "4", env=cli_env())
    deep = {n["node_id"]: n for n in json.loads(last.stdout)["nodes"]}
    assert deep['nsu=urn:acme:plc;s="DB_Line1"."R01"."Power"']["unit"] == "W"


def test_draft_load_check_adapt_end_to_end(plc: VendorPlc, redis_url: str, tmp_path: Path) -> None:
    from opcua import ua

    out = tmp_path / "plant.yaml"
    res = run_twin("opcua", "draft", plc.url, "--out", str(out), "--line", "Line1", env=cli_env())
    assert res.returncode == 0, res.stderr
    text = out.read_text()
    again = tmp_path / "again.yaml"
    run_twin("opcua", "draft", plc.url, "--out", str(again), "--line", "Line1", env=cli_env())
    assert again.read_text() == text  # deterministic
    assert "# guess: 'State' (Int32)" in text and "TODO" in text
    plant = load_plant(out)
    eq = plant.equipment_by_id()
    assert sorted(eq) == ["AGV", "PACK", "PRESS", "R01"]
    assert eq["PRESS"].opcua["state"] is not None and eq["PRESS"].opcua["state"].when  # from the bits

    res = run_twin("load", "--config", str(out), env=cli_env(redis_url))
    assert res.returncode == 0, res.stderr
    res = run_twin("adapt", "--config", str(out), "--check", "--json", env=cli_env())
    assert res.returncode == 0, res.stdout + res.stderr
    rows = {r["tag"]: r for r in json.loads(res.stdout)["tags"]}
    assert rows["R01.power_kw"]["unit"] == "W -> kW" and rows["R01.power_kw"]["quality"] == "good"
    assert rows["R01.state"]["value"] == 1 and rows["R01.state"]["type"] == "Int32"
    assert rows["PRESS.state"]["value"] == "Idle"
    assert rows["R01.temps"]["type"] == "Double[]"
    assert all(r["problem"] == "" for r in rows.values()), rows

    proc = subprocess.Popen(
        [*TWIN, "adapt", "--config", str(out), "--publish-interval-ms", "50"],
        env=cli_env(redis_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    store = TwinStore.from_url(redis_url)
    try:
        plc.set("Power", 2500.0, ua.VariantType.Double)
        plc.set("Fault", True, ua.VariantType.Boolean)

        def tags(e: str) -> dict[str, Any]:
            return {k: (v, q) for k, (v, q, _ts) in store.read_tags(e).items()}

        import asyncio

        async def arrive() -> None:
            await wait_until_async(
                "tags('R01').get('power_kw') == (2.5, 'good')",
                lambda: tags("R01").get("power_kw") == (2.5, "good"),
                timeout=60,
            )
            await wait_until_async(
                "tags('PRESS').get('state') == ('Fault', 'good')",
                lambda: tags("PRESS").get("state") == ("Fault", "good"),
                timeout=60,
            )

        asyncio.run(arrive())
        assert "model" not in tags("R01")  # unbound standard tags are absent (naming: explicit)
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
        store.client.close()
    assert proc.returncode == 0, err[-2000:]


def test_check_names_bad_bindings_and_fails(plc: VendorPlc, tmp_path: Path) -> None:
    out = tmp_path / "plant.yaml"
    run_twin("opcua", "draft", plc.url, "--out", str(out), env=cli_env())
    text = out.read_text().replace('Parts\\"', 'Partz\\"')  # in YAML: s=\"DB_Line1\".\"R01\".\"Parts\"
    assert "Partz" in text
    out.write_text(text)
    res = run_twin("adapt", "--config", str(out), "--check", "--json", env=cli_env())
    assert res.returncode == 1
    rows = {r["tag"]: r for r in json.loads(res.stdout)["tags"]}
    assert "unknown node (BadNodeIdUnknown)" in rows["R01.part_count"]["problem"]
    assert rows["R01.power_kw"]["problem"] == ""
    assert "1 of" in res.stderr and "cannot be mirrored" in res.stderr


def test_draft_per_object_type_instance(plc: VendorPlc, tmp_path: Path) -> None:
    out = tmp_path / "typed.yaml"
    # every object of this server is a BaseObjectType (i=58); its folders are FolderType (i=61)
    res = run_twin(
        "opcua", "draft", plc.url, "--out", str(out), "--type", "i=58", "--line", "L9", env=cli_env()
    )
    assert res.returncode == 0, res.stderr
    plant = load_plant(out)
    assert [e.id for e in plant.equipment()] == ["R01", "PACK", "PRESS", "AGV"]
    assert plant.lines[0].id == "L9"
    res = run_twin("opcua", "draft", plc.url, "--out", str(out), "--type", "i=61", env=cli_env())
    assert res.returncode == 2 and "exists: pass --force" in res.stderr
    res = run_twin("opcua", "draft", plc.url, "--out", str(out), "--force", "--type", "i=2004", env=cli_env())
    assert res.returncode == 1 and "no instance of i=2004 under the browse root" in res.stderr
