"""The code's own Table and Queue clients, built from the same settings the Functions host uses for its bindings.

A connection string (``AzureWebJobsStorage``) locally; in Azure the identity-based form: ``__tableServiceUri`` /
``__queueServiceUri`` with a managed identity (``__clientId`` names a user-assigned one, else system-assigned):
https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from azure.core.credentials import TokenCredential
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ServiceRequestError, ServiceResponseError
from azure.data.tables import TableClient, TableServiceClient

from shared.domain.errors import ConfigurationError, StorageUnavailable
from shared.adapters.network import Network
from shared.config.settings import StorageSettings

if TYPE_CHECKING:  # imported when first used: a request that needs no queue client or identity does not pay for them
    from azure.storage.queue import QueueClient

# The SDKs retry 10 times (tables) with exponential backoff and wait minutes for a socket by default. Our callers
# (an HTTP request, a queue message the host retries anyway) are better served by failing fast with
# StorageUnavailable than by a request that hangs until the front end cuts it off.
# https://learn.microsoft.com/azure/developer/python/sdk/fundamentals/http-pipeline-retries
# https://learn.microsoft.com/azure/developer/python/sdk/azure-sdk-library-usage-patterns#optional-arguments-for-client-objects-and-methods
CLIENT_OPTIONS: dict[str, Any] = {
    "retry_total": 2,
    "connection_timeout": 5,
    "read_timeout": 20,
}
# The queue SDK's ExponentialRetry waits 15 s (+/- 3) and more between attempts; here about 2 s, then about 2.75 s
# (initial_backoff + increment_base ** retry number, +/- the jitter), like the tables SDK's 0 s then 1.6 s.
QUEUE_RETRY_OPTIONS: dict[str, Any] = {"initial_backoff": 0.5, "increment_base": 1.5, "random_jitter_range": 0.5}

CredentialFactory = Callable[..., TokenCredential]


def _managed_identity(storage: StorageSettings, credential_factory: CredentialFactory | None) -> TokenCredential:
    if credential_factory is None:  # imported here: only identity-based storage needs it
        from azure.identity import ManagedIdentityCredential

        return ManagedIdentityCredential(client_id=storage.client_id)  # None: the system-assigned identity
    return credential_factory(client_id=storage.client_id)


def _options(network: Network | None, options: dict[str, Any]) -> dict[str, Any]:
    """The SDK options, with a transport that never re-reads the environment when the network is known."""
    if network is None:
        return options
    timeouts = {name: options.pop(name) for name in ("connection_timeout", "read_timeout") if name in options}
    return {**options, **network.azure_options(**timeouts)}


def table_client(
    storage: StorageSettings,
    table_name: str,
    *,
    credential_factory: CredentialFactory | None = None,
    network: Network | None = None,
    **options: Any,
) -> TableClient:
    """A TableClient for ``table_name``; ``options`` override the SDK settings above (tests)."""
    options = _options(network, {**CLIENT_OPTIONS, **options})
    if storage.connection_string:
        service = TableServiceClient.from_connection_string(storage.connection_string, **options)
    elif storage.table_service_uri:
        service = TableServiceClient(
            endpoint=storage.table_service_uri, credential=_managed_identity(storage, credential_factory), **options
        )
    else:
        raise ConfigurationError(["storage is not configured: set AzureWebJobsStorage or AzureWebJobsStorage__tableServiceUri"])
    return service.get_table_client(table_name)


def queue_client(
    storage: StorageSettings,
    queue_name: str,
    *,
    base64: bool,
    credential_factory: CredentialFactory | None = None,
    network: Network | None = None,
    **options: Any,
) -> QueueClient:
    """A QueueClient for ``queue_name``. ``base64`` must match host.json ``messageEncoding``: the queue trigger sends a
    message it cannot base64-decode straight to the poison queue."""
    from azure.storage.queue import QueueServiceClient, TextBase64DecodePolicy, TextBase64EncodePolicy

    options = _options(network, {**CLIENT_OPTIONS, **QUEUE_RETRY_OPTIONS, **options})
    # The service client's get_queue_client drops encoding options given to the service: pass them to the queue.
    encoding = (
        {"message_encode_policy": TextBase64EncodePolicy(), "message_decode_policy": TextBase64DecodePolicy()}
        if base64 else {}
    )
    if storage.connection_string:
        service = QueueServiceClient.from_connection_string(storage.connection_string, **options)
    elif storage.queue_service_uri:
        service = QueueServiceClient(
            account_url=storage.queue_service_uri, credential=_managed_identity(storage, credential_factory), **options
        )
    else:
        raise ConfigurationError(["storage is not configured: set AzureWebJobsStorage or AzureWebJobsStorage__queueServiceUri"])
    return service.get_queue_client(queue_name, **encoding)


def ensure_queue(client: QueueClient) -> None:
    """Create the queue if it is missing; fine when it exists."""
    try:
        client.create_queue()
    except ResourceExistsError:
        pass  # 409 QueueAlreadyExists: created by another instance, the host or the deployment.
    except HttpResponseError as exc:
        raise StorageUnavailable(
            f"Queue Storage create queue {client.queue_name!r} failed: HTTP {exc.status_code}"
            + (f" {getattr(code, 'value', code)}" if (code := getattr(exc, "error_code", None)) else "")
        ) from exc
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise StorageUnavailable(
            f"Queue Storage create queue {client.queue_name!r} failed: the service could not be reached "
            f"({type(exc).__name__})"
        ) from exc
