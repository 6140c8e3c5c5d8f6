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
from datetime import datetime, timedelta, timezone
from typing import Callable, Mapping

import requests
from azure.core.exceptions import AzureError
from requests.adapters import HTTPAdapter

from .credentials import MsalTokenProvider
from .errors import BrokerError, StorageUnavailable
from .graph import GraphClient, RetryPolicy, TokenProvider
from .repository import MeetingRepository, TableMeetingRepository
from .services import MeetingService
from .settings import Settings, load_settings
from .storage import queue_client, table_client

log = logging.getLogger(__name__)


@dataclass
class Container:
    settings: Settings
    repository: MeetingRepository
    service: MeetingService
    requeue: Callable[[str, timedelta], None]
    _ready: bool = False

    def ready(self) -> "Container":
        """Create the table on first use (local runs); in Azure the template has created it already."""
        if not self._ready:
            self.repository.ensure_ready()
            self._ready = True
        return self


def utc_clock() -> datetime:
    return datetime.now(timezone.utc)


def http_session() -> requests.Session:
    """One pooled session per process. TLS trust comes from the system store or REQUESTS_CA_BUNDLE; never disabled."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)  # retries are GraphClient's job
    session.mount("https://", adapter)
    return session


def build_container(env: Mapping[str, str], *, repository: MeetingRepository | None = None,
                    session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep,
                    clock: Callable[[], datetime] = utc_clock, retry_policy: RetryPolicy = RetryPolicy(),
                    tokens: TokenProvider | None = None, graph: GraphClient | None = None,
                    requeue: Callable[[str, timedelta], None] | None = None) -> Container:
    settings = load_settings(env)
    session = session or http_session()
    token_provider = tokens or MsalTokenProvider(settings, http_client=session)
    repository = repository or TableMeetingRepository(table_client(settings.storage, settings.meetings_table))
    graph = graph or GraphClient(
        session, token_provider, base_url=settings.graph_base_url, api_version=settings.api_version,
        app_id=settings.client_id or settings.managed_identity_client_id, policy=retry_policy, sleep=sleep,
        clock=lambda: clock().timestamp(),
    )
    service = MeetingService(settings, repository, graph, clock)
    log.info("meeting broker configured: cloud=%s credential=%s api=%s tenants=%d", settings.cloud.name,
             settings.credential_mode, settings.api_version, len(settings.allowed_tenants))
    return Container(settings, repository, service, requeue or _intake_requeue(settings))


# host.json "messageEncoding": what the code itself enqueues must be written the way the trigger reads it.
MESSAGE_ENCODING = "none"


def _intake_requeue(settings: Settings) -> Callable[[str, timedelta], None]:
    """Send a message to the intake queue that becomes visible after a delay (output bindings cannot delay)."""
    client = queue_client(settings.storage, settings.requests_queue, base64=MESSAGE_ENCODING == "base64")

    def requeue(message: str, delay: timedelta) -> None:
        try:
            client.send_message(message, visibility_timeout=max(1, int(delay.total_seconds())))
        except AzureError as exc:
            raise StorageUnavailable(f"could not re-queue the request ({type(exc).__name__})") from None

    return requeue


_lock = threading.Lock()
_container: Container | None = None
_failure: BrokerError | None = None
_factory: Callable[[], Container] = lambda: build_container(os.environ)  # noqa: E731


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
    return _container.ready()


def use(factory: Callable[[], Container]) -> None:
    """Replace how the container is built (tests and the local host); forgets any built one."""
    global _container, _failure, _factory
    with _lock:
        _factory, _container, _failure = factory, None, None
