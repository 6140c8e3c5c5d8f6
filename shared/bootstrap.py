"""The composition root: builds the app's long-lived parts on first use and reuses them across invocations.

Nothing here runs at import time, so the Functions host can index the app even when settings are missing; the first
request then fails with a configuration error that lists every problem (and /api/health answers 503 with it).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

import requests
from azure.core.exceptions import AzureError

from shared.adapters.callback_queues import CallbackQueues
from shared.adapters.graph.credentials import MsalTokenProvider
from shared.domain.callbacks import AttemptResult, CallbackDelivery
from shared.domain.errors import BrokerError, StorageUnavailable
from shared.adapters.graph.client import GraphClient, RetryPolicy
from shared.usecases.organizers import OrganizerDirectory
from shared.ports import GraphPort, TenantResolver, TokenProvider
from shared.usecases.quota import QuotaBook
from shared.ports import MeetingRepository
from shared.config.settings import Settings, load_settings
from shared.adapters.network import Network
from shared.adapters.storage import queue_client, table_client
from shared.adapters import telemetry as telemetry_setup
from shared import telemetry
from shared.adapters.table.repository import TableMeetingRepository
from shared.usecases.tenants import TenantDirectory
from shared.usecases.context import Deps
from shared.domain.clock import Clock, utc_now

log = logging.getLogger(__name__)

# The Azure SDKs' HTTP logging policy logs every request's URL and headers at INFO. Table URLs carry the row keys
# (organizer UPNs, externalIds, join meeting ids), and the Functions Python worker forwards INFO to Application
# Insights; the app logs what it means to log itself, so the policy speaks only of warnings.
# https://learn.microsoft.com/azure/developer/python/sdk/azure-sdk-logging
QUIET_LOGGERS = ("azure.core.pipeline.policies.http_logging_policy",)


def quiet_sdk_logging() -> None:
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)


@dataclass(frozen=True)
class CallbackOutlets:
    """What the callbacks trigger needs besides Deps (issue 21): the sender and the two callbacks queues."""

    send: Callable[[CallbackDelivery], AttemptResult]
    requeue: Callable[[CallbackDelivery, int], None]   # the next attempt, visible after a delay (seconds)
    dead_letter: Callable[[str], None]                 # a failed delivery's record, to the failed queue


# A result message (results queue) and its delivery to a callbackUrl (callbacks queue), sent before the caller goes on:
# what the timer tells goes out before its due row is finished (an output binding is written only after the function
# returned, and a host that dies meanwhile loses it).
Outbox = Callable[[str | None, str | None], None]


@dataclass
class Container:
    deps: Deps                                  # what the use cases work with
    requeue: Callable[[str, timedelta], None]   # a delayed copy on the intake queue
    callbacks: CallbackOutlets                  # result callbacks' sender and queues
    outbox: Outbox                              # results and deliveries sent at once (the timer's)

    @property
    def settings(self) -> Settings:
        return self.deps.settings

    @property
    def repository(self) -> MeetingRepository:
        return self.deps.repository


def network_for(settings: Settings, environ: Mapping[str, str]) -> Network:
    """The process's network settings, read once: the CA bundle, and the proxy of every host the app calls."""
    hosts = [settings.authority_host, settings.graph_base_url, environ.get("IDENTITY_ENDPOINT") or "",
             settings.storage.table_service_uri or "", settings.storage.queue_service_uri or ""]
    return Network.from_environment(environ, hosts)


def build_container(env: Mapping[str, str], *, repository: MeetingRepository | None = None,
                    session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep,
                    clock: Clock = utc_now, retry_policy: RetryPolicy = RetryPolicy(),
                    tokens: TokenProvider | None = None, graph: GraphPort | None = None,
                    tenants: TenantResolver | None = None,
                    requeue: Callable[[str, timedelta], None] | None = None,
                    callbacks: CallbackOutlets | None = None, outbox: Outbox | None = None) -> Container:
    quiet_sdk_logging()
    settings = load_settings(env)
    network = network_for(settings, os.environ)  # process-level variables (CA bundle, proxies), not app settings
    session = session or network.session()
    token_provider = tokens or MsalTokenProvider(settings, http_client=session)
    repository = repository or TableMeetingRepository(table_client(settings.storage, settings.meetings_table,
                                                                   network=network))
    graph = graph or GraphClient(
        session, token_provider, base_url=settings.graph_base_url, api_version=settings.api_version,
        app_id=settings.client_id or settings.managed_identity_client_id, policy=retry_policy, sleep=sleep,
        clock=lambda: clock().timestamp(),
    )
    log.info("meeting broker configured: cloud=%s credential=%s api=%s tenants=%d", settings.cloud.name,
             settings.credential_mode, settings.api_version, len(settings.allowed_tenants))
    quotas = QuotaBook(repository, settings.monthly_meeting_limit, clock)
    telemetry.watch_quota(quotas.highest_ratio)
    telemetry_setup.trace_azure_sdk()  # storage spans, once a provider is live (the worker's, a local one, a test's)
    deps = Deps(settings, repository, graph, clock, tenants or TenantDirectory(session, settings.authority_host),
                OrganizerDirectory(repository), quotas, sleep=sleep)
    queues = CallbackQueues(lambda name: queue_client(settings.storage, name, network=network,
                                                      base64=MESSAGE_ENCODING == "base64"),
                            settings.callbacks.queue, settings.callbacks.failed_queue)  # clients made on first use
    return Container(deps, requeue or _intake_requeue(settings, network),
                     callbacks or _callback_outlets(settings, network, clock, queues),
                     _outbox(settings, queues) if outbox is None else outbox)


def start_telemetry() -> None:
    """Once, when function_app is loaded: the exporters OTEL_* settings name (local runs), over no provider already
    set; in Azure the Python worker has set the Azure Monitor distro's (shared/adapters/telemetry.py)."""
    telemetry_setup.start(os.environ)


# host.json "messageEncoding": what the code itself enqueues must be written the way the trigger reads it.
MESSAGE_ENCODING = "none"


def _intake_requeue(settings: Settings, network: Network) -> Callable[[str, timedelta], None]:
    """Send a message to the intake queue that becomes visible after a delay (output bindings cannot delay). The
    queue client is made on first use: most processes never defer a request."""
    clients: list[Any] = []

    def requeue(message: str, delay: timedelta) -> None:
        if not clients:
            clients.append(queue_client(settings.storage, settings.requests_queue, network=network,
                                        base64=MESSAGE_ENCODING == "base64"))
        try:
            clients[0].send_message(message, visibility_timeout=max(1, int(delay.total_seconds())))
        except AzureError as exc:
            raise StorageUnavailable(f"could not re-queue the request ({type(exc).__name__})") from None

    return requeue


def _outbox(settings: Settings, queues: CallbackQueues) -> Outbox:
    """Send a result to the results queue and its delivery to the callbacks queue now (``queues``' clients, shared
    with the callbacks' outlets); StorageUnavailable when either cannot be sent (the caller keeps what it would have
    finished)."""
    def send(result: str | None, callback: str | None) -> None:
        if result is not None:
            queues.send(settings.results_queue, result, "send the result")
        if callback is not None:
            queues.send(settings.callbacks.queue, callback, "queue the result's delivery")

    return send


def _callback_outlets(settings: Settings, network: Network, clock: Clock, queues: CallbackQueues) -> CallbackOutlets:
    """The sender (signing with CALLBACK_SIGNING_SECRETS, trusting what the process trusts) and the queues. With
    callbacks off, an attempt is refused as every callbackUrl is: it is retried, then kept on the failed queue. The
    sender is made by the first attempt, as the intake queue's client is: only the callbacks trigger sends (the
    settings have checked its secrets already)."""
    callbacks = settings.callbacks
    if callbacks.enabled:
        senders: list[Callable[[CallbackDelivery], AttemptResult]] = []

        def send(delivery: CallbackDelivery) -> AttemptResult:
            if not senders:
                from shared.adapters.callbacks import CallbackSender, callback_session

                senders.append(CallbackSender(callback_session(network), callbacks.signing_secrets,
                                              callbacks.allowed_hosts, clock=clock).send)
            return senders[0](delivery)
    else:
        def send(delivery: CallbackDelivery) -> AttemptResult:
            return AttemptResult.not_sent("not allowed: callbacks are not enabled: CALLBACK_ALLOWED_HOSTS lists no "
                                          "host")
    return CallbackOutlets(send, queues.requeue, queues.dead_letter)


_lock = threading.Lock()
_container: Container | None = None
_failure: BrokerError | None = None
_factory: Callable[[], Container] = lambda: build_container(os.environ)  # noqa: E731
_clock: Clock = utc_now


def clock() -> datetime:
    """The process clock, for adapters that must tell the time without a container (its settings failed to load)."""
    return _clock()


def get_container() -> Container:
    """The process-wide container; a configuration failure is remembered (settings do not change in a process)."""
    global _container, _failure
    with _lock:
        if _container is None and _failure is None:
            try:
                _container = _factory()
            except BrokerError as error:
                if not error.retryable or error.code == "configuration_error":
                    _failure = error
                raise
        if _failure is not None:
            raise _failure
        assert _container is not None
    return _container


def use(factory: Callable[[], Container], *, clock: Clock = utc_now) -> None:
    """Replace how the container is built, and the process clock (tests and the local host); forgets any built one."""
    global _container, _failure, _factory, _clock
    with _lock:
        _factory, _container, _failure, _clock = factory, None, None, clock
