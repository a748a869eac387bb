"""A fast OPC UA load server for ``twin bench ingest``: the binary protocol over TCP, few services, no model.

A Python OPC UA server (asyncua) spends tens of microseconds per value change (address-space write,
monitored-item callbacks, reflective encoding), so a few of them on a 2-core machine cannot offer more
changes per second than a good client absorbs: an "overload" measured against them only measures the
source. This server is the "another fast server" of the benchmark: it speaks real OPC UA (UA-TCP
Hello/Acknowledge, secure channel with SecurityPolicy None, sessions, Read, subscriptions, monitored
items, Publish) to unmodified clients, but holds no address space: its publish responses are encoded
rows (:mod:`benchmarks.loadencoding`). Every monitored item changes in every publishing interval, so the
offered rate is ``items / interval``.

Scope (on purpose): SecurityPolicy None, anonymous users, scalar Double/Int32/Boolean/String values,
``TimestampsToReturn.Both``; browse-path translation answers ``BadNoMatch``. Request framing, chunking and
the reflective encoding of everything except Publish are asyncua's own (``SecureConnection``,
``struct_to_binary``), so a client sees nothing unusual.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import subprocess
import sys
import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.common.connection import SecureConnection, TransportLimits
from asyncua.common.utils import Buffer, NotEnoughData
from asyncua.crypto.security_policies import SecurityPolicyNone
from asyncua.ua.ua_binary import (
    header_from_binary,
    nodeid_from_binary,
    struct_from_binary,
    struct_to_binary,
    uatcp_to_binary,
)

from benchmarks.loadencoding import DATATYPE, LoadTag, Subscription, load_tags, publish_response, value_of
from twin.embedded import stop_process, wait_ready_line
from twin.model import SIM_NAMESPACE_URI

__all__ = ["LoadServer", "LoadServerProcess", "LoadTag", "load_tags", "main", "value_of"]

log = logging.getLogger(__name__)

_NAMESPACES = ["http://opcfoundation.org/UA/", SIM_NAMESPACE_URI]
_SERVER_STATE = 2259  # Server_ServerStatus_State
_NAMESPACE_ARRAY = 2255  # Server_NamespaceArray


class _Connection(asyncio.Protocol):
    """One client connection: framing by asyncua's SecureConnection, services answered here."""

    def __init__(self, server: LoadServer) -> None:
        self.server = server
        self.limits = TransportLimits()
        self.conn = SecureConnection(SecurityPolicyNone(), self.limits)
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.subs: dict[int, Subscription] = {}
        self.publish_requests: deque[tuple[int, int, Any]] = deque()  # (request id, handle, request)
        self.publisher: asyncio.Task[None] | None = None
        self.wake = asyncio.Event()
        self.item_ids = itertools.count(1)

    # ------------------------------------------------------------------ transport
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.publisher = asyncio.get_running_loop().create_task(self._publish_loop())

    def connection_lost(self, exc: Exception | None) -> None:
        if self.publisher is not None:
            self.publisher.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.buffer:
            buf = Buffer(self.buffer)
            try:
                header = header_from_binary(buf)
            except NotEnoughData:
                return
            if len(buf) < header.body_size:
                return
            self.buffer = self.buffer[header.header_size + header.body_size :]
            try:
                self._process(header, buf)
            except Exception:  # a request this server cannot parse: drop the client, keep serving others
                log.exception("load server: bad message from client; closing the connection")
                if self.transport is not None:
                    self.transport.close()
                return

    def _write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def _send(
        self, request_id: int, response: Any, kind: ua.MessageType = ua.MessageType.SecureMessage
    ) -> None:
        self._write(
            self.conn.message_to_binary(struct_to_binary(response), message_type=kind, request_id=request_id)
        )

    # ------------------------------------------------------------------ messages
    def _process(self, header: Any, body: Buffer) -> None:
        msg = self.conn.receive_from_header_and_body(header, body)
        if isinstance(msg, ua.Hello):
            ack = self.limits.create_acknowledge_and_set_limits(msg)
            self._write(uatcp_to_binary(ua.MessageType.Acknowledge, ack))
            return
        if not isinstance(msg, ua.Message):
            return  # an intermediate chunk (or an error message from the client)
        seqhdr = msg.SequenceHeader()
        if header.MessageType == ua.MessageType.SecureOpen:
            request = struct_from_binary(ua.OpenSecureChannelRequest, msg.body())
            response = ua.OpenSecureChannelResponse()
            response.Parameters = self.conn.open(request.Parameters, self.server)
            response.ResponseHeader.RequestHandle = request.RequestHeader.RequestHandle
            self._send(seqhdr.RequestId, response, ua.MessageType.SecureOpen)
        elif header.MessageType == ua.MessageType.SecureClose:
            self.conn.close()
            if self.transport is not None:
                self.transport.close()
        else:
            self._service(seqhdr.RequestId, msg.body())

    def _service(self, request_id: int, body: Buffer) -> None:
        pos = body.cur_pos
        typeid = nodeid_from_binary(body)
        body.rewind(cur_pos=pos)  # the request's own TypeId field is decoded with it
        cls = ua.extension_objects_by_typeid.get(typeid)
        if cls is None:
            return self._fault(request_id, 0, ua.StatusCodes.BadServiceUnsupported)
        request = struct_from_binary(cls, body)
        handle = request.RequestHeader.RequestHandle
        name = cls.__name__
        if name == "PublishRequest":
            self.publish_requests.append((request_id, handle, request))
            self.wake.set()
            return None
        answer = getattr(self, f"_on_{name}", None)
        if answer is None:
            return self._fault(request_id, handle, ua.StatusCodes.BadServiceUnsupported)
        response = answer(request)
        response.ResponseHeader.RequestHandle = handle
        response.ResponseHeader.Timestamp = datetime.now(UTC)
        self._send(request_id, response)
        return None

    def _fault(self, request_id: int, handle: int, code: int) -> None:
        response = ua.ServiceFault()
        response.ResponseHeader.RequestHandle = handle
        response.ResponseHeader.ServiceResult = ua.StatusCode(code)
        self._send(request_id, response)

    # ------------------------------------------------------------------ services
    def _endpoint(self) -> ua.EndpointDescription:
        ep = ua.EndpointDescription()
        ep.EndpointUrl = self.server.url
        ep.Server.ApplicationUri = "urn:sdf-twin:loadserver"
        ep.Server.ApplicationName = ua.LocalizedText("sdf-twin load server")
        ep.Server.ApplicationType = ua.ApplicationType.Server
        ep.SecurityMode = ua.MessageSecurityMode.None_
        ep.SecurityPolicyUri = SecurityPolicyNone.URI
        token = ua.UserTokenPolicy()
        token.PolicyId = "anonymous"
        token.TokenType = ua.UserTokenType.Anonymous
        ep.UserIdentityTokens = [token]
        ep.TransportProfileUri = "http://opcfoundation.org/UA-Profile/Transport/uatcp-uasc-uabinary"
        return ep

    def _on_GetEndpointsRequest(self, _request: Any) -> Any:
        response = ua.GetEndpointsResponse()
        response.Endpoints = [self._endpoint()]
        return response

    def _on_CreateSessionRequest(self, request: Any) -> Any:
        response = ua.CreateSessionResponse()
        p = response.Parameters
        p.SessionId = ua.NodeId(next(self.server.ids), 1)
        p.AuthenticationToken = ua.NodeId(next(self.server.ids), 1)
        p.RevisedSessionTimeout = request.Parameters.RequestedSessionTimeout or 3_600_000
        p.ServerNonce = b"\x00" * 32
        p.ServerEndpoints = [self._endpoint()]
        p.MaxRequestMessageSize = 0
        return response

    def _on_ActivateSessionRequest(self, _request: Any) -> Any:
        response = ua.ActivateSessionResponse()
        response.Parameters.ServerNonce = b"\x00" * 32
        return response

    def _on_CloseSessionRequest(self, _request: Any) -> Any:
        self.subs.clear()
        return ua.CloseSessionResponse()

    def _on_ReadRequest(self, request: Any) -> Any:
        response = ua.ReadResponse()
        response.Results = [self.server.read(rv) for rv in request.Parameters.NodesToRead]
        return response

    def _on_TranslateBrowsePathsToNodeIdsRequest(self, request: Any) -> Any:
        response = ua.TranslateBrowsePathsToNodeIdsResponse()
        response.Results = [
            ua.BrowsePathResult(StatusCode=ua.StatusCode(ua.StatusCodes.BadNoMatch))
            for _ in request.Parameters.BrowsePaths
        ]
        return response

    def _on_BrowseRequest(self, request: Any) -> Any:
        response = ua.BrowseResponse()
        response.Results = [ua.BrowseResult() for _ in request.Parameters.NodesToBrowse]
        return response

    def _on_CreateSubscriptionRequest(self, request: Any) -> Any:
        p = request.Parameters
        interval = max(float(p.RequestedPublishingInterval or 0), self.server.min_interval_ms)
        # Keepalives at least every 5 s whatever the client asks (asyncua asks for hours by default).
        keepalive = max(1, min(int(p.RequestedMaxKeepAliveCount or 10), int(5000 / interval)))
        sub = Subscription(next(self.server.ids), interval / 1000.0, keepalive, last_sent=time.monotonic())
        sub.enabled = bool(p.PublishingEnabled)
        self.subs[sub.sid] = sub
        response = ua.CreateSubscriptionResponse()
        r = response.Parameters
        r.SubscriptionId = sub.sid
        r.RevisedPublishingInterval = interval
        r.RevisedLifetimeCount = max(int(p.RequestedLifetimeCount or 0), keepalive * 3)
        r.RevisedMaxKeepAliveCount = keepalive
        return response

    def _on_ModifySubscriptionRequest(self, request: Any) -> Any:
        response = ua.ModifySubscriptionResponse()
        sub = self.subs.get(request.Parameters.SubscriptionId)
        if sub is not None:
            ms = max(float(request.Parameters.RequestedPublishingInterval or 0), self.server.min_interval_ms)
            sub.interval_s = ms / 1000.0
            response.Parameters.RevisedPublishingInterval = ms
            response.Parameters.RevisedMaxKeepAliveCount = sub.keepalive
        return response

    def _on_DeleteSubscriptionsRequest(self, request: Any) -> Any:
        response = ua.DeleteSubscriptionsResponse()
        out = []
        for sid in request.Parameters.SubscriptionIds:
            found = self.subs.pop(sid, None) is not None
            out.append(
                ua.StatusCode(ua.StatusCodes.Good if found else ua.StatusCodes.BadSubscriptionIdInvalid)
            )
        response.Results = out
        return response

    def _on_SetPublishingModeRequest(self, request: Any) -> Any:
        response = ua.SetPublishingModeResponse()
        results = []
        for sid in request.Parameters.SubscriptionIds:
            sub = self.subs.get(sid)
            if sub is not None:
                sub.enabled = bool(request.Parameters.PublishingEnabled)
                self.wake.set()
            results.append(
                ua.StatusCode(ua.StatusCodes.Good if sub else ua.StatusCodes.BadSubscriptionIdInvalid)
            )
        response.Parameters.Results = results
        return response

    def _on_CreateMonitoredItemsRequest(self, request: Any) -> Any:
        p = request.Parameters
        sub = self.subs.get(p.SubscriptionId)
        response = ua.CreateMonitoredItemsResponse()
        results = []
        for item in p.ItemsToCreate:
            res = ua.MonitoredItemCreateResult()
            tag = self.server.tag_of(item.ItemToMonitor.NodeId)
            if sub is None:
                res.StatusCode = ua.StatusCode(ua.StatusCodes.BadSubscriptionIdInvalid)
            elif tag is None:
                res.StatusCode = ua.StatusCode(ua.StatusCodes.BadNodeIdUnknown)
            elif item.ItemToMonitor.AttributeId != ua.AttributeIds.Value:
                res.StatusCode = ua.StatusCode(ua.StatusCodes.BadAttributeIdInvalid)
            else:
                mid = next(self.item_ids)
                sub.items[mid] = (int(item.RequestedParameters.ClientHandle), tag)
                sub.blocks = None
                self.wake.set()
                res.MonitoredItemId = mid
                res.RevisedSamplingInterval = sub.interval_s * 1000.0
                res.RevisedQueueSize = 1
            results.append(res)
        response.Results = results
        return response

    def _on_DeleteMonitoredItemsRequest(self, request: Any) -> Any:
        p = request.Parameters
        sub = self.subs.get(p.SubscriptionId)
        out = []
        for mid in p.MonitoredItemIds:
            found = sub is not None and sub.items.pop(mid, None) is not None
            out.append(
                ua.StatusCode(ua.StatusCodes.Good if found else ua.StatusCodes.BadMonitoredItemIdInvalid)
            )
        if sub is not None:
            sub.blocks = None
        response = ua.DeleteMonitoredItemsResponse()
        response.Results = out
        return response

    # ------------------------------------------------------------------ publish
    async def _publish_loop(self) -> None:
        """Answer queued Publish requests: each subscription in turn, at most once per its interval."""
        while True:
            if not self.publish_requests or not self.subs:
                self.wake.clear()
                await self.wake.wait()
                continue
            now = time.monotonic()
            due, sub = min(((s.due(), s) for s in self.subs.values()), key=lambda d: d[0])
            if due > now:  # woken early when a request arrives or a subscription changes
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), due - now)
                continue
            if sub.sid not in self.subs or not self.publish_requests:
                continue
            request_id, handle, request = self.publish_requests.popleft()
            acks = len(request.Parameters.SubscriptionAcknowledgements)
            sub.last_sent = time.monotonic()
            self._write(
                self.conn.message_to_binary(publish_response(sub, handle, acks), request_id=request_id)
            )
            await asyncio.sleep(0)  # let requests in between responses


class LoadServer:
    """Serves ``tags`` at ``opc.tcp://host:port/``; every subscribed tag changes every publishing interval."""

    def __init__(self, tags: Sequence[LoadTag], *, min_interval_ms: float = 10.0) -> None:
        self.tags = {t.node: t for t in tags}
        self.index: dict[str, int] = {}
        counts: dict[str, int] = {}
        for t in tags:  # a tag's index among its kind: the value it is given (see value_of)
            self.index[t.node] = counts.get(t.kind, 0)
            counts[t.kind] = self.index[t.node] + 1
        self.min_interval_ms = min_interval_ms
        self.ids = itertools.count(1)
        self.url = ""
        self._server: asyncio.base_events.Server | None = None
        self._channels = itertools.count(1)

    def get_new_channel_id(self) -> int:
        """A fresh secure channel id (SecureConnection.open asks its server for one)."""
        return next(self._channels)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen; returns the endpoint URL."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), host, port)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"opc.tcp://{host}:{port}/"
        return self.url

    async def stop(self) -> None:
        """Stop listening and close the server."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def tag_of(self, nodeid: ua.NodeId) -> LoadTag | None:
        """The tag served under ``nodeid`` (namespace 1, string identifier), if any."""
        if nodeid.NamespaceIndex != 1 or not isinstance(nodeid.Identifier, str):
            return None
        return self.tags.get(nodeid.Identifier)

    def read(self, rv: ua.ReadValueId) -> ua.DataValue:
        """One attribute of one node: the namespace array, the server state, or a tag's attributes."""
        nid, attr = rv.NodeId, rv.AttributeId
        if nid.NamespaceIndex == 0 and nid.Identifier in (_NAMESPACE_ARRAY, _SERVER_STATE):
            if attr != ua.AttributeIds.Value:
                return ua.DataValue(StatusCode=ua.StatusCode(ua.StatusCodes.BadAttributeIdInvalid))
            if nid.Identifier == _NAMESPACE_ARRAY:
                return ua.DataValue(ua.Variant(list(_NAMESPACES), ua.VariantType.String))
            return ua.DataValue(ua.Variant(ua.ServerState.Running, ua.VariantType.Int32))
        tag = self.tag_of(nid)
        if tag is None:
            return ua.DataValue(StatusCode=ua.StatusCode(ua.StatusCodes.BadNodeIdUnknown))
        if attr == ua.AttributeIds.NodeClass:
            return ua.DataValue(ua.Variant(ua.NodeClass.Variable, ua.VariantType.Int32))
        if attr == ua.AttributeIds.DataType:
            return ua.DataValue(ua.Variant(ua.NodeId(DATATYPE[tag.kind]), ua.VariantType.NodeId))
        if attr == ua.AttributeIds.ValueRank:
            return ua.DataValue(ua.Variant(-1, ua.VariantType.Int32))
        if attr == ua.AttributeIds.Value:
            now = datetime.now(UTC)
            dv = ua.DataValue(value_of(tag, self.index[tag.node], 0))
            dv.SourceTimestamp = dv.ServerTimestamp = now
            return dv
        return ua.DataValue(StatusCode=ua.StatusCode(ua.StatusCodes.BadAttributeIdInvalid))


async def _serve(tags: list[LoadTag], host: str, port: int, min_interval_ms: float) -> None:
    server = LoadServer(tags, min_interval_ms=min_interval_ms)
    url = await server.start(host, port)
    print(f"ready {url} {len(tags)} tags", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m benchmarks.loadserver --config PLANT [--line L] --port P``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--config", type=Path, required=True)
    ap.add_argument("--line")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--min-interval-ms", type=float, default=10.0)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    tags = load_tags(args.config, args.line)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(tags, args.host, args.port, args.min_interval_ms))


class LoadServerProcess:
    """A :class:`LoadServer` in its own process (so its CPU time is not the client's)."""

    def __init__(self, config: Path, line: str | None = None, port: int = 0) -> None:
        self.config = config
        self.line = line
        self.port = port
        self.url = ""
        self.tags = 0
        self.proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 60.0) -> str:
        """Start the process and wait until it serves; returns its endpoint URL."""
        cmd = [sys.executable, "-m", "benchmarks.loadserver", "--config", str(self.config)]
        cmd += ["--port", str(self.port)]
        if self.line:
            cmd += ["--line", self.line]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = wait_ready_line(self.proc, timeout)
        if line is not None:  # "ready URL N tags"
            _ready, self.url, tags, *_ = line.split()
            self.tags = int(tags)
            return self.url
        self.stop()
        raise RuntimeError(f"load server for {self.config} did not start within {timeout:.0f}s")

    def stop(self) -> None:
        """Stop the process (terminate, then kill)."""
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None


if __name__ == "__main__":
    main(sys.argv[1:])
