"""The live feed over a real WebSocket: auth, filters, and resume after a disconnect with nothing lost."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.api.conftest import ApiEnv
from tests.support.wait import wait_until_async
from twin.api.ws import ChangeHub

pytestmark = pytest.mark.timeout(60)


def _ws(env: ApiEnv, role: str = "viewer", **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"token": env.tokens[role], **params}.items())
    return f"{env.server.ws_url}/api/v1/ws/changes?{query}"


async def _recv(ws: ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), timeout)))


async def _until_hello(ws: ClientConnection) -> dict[str, Any]:
    msg = await _recv(ws)
    assert msg["type"] == "hello", msg
    return msg


async def test_no_token_is_refused_with_a_reason(api_env: ApiEnv) -> None:
    async with connect(f"{api_env.server.ws_url}/api/v1/ws/changes") as ws:
        msg = await _recv(ws)
        assert msg["type"] == "error" and msg["error"]["code"] == "unauthorized"
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 4401
    assert "token" in info.value.rcvd.reason


async def test_bad_filter_is_refused(api_env: ApiEnv) -> None:
    async with connect(_ws(api_env, line="NOPE")) as ws:
        msg = await _recv(ws)
        assert msg["type"] == "error" and "NOPE" in msg["error"]["message"]
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 4422


async def test_token_in_subprotocol(api_env: ApiEnv) -> None:
    url = f"{api_env.server.ws_url}/api/v1/ws/changes"
    async with connect(url, subprotocols=["twin.v1", f"bearer.{api_env.tokens['viewer']}"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "twin.v1"
        hello = await _until_hello(ws)
        assert hello["user"] == "test-viewer"
        api_env.store.write_changes([("L1-WELD", "alarm", "subprotocol", "good", time.time())])
        msg = await _recv(ws)
        assert msg["type"] == "changes" and msg["changes"][0]["value"] == "subprotocol"


async def test_server_side_filters(api_env: ApiEnv) -> None:
    async with connect(_ws(api_env, line="L2", tag="state,alarm")) as ws:
        await _until_hello(ws)
        now = time.time()
        store = api_env.store
        store.write_changes([("L1-WELD", "state", 1, "good", now)])  # other line: dropped
        store.write_changes([("L2-WELD", "power_kw", 3.0, "good", now)])  # other tag: dropped
        store.write_changes([("L2-WELD", "state", 1, "good", now), ("L2-WELD", "power_kw", 4.0, "good", now)])
        store.write_changes([("L2-ASSY", "alarm", "E42", "good", now), ("C-1", "alarm", "X", "good", now)])
        first = await _recv(ws)
        second = await _recv(ws)
    assert [(c["equipment"], c["tag"]) for c in first["changes"]] == [("L2-WELD", "state")]
    assert [(c["equipment"], c["tag"], c["value"]) for c in second["changes"]] == [
        ("L2-ASSY", "alarm", "E42")
    ]


async def test_station_filter(api_env: ApiEnv) -> None:
    async with connect(_ws(api_env, station="C-1,C-2")) as ws:
        await _until_hello(ws)
        now = time.time()
        api_env.store.write_changes([("L1-WELD", "state", 2, "good", now)])
        api_env.store.write_changes([("C-2", "state", 2, "good", now)])
        msg = await _recv(ws)
    assert [c["equipment"] for c in msg["changes"]] == ["C-2"]


async def test_resume_after_disconnect_gets_every_change_exactly_once(api_env: ApiEnv) -> None:
    """Disconnect mid-stream while changes keep coming; reconnect with the last id; count every change."""
    store = api_env.store
    base = store.change_stream_info()["last_id"] or "0-0"
    marker = "RESUME"
    total = 600

    def write(lo: int, hi: int, pause: float = 0.0) -> None:
        for i in range(lo, hi):
            store.write_changes([("L1-PAINT", "alarm", f"{marker}-{i}", "good", time.time())])
            if pause:
                time.sleep(pause)

    got: list[tuple[str, str]] = []

    def take(msg: dict[str, Any]) -> None:
        assert msg["type"] == "changes", msg
        for c in msg["changes"]:
            if isinstance(c["value"], str) and c["value"].startswith(marker):
                got.append((msg["id"], c["value"]))

    # first connection: resume from a known point, read part of the stream, then drop the connection
    async with connect(_ws(api_env, after=base, station="L1-PAINT", tag="alarm")) as ws:
        await _until_hello(ws)
        write(0, 200)
        while len(got) < 70:
            take(await _recv(ws))
    last_id = got[-1][0]
    # changes written while disconnected, and more written while the client reconnects and catches up
    write(200, 400)
    writer = threading.Thread(target=write, args=(400, total, 0.002))
    writer.start()
    try:
        async with connect(_ws(api_env, after=last_id, station="L1-PAINT", tag="alarm")) as ws:
            hello = await _until_hello(ws)
            assert hello["after"] == last_id
            while len(got) < total:
                take(await _recv(ws))
            # nothing more than the total arrives (no duplicates trailing behind)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.5)
    finally:
        writer.join()
    values = [v for _id, v in got]
    assert values == [f"{marker}-{i}" for i in range(total)]
    ids = [i for i, _v in got]
    assert len(set(ids)) == total and ids == sorted(ids, key=lambda s: tuple(map(int, s.split("-"))))


async def test_live_only_without_after_and_resume_from_hello(api_env: ApiEnv) -> None:
    store = api_env.store
    store.write_changes([("L1-ASSY", "alarm", "before-connect", "good", time.time())])
    async with connect(_ws(api_env, station="L1-ASSY")) as ws:
        hello = await _until_hello(ws)
        store.write_changes([("L1-ASSY", "alarm", "after-connect", "good", time.time())])
        msg = await _recv(ws)
    assert msg["changes"][0]["value"] == "after-connect"
    # the hello's last_id is a resume point: resuming there replays exactly what came after it
    async with connect(_ws(api_env, station="L1-ASSY", after=hello["last_id"])) as ws:
        await _until_hello(ws)
        again = await _recv(ws)
    assert again["id"] == msg["id"]


async def test_many_clients_get_the_same_entries(api_env: ApiEnv) -> None:
    n = 10
    conns = [await connect(_ws(api_env, station="L2-PAINT")) for _ in range(n)]
    try:
        for ws in conns:
            await _until_hello(ws)
        for i in range(20):
            api_env.store.write_changes([("L2-PAINT", "part_count", i, "good", time.time())])
        for ws in conns:
            vals = [(await _recv(ws))["changes"][0]["value"] for _ in range(20)]
            assert vals == list(range(20))
        r = await asyncio.to_thread(lambda: __import__("httpx").get(api_env.url + "/metrics").text)
        assert f"twin_ws_clients {n}" in r
    finally:
        for ws in conns:
            await ws.close()


async def test_resume_id_ahead_of_the_stream_is_reset_with_a_warning(api_env: ApiEnv) -> None:
    async with connect(_ws(api_env, after="99999999999999-0", station="C-1")) as ws:
        warn = await _recv(ws)
        assert warn["type"] == "warning" and warn["code"] == "ahead"
        hello = await _until_hello(ws)
        assert hello["after"] == warn["last_id"]
        api_env.store.write_changes([("C-1", "alarm", "after-reset", "good", time.time())])
        msg = await _recv(ws)
    assert msg["changes"][0]["value"] == "after-reset"


def _first_entry(sub: Any) -> Any:
    """The next entry queued for ``sub``, or None while there is none."""
    return None if sub.queue.empty() else sub.queue.get_nowait()


async def test_slow_client_queue_overflows_into_a_wake_up_not_a_leak(api_env: ApiEnv) -> None:
    """A subscriber whose queue is full is marked overflowed and gets the wake-up sentinel (its handler then
    closes the socket with code 4008 and the resume id); it receives nothing more, and nothing grows."""
    hub = ChangeHub(api_env.store, block_ms=50, queue_max=10)
    hub.ensure_started()
    sub = hub.subscribe()
    try:
        for i in range(30):
            api_env.store.write_changes([("L2-WELD", "alarm", f"slow-{i}", "good", time.time())])
        await wait_until_async("the slow subscriber to overflow", lambda: sub.overflowed, timeout=10)
        items = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
        assert items[-1] is None and len(items) == 11  # 10 entries, then the wake-up
        assert [e.changes[0].value for e in items[:-1] if e is not None] == [f"slow-{i}" for i in range(10)]
        witness = hub.subscribe()  # a healthy subscriber sees the next entry: the hub has fanned it out
        try:
            api_env.store.write_changes([("L2-WELD", "alarm", "later", "good", time.time())])
            entry = await wait_until_async(
                "the next entry to reach a healthy subscriber", lambda: _first_entry(witness), timeout=10
            )
            assert entry.changes[0].value == "later"
        finally:
            hub.unsubscribe(witness)
        assert sub.queue.qsize() == 0  # an overflowed subscriber is not fed any more
    finally:
        hub.unsubscribe(sub)
        await asyncio.to_thread(hub.stop)
