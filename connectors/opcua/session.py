"""One OPC-UA connection: secure channel, session, subscriptions, backfill, health watch.

A session object lives for one connection only; the connector makes a fresh one (new socket,
channel, session and subscriptions) after every loss, which is simpler and more robust than
repairing a half-dead session.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from contextlib import suppress
from datetime import timedelta

from asyncua import Client, ua
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

from plantpulse.connectors.opcua.browse import resolve
from plantpulse.connectors.opcua.history import HistoryRequest, read_gaps
from plantpulse.connectors.opcua.intake import Intake
from plantpulse.connectors.opcua.security import Pki, TrustList, explain_refusal
from plantpulse.data.core.config.opcua import OpcUaSettings
from plantpulse.data.core.errors import ConfigError
from plantpulse.data.core.times import from_micros, utcnow

log = logging.getLogger(__name__)

ITEMS_PER_REQUEST = 1000
KEEPALIVE_MS = 5000.0


def keepalive_count(publishing_ms: float) -> int:
    return max(1, math.ceil(KEEPALIVE_MS / publishing_ms))


async def open_client(settings: OpcUaSettings, pki: Pki) -> tuple[Client, TrustList | None]:
    """A connected client, or a clear :class:`OpcUaSecurityError` when security refuses it."""
    # asyncua probes the server every ``watchdog_intervall`` seconds and gives the probe as long
    # to answer; 1 s (its default) declares a busy server dead, so allow half the request timeout
    client = Client(settings.endpoint, timeout=settings.request_timeout_s,
                    watchdog_intervall=max(2.0, settings.request_timeout_s / 2))
    client.application_uri = settings.application_uri
    client.name = client.description = "PlantPulse OPC-UA connector"
    client.session_timeout = 60_000
    if settings.username:
        client.set_user(settings.username)
    if settings.password is not None:
        client.set_password(settings.password.get_secret_value())
    trust = None
    try:
        if settings.security_policy != "None":
            cert, key = await pki.ensure_identity(settings.application_uri, server=False)
            trust = TrustList(pki, peer_is_server=True)
            client.certificate_validator = trust.validate
            mode = getattr(ua.MessageSecurityMode, settings.security_mode)
            await client.set_security(SecurityPolicyBasic256Sha256, str(cert), str(key), mode=mode)
        await asyncio.wait_for(client.connect(), settings.request_timeout_s * 2)
    except ua.UaError as err:
        refusal = explain_refusal(err, settings.endpoint, pki, trust, settings.username)
        if refusal is not None:
            raise refusal from err
        if "No matching endpoints" in str(err):
            msg = (f"The OPC-UA server at {settings.endpoint} offers no {settings.security_policy}/"
                   f"{settings.security_mode} endpoint. Check opcua.security_policy and opcua.security_mode.")
            raise ConfigError(msg) from err
        raise
    return client, trust


class Session:
    """Subscribes ``intake``'s nodes on a connected ``client`` and feeds it until the link fails."""

    def __init__(self, client: Client, intake: Intake, settings: OpcUaSettings, no_history: set[int]) -> None:
        self.client = client
        self.intake = intake
        self.settings = settings
        self.no_history = no_history
        self.lost = asyncio.Event()
        self.last_publish = time.monotonic()
        self.handles: dict[int, ua.NodeId] = {}
        self.subscribed = 0

    # ---------------------------------------------------------------- callbacks
    async def _on_lost(self, exc: Exception) -> None:
        log.warning("Lost the OPC-UA connection to %s: %r", self.settings.endpoint, exc)
        self.lost.set()

    def on_publish(self, result: ua.PublishResult) -> None:
        """Commit a publish's values to the buffer before asyncua acknowledges it."""
        self.last_publish = time.monotonic()
        items: list[tuple[int, ua.DataValue]] = []
        for notif in result.NotificationMessage.NotificationData or []:
            if isinstance(notif, ua.DataChangeNotification):
                items.extend((item.ClientHandle, item.Value) for item in notif.MonitoredItems)
            elif isinstance(notif, ua.StatusChangeNotification) and not notif.Status.is_good():
                log.warning("Subscription %s ended by the server: %s", result.SubscriptionId, notif.Status.name)
                self.lost.set()
        if not items:
            return
        try:
            self.intake.add(items, live=True)
        except Exception:  # the values stay in the server's history; reconnecting backfills them
            log.exception("Could not buffer %d values; reconnecting to backfill them", len(items))
            self.lost.set()

    # ---------------------------------------------------------------- setup
    async def start(self) -> None:
        """Resolve nodes, create subscriptions and monitored items, then backfill the gap."""
        self.client.connection_lost_callback = self._on_lost
        self.intake.begin_session()
        namespaces = await self.client.get_namespace_array()
        for handle, binding in enumerate(self.intake.bindings):
            try:
                self.handles[handle] = resolve(binding.node, namespaces)
            except ConfigError as err:
                log.error("Not subscribing %s: %s", binding.node, err)
        ordered = sorted(self.handles.items())
        per_sub = self.settings.nodes_per_subscription
        for i in range(0, len(ordered), per_sub):
            await self._subscribe(ordered[i : i + per_sub])
        log.info("Subscribed %d of %d nodes at %s.", self.subscribed, len(self.intake.bindings), self.settings.endpoint)
        if self.settings.backfill:
            await self.backfill(list(self.handles))
        else:
            self.intake.mark_complete(self.handles)

    async def _subscribe(self, chunk: list[tuple[int, ua.NodeId]]) -> None:
        s = self.settings
        keep = keepalive_count(s.publishing_interval_ms)
        params = ua.CreateSubscriptionParameters(
            RequestedPublishingInterval=s.publishing_interval_ms, RequestedLifetimeCount=keep * 12,
            RequestedMaxKeepAliveCount=keep, MaxNotificationsPerPublish=0, PublishingEnabled=True, Priority=0)
        sub = await self.client.uaclient.create_subscription(params, self.on_publish)
        for i in range(0, len(chunk), ITEMS_PER_REQUEST):
            part = chunk[i : i + ITEMS_PER_REQUEST]
            request = ua.CreateMonitoredItemsParameters(
                SubscriptionId=sub.SubscriptionId, TimestampsToReturn=ua.TimestampsToReturn.Both,
                ItemsToCreate=[self._item(handle, node) for handle, node in part])
            results = await self.client.uaclient.create_monitored_items(request)
            for (handle, _), result in zip(part, results, strict=True):
                if result.StatusCode.is_good():
                    self.subscribed += 1
                else:
                    log.error("Cannot subscribe %s: %s", self.intake.bindings[handle].node, result.StatusCode.name)

    def _item(self, handle: int, node: ua.NodeId) -> ua.MonitoredItemCreateRequest:
        # StatusValueTimestamp: a sensor repeating the same value is still a new sample; the
        # default trigger (StatusValue) would silently skip it
        report_all = ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValueTimestamp)
        params = ua.MonitoringParameters(ClientHandle=handle, SamplingInterval=self.settings.sampling_interval_ms,
                                         QueueSize=self.settings.queue_size, DiscardOldest=True, Filter=report_all)
        return ua.MonitoredItemCreateRequest(
            ItemToMonitor=ua.ReadValueId(NodeId=node, AttributeId=ua.AttributeIds.Value),
            MonitoringMode=ua.MonitoringMode.Reporting, RequestedParameters=params)

    # ---------------------------------------------------------------- backfill and watch
    async def backfill(self, handles: list[int]) -> int:
        """HistoryRead every node's values since its watermark; returns how many were new."""
        now = utcnow()
        floor = now - timedelta(seconds=self.settings.backfill_max_s)
        first = now - timedelta(seconds=self.settings.backfill_first_s)
        requests = []
        for h in handles:
            mark = self.intake.watermarks[h]
            if h in self.no_history or h not in self.handles or (mark is None and not self.settings.backfill_first_s):
                continue
            start = first if mark is None else max(from_micros(mark), floor)
            requests.append(HistoryRequest(h, self.handles[h], start))
        added = 0
        # the end lies far ahead so that values stamped in the future (clock jumps) come too,
        # and are quarantined rather than missed
        end = now + timedelta(days=7)
        async for page in read_gaps(self.client.uaclient, requests, end, self.no_history):
            added += self.intake.add(((page.handle, dv) for dv in page.values), live=False)
        self.intake.mark_complete(h for h in handles if h in self.handles)
        if requests:
            log.info("Backfilled %d values for %d nodes from history.", added, len(requests))
        return added

    def publish_timeout_s(self) -> float:
        keep = keepalive_count(self.settings.publishing_interval_ms)
        return keep * self.settings.publishing_interval_ms / 1000 * 3 + self.settings.request_timeout_s

    async def watch(self, stop: asyncio.Event) -> None:
        """Return when the connection is lost, silent for too long, or ``stop`` is set."""
        while not (stop.is_set() or self.lost.is_set()):
            with suppress(TimeoutError):
                await asyncio.wait_for(_first(stop, self.lost), timeout=1.0)
            silent = time.monotonic() - self.last_publish
            if silent > self.publish_timeout_s():
                log.warning("No publish response from %s for %.0f s; reconnecting.", self.settings.endpoint, silent)
                return
            if self.intake.gaps and self.settings.backfill:
                gaps, self.intake.gaps = sorted(self.intake.gaps), set()
                log.warning("The server dropped queued values of %d nodes; backfilling them.", len(gaps))
                await self.backfill(gaps)

    async def close(self) -> None:
        with suppress(Exception):
            await asyncio.wait_for(self.client.disconnect(), 2.0)


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
