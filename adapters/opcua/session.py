"""One endpoint's adapter: connect, resolve the mapping, subscribe, watch, and recover.

The adapter owns its reconnect loop instead of asyncua's ``auto_reconnect`` (which can hang, asyncua issue
#1660): a session is considered lost when the transport drops *or* no publish response (data or keepalive)
arrived for ``stale_after_s`` (a silent stall, e.g. a server process stopped with SIGSTOP). Then every tag
of the endpoint is marked ``stale`` (last value kept), the client is torn down (hard, with a bounded wait)
and a *new* client is created with exponential backoff; after resubscribing, a full read re-syncs every
value, which clears the stale marks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from asyncua import Client, ua

from adapters.opcua import fastpath
from adapters.opcua.errors import ConnectError, SecurityError
from adapters.opcua.ingest import (
    BatchSubscription,
    ChangeWriter,
    IngestSink,
    ItemSettings,
    create_monitored_items,
    subscription_params,
)
from adapters.opcua.limits import read_attribute
from adapters.opcua.mapping import MappingProblem, ResolvedMapping, ResolvedTag, TagBinding
from adapters.opcua.resolve import resolve
from adapters.opcua.security import ClientSecurity, make_client, translate_connect_error
from twin.errors import StoreError

log = logging.getLogger(__name__)


class AdapterStore(ChangeWriter, Protocol):
    """What an endpoint adapter writes to: changes, and its mapping problems (``AsyncTwinStore``)."""

    async def set_mapping_problems(
        self,
        endpoint: str,
        problems: Iterable[Mapping[str, Any]],
        tags: Iterable[tuple[str, str]] = (),
    ) -> None: ...


@dataclass(frozen=True)
class AdapterOptions:
    """Tuning of an endpoint adapter (defaults suit a plant; tests shorten the timers)."""

    publish_interval_ms: float = 100.0
    #: Server-side sampling; with ``queuesize=1`` only the latest sample per publish cycle is sent.
    sampling_interval_ms: float = 0.0
    #: The server sends a keepalive publish response at least this often when nothing changes.
    keepalive_s: float = 1.0
    #: No publish response for this long -> tags stale, session torn down, reconnect.
    stale_after_s: float = 3.0
    request_timeout_s: float = 4.0
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 5.0
    security: ClientSecurity | None = None
    #: Decode data-change publish responses with :mod:`adapters.opcua.fastpath` (asyncua's decoder otherwise).
    fast_decode: bool = True


@dataclass
class EndpointStatus:
    """What an endpoint adapter is doing (for logs, metrics, tests)."""

    url: str
    connected: bool = False
    connects: int = 0
    disconnects: int = 0
    last_error: str | None = None
    tags: int = 0
    problems: list[MappingProblem] = field(default_factory=list)


class EndpointAdapter:
    """Mirrors the tags of one OPC UA endpoint into the twin, forever, until :meth:`stop`."""

    def __init__(
        self,
        url: str,
        bindings: Sequence[TagBinding],
        store: AdapterStore,
        options: AdapterOptions | None = None,
    ) -> None:
        self.url = url
        self.bindings = list(bindings)
        self.options = options or AdapterOptions()
        self.store = store
        self.sink = IngestSink(store, source=f"opcua:{url}")
        self._problems_task: asyncio.Task[None] | None = None
        self.status = EndpointStatus(url)
        self._stop = asyncio.Event()
        self._lost = asyncio.Event()
        self._wrote_good = False  # the current session may have written good values
        self._client: Client | None = None
        self._connected = asyncio.Event()
        self._reported: set[str] = set()

    # ----------------------------------------------------------------- public
    async def run(self) -> None:
        """Connect / mirror / recover until stopped. Never raises for connection trouble."""
        self.sink.start()
        backoff = self.options.backoff_initial_s
        try:
            while not self._stop.is_set():
                try:
                    await self._session()
                    backoff = self.options.backoff_initial_s
                except asyncio.CancelledError:
                    raise
                except SecurityError as exc:  # a security refusal will not heal by retrying fast
                    self._note_error(str(exc))
                    backoff = self.options.backoff_max_s
                except ConnectError as exc:
                    self._note_error(str(exc))
                except Exception as exc:  # any library error: recover, never die
                    self._note_error(str(translate_connect_error(self.url, exc, self.options.security)))
                    log.debug("endpoint %s session error", self.url, exc_info=True)
                if self.status.connected:  # a session was up: a fresh loss retries fast, not at max backoff
                    backoff = self.options.backoff_initial_s
                await self._teardown()
                if self._stop.is_set():
                    break
                delay = backoff * (0.8 + 0.4 * random.random())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
                backoff = min(backoff * 2, self.options.backoff_max_s)
        finally:
            await self._teardown()
            await self.sink.stop()
            await self._finish_report()

    async def stop(self) -> None:
        """Ask :meth:`run` to finish (pending changes are flushed)."""
        self._stop.set()
        self._lost.set()

    async def wait_connected(self, timeout: float) -> None:
        """Wait until a session is up and values have been re-synced."""
        await asyncio.wait_for(self._connected.wait(), timeout)

    # ----------------------------------------------------------------- internals
    def _note_error(self, msg: str) -> None:
        self.status.last_error = msg
        if msg not in self._reported:
            log.warning("%s", msg)
            self._reported.add(msg)

    async def _session(self) -> None:
        opts = self.options
        self._lost.clear()
        self._wrote_good = False
        try:
            client = await make_client(self.url, opts.security, timeout=opts.request_timeout_s)
        except (OSError, TimeoutError, ua.UaError) as exc:
            raise translate_connect_error(self.url, exc, opts.security) from exc
        self._client = client

        async def lost(_exc: Exception) -> None:
            if self._client is client:  # a torn-down client's late callback must not end the new session
                self._lost.set()

        client.connection_lost_callback = lost
        try:
            await asyncio.wait_for(client.connect(), opts.request_timeout_s * 2)
        except (OSError, TimeoutError, ua.UaError) as exc:
            raise translate_connect_error(self.url, exc, opts.security) from exc
        self.status.connects += 1
        self._reported.clear()
        mapping = await resolve(client, self.bindings)
        self._report(mapping)
        tags = mapping.tags
        self.sink.set_tags(tags)
        self.status.tags = len(tags)
        params = subscription_params(opts.publish_interval_ms, opts.keepalive_s)
        if opts.fast_decode:
            fastpath.install(client.uaclient.session)
        sub = BatchSubscription(client.uaclient.session, params, self.sink)
        # From the first publish response on, this session may write good values (before the re-sync read
        # below): a failure from here on must mark them stale again (seen in a kill/restart run: values
        # stayed "good" after a connect that failed between subscribing and the read).
        self._wrote_good = True
        await sub.init()
        nodeids, settings, owners = monitored_items(tags)
        limits = mapping.limits
        statuses = await create_monitored_items(
            sub, nodeids, opts.sampling_interval_ms, limits.monitored_items, settings
        )
        refused = [
            MappingProblem(
                t.binding.equipment, t.binding.tag.name, t.binding.spec, f"monitoring refused ({st.name})"
            )
            for t, st in zip(owners, statuses, strict=True)
            if not st.is_good()
        ]
        if refused:
            self._report(ResolvedMapping(problems=refused), replace=False)
        # Re-sync: a full read after subscribing (later notifications are newer); clears stale marks.
        values = await read_attribute(client, nodeids, ua.AttributeIds.Value, limits.read)
        self.sink.on_values(values)
        with contextlib.suppress(TimeoutError):  # Redis down: the sink keeps retrying on its own
            await asyncio.wait_for(self.sink.flush(), opts.request_timeout_s)
        self.sink.last_publish = time.monotonic()
        self.status.connected = True
        self.status.last_error = None
        self._connected.set()
        log.info("endpoint %s: mirroring %d tags", self.url, len(tags))
        await self._watch(client)

    def _report(self, mapping: ResolvedMapping, *, replace: bool = True) -> None:
        self.status.problems = (
            list(mapping.problems) if replace else [*self.status.problems, *mapping.problems]
        )
        for p in mapping.problems:
            key = str(p)
            if key not in self._reported:
                (log.error if p.fatal else log.warning)("mapping: %s", key)
                self._reported.add(key)
        if self._problems_task is not None:
            self._problems_task.cancel()  # superseded by this report
        rows = [p.as_row() for p in self.status.problems]
        self._problems_task = asyncio.create_task(self._publish(rows), name=f"mapping problems {self.url}")

    async def _publish(self, rows: list[dict[str, Any]]) -> None:
        """Write the endpoint's current problems to the twin (its fixed tags cleared), retrying until Redis
        takes them; in a task of its own, so a slow or absent Redis never holds up the session."""
        tags = [(b.equipment, b.tag.name) for b in self.bindings]
        delay = self.options.backoff_initial_s
        while True:
            try:
                await self.store.set_mapping_problems(self.url, rows, tags)
                return
            except StoreError as exc:
                msg = f"{self.url}: mapping problems not recorded in the twin yet ({exc}); retrying"
                if msg not in self._reported:
                    log.warning("%s", msg)
                    self._reported.add(msg)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.options.backoff_max_s)

    async def _finish_report(self, timeout: float = 2.0) -> None:
        """At stop: give a report still being written a moment, then drop it."""
        task, self._problems_task = self._problems_task, None
        if task is None or task.done():
            return
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(task, timeout)

    async def _watch(self, client: Client) -> None:
        """Return when the session is lost: transport down, or no publish response for too long."""
        opts = self.options
        tick = min(0.25, opts.stale_after_s / 4)
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), tick)
            if self._stop.is_set():
                return
            if self._lost.is_set():
                raise ConnectError(f"{self.url}: connection lost")
            silent = time.monotonic() - self.sink.last_publish
            if silent > opts.stale_after_s:
                raise ConnectError(f"{self.url}: no publish response for {silent:.1f}s (stalled)")

    async def _teardown(self) -> None:
        was_connected = self.status.connected
        self.status.connected = False
        self._connected.clear()
        client, self._client = self._client, None
        if was_connected:
            self.status.disconnects += 1
        # A session that subscribed and then failed before it counted as connected may have written good
        # values too: they must be marked stale just the same, or they stay "good" while nobody serves them.
        if (was_connected or self._wrote_good) and not self._stop.is_set():
            n = self.sink.mark_stale()
            log.warning("endpoint %s lost: %d tags marked stale", self.url, n)
        self._wrote_good = False
        if client is None:
            return
        await _hard_close(client)


def monitored_items(
    tags: Sequence[ResolvedTag],
) -> tuple[list[ua.NodeId], list[ItemSettings], list[ResolvedTag]]:
    """The monitored items of a mapping in client-handle order: NodeIds, their settings, their tags."""
    nodeids: list[ua.NodeId] = []
    settings: list[ItemSettings] = []
    owners: list[ResolvedTag] = []
    for t in tags:
        tag = t.binding.tag
        item = ItemSettings(
            sampling_ms=tag.sampling_ms,
            deadband=tag.deadband,
            percent=tag.deadband_type.value == "percent",
            queue_size=tag.queue_size or 1,
        )
        for nid in t.nodeids:
            nodeids.append(nid)
            settings.append(item)
            owners.append(t)
    return nodeids, settings, owners


async def _hard_close(client: Client, timeout: float = 1.0) -> None:
    """Disconnect politely if the peer answers quickly, otherwise drop the socket and stop its tasks."""
    protocol = getattr(client.uaclient, "protocol", None)
    if protocol is not None and getattr(protocol.state, "name", "") != "CLOSED":
        with contextlib.suppress(Exception):  # a dead or stalled server: fall through to the hard close
            await asyncio.wait_for(client.disconnect(), timeout)
    with contextlib.suppress(Exception):
        client.disconnect_socket()
    tasks: list[Any] = [
        client._renew_channel_task,
        client._supervisor_task,
        client._stale_watchdog_task,
        getattr(client.uaclient.session, "_publish_task", None),
    ]
    for t in tasks:
        if t is not None and not t.done():
            t.cancel()
    for t in tasks:
        if t is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(t, 0.5)


async def check_endpoint(url: str, security: ClientSecurity | None = None, timeout: float = 5.0) -> list[str]:
    """Open a session to ``url`` and close it; returns the server's namespace URIs.

    Raises the adapter's errors (:class:`~adapters.opcua.errors.UntrustedServerError`,
    :class:`~adapters.opcua.errors.AuthenticationError`, ...) with one clear message.
    """
    try:
        client = await make_client(url, security, timeout=timeout)
    except (OSError, TimeoutError, ua.UaError) as exc:
        raise translate_connect_error(url, exc, security) from exc
    try:
        await asyncio.wait_for(client.connect(), timeout * 2)
        return list(await client.get_namespace_array())
    except (OSError, TimeoutError, ua.UaError) as exc:
        raise translate_connect_error(url, exc, security) from exc
    finally:
        await _hard_close(client)
