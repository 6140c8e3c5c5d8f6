"""The environment is read once: proxies per host (NO_PROXY honoured) and the CA bundle, then never again."""
from __future__ import annotations

import requests

from azure.core.credentials import AccessToken

from shared.adapters.network import Network
from shared.adapters.storage import table_client
from shared.adapters.transport import Urllib3Transport
from shared.config.settings import StorageSettings

ENVIRON = {"HTTPS_PROXY": "http://proxy.corp.example:3128", "NO_PROXY": "graph.microsoft.com,.internal.example",
           "REQUESTS_CA_BUNDLE": "/etc/ssl/corp-ca.pem"}
HOSTS = ["https://login.microsoftonline.com", "https://graph.microsoft.com",
         "https://st1.table.core.windows.net/", "https://vault.internal.example"]


def test_each_host_gets_the_proxy_the_environment_names_for_it(monkeypatch):
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    network = Network.from_environment(ENVIRON, HOSTS)
    assert network.proxies == {"https://login.microsoftonline.com": "http://proxy.corp.example:3128",
                               "https://st1.table.core.windows.net": "http://proxy.corp.example:3128"}
    assert network.verify == "/etc/ssl/corp-ca.pem"


def test_the_session_never_consults_the_environment_again(monkeypatch):
    network = Network("/tmp/ca.pem", {"https://login.microsoftonline.com": "http://proxy:3128"})
    session = network.session()
    monkeypatch.setenv("HTTPS_PROXY", "http://changed:1")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/changed.pem")
    prepared = session.prepare_request(requests.Request("GET", "https://graph.microsoft.com/v1.0/me"))
    settings = session.merge_environment_settings(prepared.url, {}, None, None, None)
    assert session.trust_env is False
    assert settings["verify"] == "/tmp/ca.pem" and settings["proxies"] == dict(network.proxies)
    selected = requests.utils.select_proxy("https://graph.microsoft.com/v1.0/me", session.proxies)
    assert selected is None, "a host without a proxy of its own goes direct"
    assert requests.utils.select_proxy("https://login.microsoftonline.com/x", session.proxies) == "http://proxy:3128"


def test_without_a_bundle_the_default_trust_store_is_used_never_no_verification():
    assert Network.from_environment({}, HOSTS).verify is True


def test_the_storage_sdks_get_a_transport_that_ignores_the_environment():
    network = Network("/tmp/ca.pem", {"https://st1.table.core.windows.net": "http://proxy:3128"})
    client = table_client(StorageSettings(table_service_uri="https://st1.table.core.windows.net/"), "meetings",
                          credential_factory=lambda client_id: StaticToken(), network=network)
    transport = client._client._client._pipeline._transport._transport  # the tables SDK wraps the one it was given
    assert isinstance(transport, Urllib3Transport)  # it has no way to read the environment (test_transport_wire)
    assert transport.ca_bundle == "/tmp/ca.pem" and transport.proxies == network.proxies
    assert transport.read_timeout == 20 and transport.connection_timeout == 5


def test_without_a_bundle_the_storage_transport_trusts_what_requests_trusts_by_default():
    assert Network().ca_bundle == requests.certs.where()
    assert Network.from_environment({"CURL_CA_BUNDLE": "/etc/ssl/curl.pem"}, HOSTS).ca_bundle == "/etc/ssl/curl.pem"


class StaticToken:
    def get_token(self, *scopes, **kwargs):
        return AccessToken("not-a-token", 2_000_000_000)
